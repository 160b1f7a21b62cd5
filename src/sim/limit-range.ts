import { forbidden, type FieldError } from './api-error.js';
import type { SimContext } from './context.js';
import { podQosClass } from './pod-resources.js';
import { formatQuantity, readList, toQuantity, type QuantityList } from './quota-quantity.js';
import { decodeQuantities } from './resource-quota.js';
import type { ResourceStrategy, TableColumn } from './strategy.js';
import { ageColumn, nameColumn } from './table.js';
import type { KubeObject } from './types.js';
import { validateDns1123Subdomain, validateLabels } from './validation.js';

/*
 * core/v1 LimitRanges and the LimitRanger admission plugin (kubernetes
 * `plugin/pkg/admission/limitranger/admission.go`) for pods: on create, `type: Container` items
 * fill missing limits from `default` and missing requests from `defaultRequest` (mutating, before
 * validation), then every item's `min`/`max` is checked per container and init container (403
 * Forbidden). `maxLimitRequestRatio` and `type: Pod`/`PersistentVolumeClaim` items are stored
 * and validated but not enforced.
 */

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const limitFields = ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio'] as const;
const limitTypes = ['Container', 'PersistentVolumeClaim', 'Pod'];

interface LimitItem {
  type?: string;
  max?: Record<string, string>;
  min?: Record<string, string>;
  default?: Record<string, string>;
  defaultRequest?: Record<string, string>;
  maxLimitRequestRatio?: Record<string, string>;
}

function itemsOf(obj: KubeObject): LimitItem[] {
  const limits = obj.spec?.limits;
  return Array.isArray(limits) ? limits.filter(isRecord) : [];
}

/** `SetDefaults_LimitRangeItem`: a Container item's `default` ← `max`; `defaultRequest` ← `default`, else `min`. */
function defaultItem(item: LimitItem): void {
  for (const field of limitFields) {
    const list = decodeQuantities('LimitRange', item[field]);
    if (list) item[field] = list;
  }
  if (item.type !== 'Container') return;
  const defaults = { ...(item.max ?? {}), ...(item.default ?? {}) };
  const defaultRequest = { ...(item.min ?? {}), ...defaults, ...(item.defaultRequest ?? {}) };
  if (Object.keys(defaults).length > 0) item.default = defaults;
  if (Object.keys(defaultRequest).length > 0) item.defaultRequest = defaultRequest;
}

function prepareLimitRange(obj: KubeObject): void {
  // The generic registry sets no generation for this kind.
  delete obj.metadata.generation;
  if (!isRecord(obj.spec)) obj.spec = {};
  for (const item of itemsOf(obj)) defaultItem(item);
}

/** `ValidateLimitRange`: known, unique types; min ≤ defaultRequest ≤ default ≤ max, resource by resource. */
function validateLimitRange(obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [
    ...validateDns1123Subdomain(obj.metadata.name, 'metadata.name'),
    ...validateLabels(obj.metadata.labels, 'metadata.labels'),
  ];
  const seen = new Set<string>();
  itemsOf(obj).forEach((item, i) => {
    const path = `spec.limits[${i}]`;
    const type = String(item.type ?? '');
    if (!limitTypes.includes(type))
      errors.push({
        field: `${path}.type`,
        type: 'FieldValueNotSupported',
        value: type,
        detail: `supported values: ${limitTypes.map((t) => `"${t}"`).join(', ')}`,
      });
    else if (seen.has(type))
      errors.push({ field: `${path}.type`, type: 'FieldValueDuplicate', value: type, detail: '' });
    seen.add(type);
    if (type === 'Pod')
      for (const field of ['default', 'defaultRequest'] as const)
        if (item[field] && Object.keys(item[field]).length > 0)
          errors.push({
            field: `${path}.${field}`,
            type: 'FieldValueForbidden',
            detail: "may not be specified when `type` is 'Pod'",
          });
    const [min, max, def, req] = [item.min, item.max, item.default, item.defaultRequest].map(readList) as [
      QuantityList,
      QuantityList,
      QuantityList,
      QuantityList,
    ];
    const bad = (field: string, key: string, value: string, detail: string): void => {
      errors.push({ field: `${path}.${field}[${key}]`, type: 'FieldValueInvalid', value, detail });
    };
    const s = formatQuantity;
    for (const key of Object.keys(min).sort()) {
      if (max[key] && min[key]!.milli > max[key].milli)
        bad('min', key, s(min[key]!), `min value ${s(min[key]!)} is greater than max value ${s(max[key])}`);
    }
    for (const key of Object.keys(req).sort()) {
      if (min[key] && min[key].milli > req[key]!.milli)
        bad(
          'defaultRequest',
          key,
          s(req[key]!),
          `min value ${s(min[key])} is greater than default request value ${s(req[key]!)}`,
        );
      if (max[key] && req[key]!.milli > max[key].milli)
        bad(
          'defaultRequest',
          key,
          s(req[key]!),
          `default request value ${s(req[key]!)} is greater than max value ${s(max[key])}`,
        );
      if (def[key] && req[key]!.milli > def[key].milli)
        bad(
          'defaultRequest',
          key,
          s(req[key]!),
          `default request value ${s(req[key]!)} is greater than default limit value ${s(def[key])}`,
        );
    }
    for (const key of Object.keys(def).sort()) {
      if (min[key] && min[key].milli > def[key]!.milli)
        bad('default', key, s(def[key]!), `min value ${s(min[key])} is greater than default value ${s(def[key]!)}`);
      if (max[key] && def[key]!.milli > max[key].milli)
        bad('default', key, s(def[key]!), `default value ${s(def[key]!)} is greater than max value ${s(max[key])}`);
    }
  });
  return errors;
}

