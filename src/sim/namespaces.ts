import { ApiError, conflict, forbidden } from './api-error.js';
import { validatePodSecurityLabels } from './pod-security-admission.js';
import { namespaceColumns } from './printers.js';
import type { ResourceStrategy } from './strategy.js';
import { validateDns1123Label } from './validation.js';

/** Namespaces the NamespaceLifecycle admission plugin never lets go. */
const immortalNamespaces = new Set(['default', 'kube-system', 'kube-public']);

/** core/v1 Namespaces: cluster-scoped; phase Active until deleted, then Terminating. */
export const namespaceStrategy: ResourceStrategy = {
  info: {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
  },
  selectableFieldKeys: ['status.phase'],
  selectableFields: (obj) => ({ 'status.phase': String(obj.status?.phase ?? '') }),
  prepareForCreate(obj) {
    obj.spec = { finalizers: ['kubernetes'], ...(obj.spec ?? {}) };
    obj.status = { phase: 'Active' };
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
  },
  validateCreate: (obj) => [
    ...validateDns1123Label(obj.metadata.name, 'metadata.name'),
    ...validatePodSecurityLabels(obj),
  ],
  // The PodSecurity admission plugin's check of the labels (it runs on every namespace write).
  validateUpdate: (obj, old) => validatePodSecurityLabels(obj, old),
  prepareForUpdate(obj, old) {
    obj.status = old.status;
  },
  prepareForStatusUpdate(obj, old) {
    obj.spec = old.spec;
  },
  defaultPropagation: 'Background',
  // The namespace registry's Delete (plus the NamespaceLifecycle admission plugin's guard):
  // the first delete starts termination, the namespace controller finalizes it.
  holdDeletion(obj, now) {
    const name = obj.metadata.name;
    if (immortalNamespaces.has(name))
      throw forbidden(
        `namespaces "${name}" is forbidden: this namespace may not be deleted`,
        namespaceStrategy.info,
        name,
      );
    const finalizers: unknown = obj.spec?.finalizers;
    if (!Array.isArray(finalizers) || finalizers.length === 0) return false;
    if (obj.metadata.deletionTimestamp) {
      const message = `Operation cannot be fulfilled on namespaces "${name}": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.`;
      throw new ApiError(409, 'Conflict', message, conflict(namespaceStrategy.info, name).details);
    }
    obj.metadata.deletionTimestamp = now;
    obj.status = { ...(obj.status ?? {}), phase: 'Terminating' };
    return true;
  },
  tableColumns: namespaceColumns,
};
