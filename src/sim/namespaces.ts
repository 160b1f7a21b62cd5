import type { ResourceStrategy } from './strategy.js';
import { validateDns1123Label } from './validation.js';

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
  validateCreate: (obj) => validateDns1123Label(obj.metadata.name, 'metadata.name'),
  prepareForUpdate(obj, old) {
    obj.status = old.status;
  },
  prepareForStatusUpdate(obj, old) {
    obj.spec = old.spec;
  },
  defaultPropagation: 'Background',
};
