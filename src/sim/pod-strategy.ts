import { podQosClass } from './pod-resources.js';
import { admitPod, defaultPod, validatePod, validatePodUpdate } from './pod-rules.js';
import { podColumns } from './printers.js';
import type { ResourceStrategy } from './strategy.js';

/** core/v1 Pods: graceful deletion, selectable fields, status only through /status. */
export const podStrategy: ResourceStrategy = {
  info: {
    group: '',
    version: 'v1',
    resource: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [
      { name: 'log', verbs: ['get'] },
      { name: 'status', verbs: ['get', 'patch', 'update'] },
    ],
  },
  selectableFieldKeys: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  selectableFields: (obj) => ({
    'spec.nodeName': String(obj.spec?.nodeName ?? ''),
    'spec.restartPolicy': String(obj.spec?.restartPolicy ?? ''),
    'spec.schedulerName': String(obj.spec?.schedulerName ?? ''),
    'spec.serviceAccountName': String(obj.spec?.serviceAccountName ?? ''),
    'spec.hostNetwork': String(obj.spec?.hostNetwork ?? false),
    'status.phase': String(obj.status?.phase ?? ''),
    'status.podIP': String(obj.status?.podIP ?? ''),
    'status.nominatedNodeName': String(obj.status?.nominatedNodeName ?? ''),
  }),
  prepareForCreate(obj) {
    defaultPod(obj);
    admitPod(obj);
    // Pods carry no metadata.generation before PodObservedGenerationTracking (1.33).
    delete obj.metadata.generation;
    // The API server computes the QoS class once, on create (podStrategy.PrepareForCreate).
    obj.status = { phase: 'Pending', qosClass: podQosClass(obj) };
  },
  validateCreate: (obj) => validatePod(obj),
  prepareForUpdate(obj, old) {
    defaultPod(obj);
    obj.status = old.status;
  },
  validateUpdate: (obj, old) => validatePodUpdate(obj, old),
  prepareForStatusUpdate(obj, old) {
    // podStatusStrategy's reset fields: the spec, and owner references (old kubelets corrupted them).
    obj.spec = old.spec;
    obj.metadata.ownerReferences = old.metadata.ownerReferences;
  },
  defaultPropagation: 'Background',
  // podStrategy.CheckGracefulDelete: the requested period, else the pod's; immediate when the pod
  // never reached a node or already finished; a negative period means 1 s.
  deleteGracePeriodSeconds(obj, requested) {
    if (!obj.spec?.nodeName) return 0;
    if (obj.status?.phase === 'Succeeded' || obj.status?.phase === 'Failed') return 0;
    const period = requested ?? obj.spec?.terminationGracePeriodSeconds ?? 0;
    return period < 0 ? 1 : period;
  },
  returnDeletedObject: true,
  tableColumns: podColumns,
};
