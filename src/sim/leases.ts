import { badRequest, type FieldError } from './api-error.js';
import { modelDocs } from './model-schema.js';
import type { ResourceStrategy } from './strategy.js';
import { ageColumn, nameColumn } from './table.js';
import type { KubeObject } from './types.js';
import { validateDns1123Subdomain, validateLabels } from './validation.js';

/*
 * coordination.k8s.io/v1 Leases, as kubernetes `pkg/registry/coordination/lease/strategy.go` and
 * `pkg/apis/coordination/validation` (1.31) serve them: what leader election (client-go's
 * `resourcelock.LeaseLock`) reads and writes with optimistic concurrency on `resourceVersion`.
 */

/** MicroTime's wire layout (`metav1.RFC3339Micro`), parsed by Go with exactly six fractional digits. */
const microTimeLayout = '2006-01-02T15:04:05.000000Z07:00';
const microTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Decoding a MicroTime (`metav1.MicroTime.UnmarshalJSON`): anything but RFC3339 with six
 * fractional digits fails before validation, as a 400 naming the value and the layout. A
 * JavaScript `Date#toISOString()` (three digits) is refused here exactly as the apiserver does.
 */
function decodeMicroTime(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw badRequest(
      `Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal ${typeof value} into Go value of type string`,
    );
  }
  if (microTimePattern.test(value)) return utcMicroTime(value);
  // Go's time.Parse reports the rest of the value from the first element it could not match;
  // for the usual mistake (too few or no fractional digits) that is what follows the seconds.
  const rest = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(value) ? value.slice(19) : value;
  const element = rest === value ? '2006' : '.000000';
  throw badRequest(
    `Lease in version "v1" cannot be handled as a Lease: parsing time "${value}" as "${microTimeLayout}": cannot parse "${rest}" as "${element}"`,
  );
}

/** MicroTime's MarshalJSON writes UTC (`Z`): an offset the client sent is folded in, the microseconds kept. */
function utcMicroTime(value: string): string {
  if (value.endsWith('Z')) return value;
  const seconds = Date.parse(`${value.slice(0, 19)}${value.slice(26)}`);
  return `${new Date(seconds).toISOString().slice(0, 19)}${value.slice(19, 26)}Z`;
}

/**
 * PrepareForCreate / PrepareForUpdate: MicroTimes decode, and the alpha fields of coordinated
 * leader election (`strategy`, `preferredHolder`) are dropped, as with their feature gate off
 * (its 1.31 default). A Lease has no status and no generation. MicroTimes are stored in UTC.
 */
function prepareLease(obj: KubeObject): void {
  delete obj.metadata.generation;
  delete obj.status;
  if (obj.spec === undefined || obj.spec === null) obj.spec = {};
  if (typeof obj.spec !== 'object' || Array.isArray(obj.spec)) {
    throw badRequest(
      'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal into Go struct field Lease.spec of type v1.LeaseSpec',
    );
  }
  for (const field of ['acquireTime', 'renewTime'] as const) {
    const time = decodeMicroTime(obj.spec[field]);
    if (time !== undefined) obj.spec[field] = time;
  }
  delete obj.spec.strategy;
  delete obj.spec.preferredHolder;
}

/** `ValidateLeaseSpec` (1.31): a positive duration, a non-negative transition count. */
export function validateLeaseSpec(spec: KubeObject['spec']): FieldError[] {
  const errors: FieldError[] = [];
  const duration = spec?.leaseDurationSeconds;
  if (typeof duration === 'number' && duration <= 0)
    errors.push({
      field: 'spec.leaseDurationSeconds',
      type: 'FieldValueInvalid',
      value: duration,
      detail: 'must be greater than 0',
    });
  const transitions = spec?.leaseTransitions;
  if (typeof transitions === 'number' && transitions < 0)
    errors.push({
      field: 'spec.leaseTransitions',
      type: 'FieldValueInvalid',
      value: transitions,
      detail: 'must be greater than or equal to 0',
    });
  return errors;
}

function validateLease(obj: KubeObject): FieldError[] {
  return [
    ...validateDns1123Subdomain(obj.metadata.name, 'metadata.name'),
    ...validateLabels(obj.metadata.labels, 'metadata.labels'),
    ...validateLeaseSpec(obj.spec),
  ];
}

/** printers.go `printLease`: NAME, HOLDER (empty when released or unset), AGE. */
const holderColumn = {
  name: 'Holder',
  type: 'string',
  description: modelDocs('V1LeaseSpec')?.fields.get('holderIdentity')?.description ?? '',
  priority: 0,
  cell: (obj: KubeObject) => (typeof obj.spec?.holderIdentity === 'string' ? obj.spec.holderIdentity : ''),
} as const;

/**
 * coordination.k8s.io/v1 Leases: namespaced; a PUT to a missing name creates it
 * (`AllowCreateOnUpdate`), a PUT must carry a `resourceVersion` (`AllowUnconditionalUpdate`
 * false), and a stale one is a 409 Conflict.
 */
export const leaseStrategy: ResourceStrategy = {
  info: {
    group: 'coordination.k8s.io',
    version: 'v1',
    resource: 'leases',
    singular: 'lease',
    kind: 'Lease',
    namespaced: true,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  },
  selectableFieldKeys: [],
  selectableFields: () => ({}),
  prepareForCreate: (obj) => prepareLease(obj),
  validateCreate: (obj) => validateLease(obj),
  prepareForUpdate: (obj) => prepareLease(obj),
  validateUpdate: (obj) => validateLease(obj),
  allowCreateOnUpdate: true,
  allowUnconditionalUpdate: false,
  defaultPropagation: 'Background',
  tableColumns: [nameColumn, holderColumn, ageColumn],
};
