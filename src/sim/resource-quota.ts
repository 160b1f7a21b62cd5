import { badRequest, type FieldError } from './api-error.js';
import { formatQuantity, toQuantity } from './quota-quantity.js';
import type { ResourceStrategy, TableColumn } from './strategy.js';
import { ageColumn, nameColumn } from './table.js';
import type { KubeObject } from './types.js';
import { validateDns1123Subdomain, validateLabels } from './validation.js';

/*
 * core/v1 ResourceQuotas as kubernetes `pkg/registry/core/resourcequota/strategy.go` serves them:
 * `spec.hard` is the user's, `status` (`hard`, `used`) only the quota controller's and admission's,
 * written through `/status`. What quota admission charges lives in quota-admission.ts, the
 * recomputation in quota-controller.ts. Scopes (`spec.scopes`, `spec.scopeSelector`) are stored
 * but not simulated: every quota covers its whole namespace.
 */

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Quantities decode before validation: a bad one is a 400 naming Quantity's pattern, as the apiserver answers. */
export function decodeQuantities(kind: string, list: unknown): Record<string, string> | undefined {
  if (list === undefined || list === null) return undefined;
  if (!isRecord(list))
    throw badRequest(
      `${kind} in version "v1" cannot be handled as a ${kind}: json: cannot unmarshal into a ResourceList`,
    );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(list)) {
    const q = toQuantity(value);
    if (!q)
      throw badRequest(
        `${kind} in version "v1" cannot be handled as a ${kind}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      );
    // Quantities are re-encoded canonically (`1024Mi` is served as `1Gi`).
    out[name] = formatQuantity(q);
  }
  return out;
}

function prepareQuota(obj: KubeObject): void {
  // The generic registry sets no generation for this kind.
  delete obj.metadata.generation;
  if (!isRecord(obj.spec)) obj.spec = {};
  const hard = decodeQuantities('ResourceQuota', obj.spec.hard);
  if (hard) obj.spec.hard = hard;
}

function validateQuota(obj: KubeObject): FieldError[] {
  return [
    ...validateDns1123Subdomain(obj.metadata.name, 'metadata.name'),
    ...validateLabels(obj.metadata.labels, 'metadata.labels'),
  ];
}

/** printers.go `printResourceQuota`: `name: used/hard` pairs, `limits.*` in LIMIT, the rest in REQUEST. */
function quotaCell(obj: KubeObject, limits: boolean): string {
  const hard = (obj.status?.hard ?? {}) as Record<string, string>;
  const used = (obj.status?.used ?? {}) as Record<string, string>;
  return Object.keys(hard)
    .sort()
    .filter((name) => name.startsWith('limits.') === limits)
    .map((name) => `${name}: ${used[name] ?? '0'}/${hard[name]}`)
    .join(', ');
}

const quotaColumns: TableColumn[] = [
  nameColumn,
  ageColumn,
  {
    name: 'Request',
    type: 'string',
    description: 'Request represents a minimum amount of cpu/memory that a container may consume.',
    priority: 0,
    cell: (obj) => quotaCell(obj, false),
  },
  {
    name: 'Limit',
    type: 'string',
    description:
      'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.',
    priority: 0,
    cell: (obj) => quotaCell(obj, true),
  },
];

/** core/v1 ResourceQuotas (`kubectl get quota`): status only through `/status`. */
export const resourceQuotaStrategy: ResourceStrategy = {
  info: {
    group: '',
    version: 'v1',
    resource: 'resourcequotas',
    singular: 'resourcequota',
    kind: 'ResourceQuota',
    namespaced: true,
    shortNames: ['quota'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
  },
  selectableFieldKeys: [],
  selectableFields: () => ({}),
  prepareForCreate(obj) {
    prepareQuota(obj);
    // Status is the controller's: a client's is dropped (PrepareForCreate).
    obj.status = {};
  },
  validateCreate: (obj) => validateQuota(obj),
  prepareForUpdate(obj, old) {
    prepareQuota(obj);
    obj.status = old.status;
  },
  validateUpdate: (obj) => validateQuota(obj),
  prepareForStatusUpdate(obj, old) {
    obj.spec = old.spec;
    obj.metadata = { ...old.metadata, resourceVersion: obj.metadata.resourceVersion };
    if (isRecord(obj.status)) {
      for (const field of ['hard', 'used'] as const) {
        const list = decodeQuantities('ResourceQuota', obj.status[field]);
        if (list) obj.status[field] = list;
      }
    }
  },
  defaultPropagation: 'Background',
  tableColumns: quotaColumns,
};
