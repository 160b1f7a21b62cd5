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
    obj.status = { phase: 'Pending', qosClass: 'BestEffort' };
  },
  prepareForUpdate(obj, old) {
    obj.status = old.status;
  },
  prepareForStatusUpdate(obj, old) {
    obj.spec = old.spec;
  },
  defaultPropagation: 'Background',
  // Pods are deleted gracefully unless unscheduled or already finished (pod strategy CheckGracefulDelete).
  deleteGracePeriodSeconds(obj, requested) {
    if (!obj.spec?.nodeName) return 0;
    if (obj.status?.phase === 'Succeeded' || obj.status?.phase === 'Failed') return 0;
    return requested ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
  },
  returnDeletedObject: true,
};
