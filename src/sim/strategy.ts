import type { FieldError } from './api-error.js';
import type { SimClock } from './clock.js';
import type { ObjectStore } from './object-store.js';
import { matchesFields, type FieldRequirement } from './selectors.js';
import type { KubeObject, ResourceInfo } from './types.js';

/** What a resource's rules may read while they run. */
export interface StrategyContext {
  store: ObjectStore;
  clock: SimClock;
}

/** A `meta.k8s.io/v1 Table` column and how to fill it. */
export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'date';
  format?: string;
  description: string;
  /** 0 = always shown, 1 = only with `-o wide`. */
  priority: 0 | 1;
  cell: (obj: KubeObject, now: number) => string | number;
}

/**
 * The per-resource rules of the API server (apiserver `rest.RESTCreateStrategy` & co.): defaults,
 * validation, what an update may change, selectable fields, graceful deletion, printing.
 */
export interface ResourceStrategy {
  info: ResourceInfo;
  /** Field selector keys this resource supports, beyond `metadata.name`/`metadata.namespace`. */
  selectableFieldKeys: readonly string[];
  /** The values of `selectableFieldKeys` for one object. */
  selectableFields(obj: KubeObject): Record<string, string>;
  /**
   * Selectable fields the store indexes, each with its value (the same as `selectableFields`
   * gives): a LIST whose field selector requires one of them to equal a value reads only the
   * objects with that value, as the apiserver's cacher does with its `IndexerFuncs`, instead of
   * every object of the resource.
   */
  fieldIndexes?: Readonly<Record<string, (obj: KubeObject) => string>>;
  /** Defaults and server-set fields on create (runs before validation). */
  prepareForCreate?(obj: KubeObject, ctx: StrategyContext): void;
  validateCreate?(obj: KubeObject, ctx: StrategyContext): FieldError[];
  /** On a main-resource update: e.g. keep `status`, bump `generation` on spec changes. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): void;
  validateUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): FieldError[];
  /** On a `/status` update: keep everything but `status`. */
  prepareForStatusUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): void;
  /** A PUT to a missing name creates the object (201), as `AllowCreateOnUpdate` (Leases). @default false */
  allowCreateOnUpdate?: boolean;
  /**
   * Whether a PUT without `metadata.resourceVersion` overwrites whatever is stored
   * (`AllowUnconditionalUpdate`); false answers it with 422. @default true
   */
  allowUnconditionalUpdate?: boolean;
  /** Garbage-collection policy when a delete names none (`Orphan` for batch/v1 Jobs). */
  defaultPropagation: 'Orphan' | 'Background';
  /** Warning header sent when a delete relies on an Orphan default. */
  orphanDefaultWarning?: string;
  /** Pods: the grace period for a delete request (undefined = delete without grace). */
  deleteGracePeriodSeconds?(obj: KubeObject, requested: number | undefined): number | undefined;
  /** Pods answer a delete with the object itself, not a Status. */
  returnDeletedObject?: boolean;
  /**
   * Namespaces: a delete marks the object (deletionTimestamp, phase Terminating) and returns
   * true while `spec.finalizers` must still run, so it is kept for its controller to finalize.
   * May throw (a namespace that must not be deleted; one already terminating).
   */
  holdDeletion?(obj: KubeObject, now: string): boolean;
  /** Server-side printing for `kubectl get` (Table). */
  tableColumns?: TableColumn[];
}

/**
 * The selectable fields of stored objects, computed once per object: a stored object is frozen and
 * replaced (never changed) by a write, and a field-selected LIST of a field not indexed
 * (`fieldIndexes`) reads every object of its namespace.
 */
const storedFieldSets = new WeakMap<KubeObject, Readonly<Record<string, string>>>();

/**
 * Whether `obj` meets a field selector (of a LIST or a watch). An empty selector meets every
 * object without computing its fields.
 */
export function matchesFieldSelector(
  strategy: ResourceStrategy,
  selector: FieldRequirement[],
  obj: KubeObject,
): boolean {
  return selector.length === 0 || matchesFields(selector, fieldSet(strategy, obj));
}

/** `metadata.name` and `metadata.namespace` plus the strategy's own selectable fields. */
function fieldSet(strategy: ResourceStrategy, obj: KubeObject): Readonly<Record<string, string>> {
  const known = storedFieldSets.get(obj);
  if (known) return known;
  const fields = Object.freeze({
    'metadata.name': obj.metadata.name,
    'metadata.namespace': obj.metadata.namespace ?? '',
    ...strategy.selectableFields(obj),
  });
  if (Object.isFrozen(obj)) storedFieldSets.set(obj, fields);
  return fields;
}

export function supportedFieldKeys(strategy: ResourceStrategy): string[] {
  return ['metadata.name', 'metadata.namespace', ...strategy.selectableFieldKeys];
}
