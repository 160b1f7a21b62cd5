import type { ResourceStrategy } from './strategy.js';

/**
 * batch/v1 Jobs: defaults (SetDefaults_Job), generated selector and pod-template labels,
 * validation (ValidateJob), status only through /status, Orphan as the default GC policy.
 * (Defaults and validation: see TODOs, filled in by the job-controller work.)
 */
export const jobStrategy: ResourceStrategy = {
  info: {
    group: 'batch',
    version: 'v1',
    resource: 'jobs',
    singular: 'job',
    kind: 'Job',
    namespaced: true,
    categories: ['all'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
  },
  selectableFieldKeys: ['status.successful'],
  selectableFields: (obj) => ({ 'status.successful': String(obj.status?.succeeded ?? 0) }),
  prepareForCreate(obj) {
    obj.status = {};
  },
  prepareForUpdate(obj, old) {
    obj.status = old.status;
  },
  prepareForStatusUpdate(obj, old) {
    obj.spec = old.spec;
    obj.metadata = { ...old.metadata, resourceVersion: obj.metadata.resourceVersion };
  },
  defaultPropagation: 'Orphan',
  orphanDefaultWarning:
    'child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning',
};