/** printers.go `printLimitRange`: NAME, CREATED AT (RFC 3339, UTC). */
const createdAtColumn: TableColumn = {
  name: 'Created At',
  type: 'date',
  description: ageColumn.description,
  priority: 0,
  cell: (obj) => new Date(Date.parse(obj.metadata.creationTimestamp)).toISOString().replace(/\.\d{3}Z$/, 'Z'),
};

/** core/v1 LimitRanges (`kubectl get limits`). */
export const limitRangeStrategy: ResourceStrategy = {
  info: {
    group: '',
    version: 'v1',
    resource: 'limitranges',
    singular: 'limitrange',
    kind: 'LimitRange',
    namespaced: true,
    shortNames: ['limits'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  },
  selectableFieldKeys: [],
  selectableFields: () => ({}),
  prepareForCreate: (obj) => prepareLimitRange(obj),
  validateCreate: (obj) => validateLimitRange(obj),
  prepareForUpdate: (obj) => prepareLimitRange(obj),
  validateUpdate: (obj) => validateLimitRange(obj),
  defaultPropagation: 'Background',
  tableColumns: [nameColumn, createdAtColumn],
};

interface Container {
  name?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

function podContainers(pod: KubeObject): { container: Container; prefix: string }[] {
  const of = (field: string, prefix: string) =>
    (Array.isArray(pod.spec?.[field]) ? (pod.spec[field] as Container[]) : []).map((container) => ({
      container,
      prefix,
    }));
  return [...of('containers', 'container'), ...of('initContainers', 'init container')];
}

/** The annotation LimitRanger leaves on a pod it defaulted. */
export const limitRangerAnnotation = 'kubernetes.io/limit-ranger';

/**
 * LimitRanger's mutating half (`mergePodResourceRequirements`): each Container item's defaults
 * fill what a container leaves out, and the pod is annotated with what was set.
 */
export function applyLimitRangeDefaults(ctx: SimContext, pod: KubeObject): void {
  const ranges = ctx.store.list('limitranges', pod.metadata.namespace);
  if (ranges.length === 0) return;
  const notes: string[] = [];
  for (const range of ranges) {
    for (const item of itemsOf(range)) {
      if (item.type !== 'Container') continue;
      for (const { container, prefix } of podContainers(pod)) {
        const resources = (container.resources ??= {});
        const set = (field: 'limits' | 'requests', defaults: Record<string, string> | undefined): string[] => {
          const current = (resources[field] ??= {});
          const added = Object.keys(defaults ?? {}).filter((k) => current[k] === undefined);
          for (const k of added) current[k] = defaults![k];
          if (Object.keys(current).length === 0) delete resources[field];
          return added.sort();
        };
        const limits = set('limits', item.default);
        const requests = set('requests', item.defaultRequest);
        if (requests.length > 0) notes.push(`${requests.join(', ')} request for ${prefix} ${container.name}`);
        if (limits.length > 0) notes.push(`${limits.join(', ')} limit for ${prefix} ${container.name}`);
      }
    }
  }
  if (notes.length === 0) return;
  pod.metadata.annotations = {
    ...(pod.metadata.annotations ?? {}),
    [limitRangerAnnotation]: `LimitRanger plugin set: ${notes.join('; ')}`,
  };
  // The QoS class was computed from the pod as sent; defaults may change it.
  if (isRecord(pod.status)) pod.status['qosClass'] = podQosClass(pod);
}

function constraintErrors(
  kind: 'minimum' | 'maximum',
  resource: string,
  enforced: string,
  c: Container,
): string | undefined {
  const limit = c.resources?.limits?.[resource];
  const request = c.resources?.requests?.[resource];
  const bound = toQuantity(enforced);
  if (!bound) return undefined;
  const text = (v: unknown) => formatQuantity(toQuantity(v) ?? { milli: 0, format: 'DecimalSI' });
  const milli = (v: unknown) => toQuantity(v)?.milli ?? 0;
  const head = `${kind} ${resource} usage per Container is ${formatQuantity(bound)}`;
  if (kind === 'minimum') {
    if (request === undefined) return `${head}.  No request is specified`;
    if (milli(request) < bound.milli) return `${head}, but request is ${text(request)}`;
    if (limit !== undefined && milli(limit) < bound.milli) return `${head}, but limit is ${text(limit)}`;
    return undefined;
  }
  if (limit === undefined) return `${head}.  No limit is specified`;
  if (milli(limit) > bound.milli) return `${head}, but limit is ${text(limit)}`;
  if (request !== undefined && milli(request) > bound.milli) return `${head}, but request is ${text(request)}`;
  return undefined;
}

/**
 * LimitRanger's validating half (`PodValidateLimitFunc`, Container items): every container and
 * init container within each `min` and `max`. Throws 403 Forbidden with every violation (`[e1,
 * e2]` when several, as `utilerrors.NewAggregate` prints them).
 */
export function admitLimitRange(ctx: SimContext, strategy: ResourceStrategy, pod: KubeObject): void {
  const ranges = ctx.store.list('limitranges', pod.metadata.namespace);
  const errors: string[] = [];
  for (const range of ranges) {
    for (const item of itemsOf(range)) {
      if (item.type !== 'Container') continue;
      for (const { container } of podContainers(pod)) {
        for (const [kind, bounds] of [
          ['minimum', item.min],
          ['maximum', item.max],
        ] as const) {
          for (const resource of Object.keys(bounds ?? {}).sort()) {
            const error = constraintErrors(kind, resource, bounds![resource]!, container);
            if (error) errors.push(error);
          }
        }
      }
    }
  }
  if (errors.length === 0) return;
  const name = pod.metadata.name || pod.metadata.generateName || 'Unknown';
  const message = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  throw forbidden(`pods "${name}" is forbidden: ${message}`, strategy.info, name);
}
