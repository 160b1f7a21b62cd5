import { randomUUID } from 'node:crypto';
import type { SimClock } from './clock.js';
import type { KubeObject, StoreEvent } from './types.js';

/** Why the store refused a write; the REST layer maps these onto Status errors. */
export class StoreConflictError extends Error {
  constructor(
    readonly kind: 'AlreadyExists' | 'NotFound' | 'Conflict',
    readonly resource: string,
    readonly objectName: string,
  ) {
    super(`${kind}: ${resource} ${objectName}`);
    this.name = 'StoreConflictError';
  }
}

export type StoreListener = (event: StoreEvent) => void;

/** How a write takes its input. */
export interface WriteOptions {
  /**
   * Keep `input` (frozen) instead of a copy: for an object the caller built for this write and
   * will not edit afterwards. It may share frozen parts with stored objects (`{ ...stored,
   * status }`); only its top level and metadata are copied.
   */
  adopt?: boolean;
}

/** Options of {@link ObjectStore.update}. */
export interface UpdateOptions extends WriteOptions {
  /** Refuse with Conflict unless the stored object still has this resourceVersion. */
  expectResourceVersion?: string;
}

/** Options of {@link ObjectStore.mutate}. */
export interface MutateOptions {
  /**
   * Hand `change` a copy of the top level and metadata only, the rest the stored (frozen)
   * object's: `change` replaces fields (`obj.status = …`, `obj.metadata.finalizers = …`) and
   * never edits one in place (that throws). Saves copying the whole object for a status write.
   */
  shallow?: boolean;
}

/** A copy of `input` the store may change and keep. */
function owned(input: KubeObject, options: WriteOptions): KubeObject {
  return options.adopt ? { ...input, metadata: { ...input.metadata } } : structuredClone(input);
}

export interface ObjectStoreOptions {
  /** How many change events are kept for watches that resume from a resourceVersion. Older → 410. */
  historySize?: number;
}

/**
 * A secondary index of one resource: the keys of its objects by a value derived from each (the
 * apiserver cacher's `IndexerFuncs`), so a LIST asking for one value reads only those objects.
 */
interface FieldIndex {
  valueOf: (obj: KubeObject) => string;
  keys: Map<string, Set<string>>;
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** Freezes `value` and everything under it; frozen subtrees (shared with a former version) are skipped. */
function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  // Index and for-in loops: `Object.values` made an array per object frozen, most of the sim's garbage.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) deepFreeze(value[i]);
  } else {
    for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/**
 * Structural equality of two JSON values: what `JSON.stringify(a) === JSON.stringify(b)` decides
 * (key order included), without making the strings.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  // Key order matters to JSON.stringify, and so to `mutate`'s old "did anything change" test;
  // keys whose value is undefined are skipped, as JSON.stringify skips them.
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const ka = Object.keys(x);
  const kb = Object.keys(y);
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < ka.length && x[ka[i]!] === undefined) i++;
    while (j < kb.length && y[kb[j]!] === undefined) j++;
    if (i === ka.length || j === kb.length) return i === ka.length && j === kb.length;
    const k = ka[i]!;
    if (k !== kb[j] || !sameJson(x[k], y[k])) return false;
    i++;
    j++;
  }
}

/**
 * The objects of `entries` in `namespace` (all if undefined) that `matches` keeps, ordered by
 * namespace/name as etcd orders its keys (by code unit, as a continue token's `>` compares them
 * too). Filtered before they are sorted: a field-selected LIST of a few Events among thousands
 * sorts only the few.
 */
function sortedByKey(
  entries: Iterable<[string, KubeObject]>,
  namespace: string | undefined,
  matches: ((obj: KubeObject) => boolean) | undefined,
): KubeObject[] {
  const found: [string, KubeObject][] = [];
  for (const entry of entries) {
    const obj = entry[1];
    if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
    if (matches === undefined || matches(obj)) found.push(entry);
  }
  found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return found.map(([, obj]) => obj);
}

function indexKey(index: FieldIndex, value: string, k: string): void {
  let keys = index.keys.get(value);
  if (!keys) index.keys.set(value, (keys = new Set()));
  keys.add(k);
}

function unindexKey(index: FieldIndex, value: string, k: string): void {
  const keys = index.keys.get(value);
  keys?.delete(k);
  if (keys?.size === 0) index.keys.delete(value);
}

/**
 * The simulated etcd: every object of every resource, one global resourceVersion counter, and a
 * bounded history of changes for watches.
 *
 * Stored objects are deeply frozen and shared, never copied on the way out: {@link read},
 * {@link readAll}, what the writes return and what listeners are told are the stored objects
 * themselves, so nobody can change stored state behind the store's back (that would skip the
 * resourceVersion bump and the watch event) — a write to one throws. Copying every object on
 * every read and write was most of the simulator's CPU. {@link get} and {@link list} still hand
 * out private, mutable copies for callers that edit what they read. A write takes one copy of
 * its input (the caller keeps its object) and freezes that; a new version shares the frozen
 * subtrees it did not change with the one before.
 *
 * Apiserver rules the store enforces itself, because every writer (REST handlers and controllers)
 * must obey them: an update that leaves an object with a `deletionTimestamp` and no finalizers
 * removes it; a resourceVersion precondition that does not match is a Conflict.
 */
export class ObjectStore {
  #rv = 1;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  /** Per resource, its indexes by name (a selectable field's key). */
  readonly #indexes = new Map<string, Map<string, FieldIndex>>();
  readonly #history: StoreEvent[] = [];
  readonly #historySize: number;
  readonly #listeners = new Set<StoreListener>();
  readonly #pending: StoreEvent[] = [];
  #dispatching = false;

  constructor(
    readonly clock: SimClock,
    options: ObjectStoreOptions = {},
  ) {
    this.#historySize = options.historySize ?? 10_000;
  }

  /** The latest resourceVersion handed out. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** The oldest resourceVersion a watch may resume from without a 410. */
  get oldestResumableVersion(): number {
    const first = this.#history[0];
    return first ? first.resourceVersion - 1 : this.#rv;
  }

  #table(resource: string): Map<string, KubeObject> {
    let table = this.#objects.get(resource);
    if (!table) {
      table = new Map();
      this.#objects.set(resource, table);
    }
    return table;
  }

  /** The stored object itself: deeply frozen, to read only (see {@link get} for a copy to edit). */
  read(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#table(resource).get(key(namespace, name));
  }

  /** A private, mutable copy of an object. */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.read(resource, namespace, name);
    return obj ? structuredClone(obj) : undefined;
  }

  /**
   * The stored objects of a resource (deeply frozen, to read only), in one namespace or all
   * (`namespace` undefined), those `matches` keeps if given, ordered by namespace/name as etcd
   * orders its keys.
   */
  readAll(resource: string, namespace?: string, matches?: (obj: KubeObject) => boolean): KubeObject[] {
    return sortedByKey(this.#table(resource), namespace, matches);
  }

  /**
   * Indexes `resource`'s objects by `valueOf` under `name`, from now on and for those stored
   * already; {@link readIndexed} reads by it. `valueOf` must read only the stored object.
   */
  addIndex(resource: string, name: string, valueOf: (obj: KubeObject) => string): void {
    let indexes = this.#indexes.get(resource);
    if (!indexes) this.#indexes.set(resource, (indexes = new Map()));
    if (indexes.has(name)) throw new Error(`the store already indexes ${resource} by ${name}`);
    const index: FieldIndex = { valueOf, keys: new Map() };
    indexes.set(name, index);
    for (const [k, obj] of this.#table(resource)) indexKey(index, valueOf(obj), k);
  }

  /**
   * {@link readAll} of the objects whose index `name` holds `value` (the same objects, in the same
   * order, as `readAll` with a filter on that value); `undefined` when `resource` has no such index.
   */
  readIndexed(
    resource: string,
    name: string,
    value: string,
    namespace?: string,
    matches?: (obj: KubeObject) => boolean,
  ): KubeObject[] | undefined {
    const index = this.#indexes.get(resource)?.get(name);
    if (!index) return undefined;
    const table = this.#table(resource);
    const entries: [string, KubeObject][] = [];
    for (const k of index.keys.get(value) ?? []) entries.push([k, table.get(k)!]);
    return sortedByKey(entries, namespace, matches);
  }

  /** Moves `k` in `resource`'s indexes from what `previous` holds to what `next` holds (either may be absent). */
  #reindex(resource: string, k: string, previous: KubeObject | undefined, next: KubeObject | undefined): void {
    const indexes = this.#indexes.get(resource);
    if (!indexes) return;
    for (const index of indexes.values()) {
      const before = previous && index.valueOf(previous);
      const after = next && index.valueOf(next);
      if (before === after) continue;
      if (before !== undefined) unindexKey(index, before, k);
      if (after !== undefined) indexKey(index, after, k);
    }
  }

  /** Private, mutable copies of {@link readAll}'s objects. */
  list(resource: string, namespace?: string): KubeObject[] {
    return this.readAll(resource, namespace).map((obj) => structuredClone(obj));
  }

  count(resource: string): number {
    return this.#table(resource).size;
  }

  /**
   * Stores a copy of a new object (or the object itself, with `adopt`), assigning uid,
   * resourceVersion and creationTimestamp; returns the stored (frozen) object.
   */
  create(resource: string, input: KubeObject, options: WriteOptions = {}): KubeObject {
    const table = this.#table(resource);
    const k = key(input.metadata.namespace, input.metadata.name);
    if (table.has(k)) throw new StoreConflictError('AlreadyExists', resource, input.metadata.name);
    const obj = owned(input, options);
    obj.metadata.uid = obj.metadata.uid || randomUUID();
    obj.metadata.creationTimestamp = this.clock.timestamp();
    obj.metadata.resourceVersion = String(++this.#rv);
    deepFreeze(obj);
    table.set(k, obj);
    this.#reindex(resource, k, undefined, obj);
    this.#emit({ type: 'ADDED', resource, object: obj, resourceVersion: this.#rv });
    return obj;
  }

  /**
   * Replaces an object. With `expectResourceVersion`, refuses with Conflict if it changed meanwhile.
   * An object left with a deletionTimestamp, no finalizers and grace 0 is removed (a DELETED event).
   * Stores a copy of `input`. Returns the stored (frozen) object, or undefined when the update
   * completed a deletion.
   */
  update(resource: string, input: KubeObject, options: UpdateOptions = {}): KubeObject | undefined {
    return this.#update(resource, owned(input, options), options);
  }

  /** {@link update} of an object the store may keep as it is (nobody else holds it). */
  #update(resource: string, obj: KubeObject, options: { expectResourceVersion?: string }): KubeObject | undefined {
    const table = this.#table(resource);
    const k = key(obj.metadata.namespace, obj.metadata.name);
    const previous = table.get(k);
    if (!previous) throw new StoreConflictError('NotFound', resource, obj.metadata.name);
    if (options.expectResourceVersion && options.expectResourceVersion !== previous.metadata.resourceVersion) {
      throw new StoreConflictError('Conflict', resource, obj.metadata.name);
    }
    obj.metadata.uid = previous.metadata.uid;
    obj.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    // As the registry's ShouldDeleteDuringUpdate: a deleting object with no finalizers left and
    // no grace period outstanding is gone. Namespaces are also held by `spec.finalizers` (the
    // namespace registry's own ShouldDeleteNamespaceDuringUpdate).
    const specFinalizers =
      resource === 'namespaces' && Array.isArray(obj.spec?.finalizers) && obj.spec.finalizers.length > 0;
    if (
      obj.metadata.deletionTimestamp &&
      !obj.metadata.finalizers?.length &&
      !obj.metadata.deletionGracePeriodSeconds &&
      !specFinalizers
    ) {
      return this.#remove(resource, k, obj, previous);
    }
    obj.metadata.resourceVersion = String(++this.#rv);
    deepFreeze(obj);
    table.set(k, obj);
    this.#reindex(resource, k, previous, obj);
    this.#emit({ type: 'MODIFIED', resource, object: obj, previous, resourceVersion: this.#rv });
    return obj;
  }

  /**
   * Read-modify-write for controllers: `change` edits a copy and returns false to skip the write.
   * Returns the stored (frozen) object after it (or undefined if the object is gone or the change
   * completed a deletion).
   */
  mutate(
    resource: string,
    namespace: string | undefined,
    name: string,
    change: (obj: KubeObject) => boolean | void,
    options: MutateOptions = {},
  ): KubeObject | undefined {
    const stored = this.read(resource, namespace, name);
    if (!stored) return undefined;
    const current = options.shallow ? { ...stored, metadata: { ...stored.metadata } } : structuredClone(stored);
    if (change(current) === false || sameJson(current, stored)) return stored;
    return this.#update(resource, current, {});
  }

  /** Removes an object now (no finalizer or grace logic: callers decide that). */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject {
    const table = this.#table(resource);
    const k = key(namespace, name);
    const previous = table.get(k);
    if (!previous) throw new StoreConflictError('NotFound', resource, name);
    // Only metadata changes (the deletion's resourceVersion): the rest stays shared, frozen.
    return this.#remove(resource, k, { ...previous, metadata: { ...previous.metadata } }, previous);
  }

  /** Removes the object at `k`; `last` (the store's own) gets the deletion's resourceVersion and is returned frozen. */
  #remove(resource: string, k: string, last: KubeObject, previous: KubeObject): KubeObject {
    this.#table(resource).delete(k);
    this.#reindex(resource, k, previous, undefined);
    last.metadata.resourceVersion = String(++this.#rv);
    deepFreeze(last);
    this.#emit({ type: 'DELETED', resource, object: last, previous, resourceVersion: this.#rv });
    return last;
  }

  /**
   * Changes after `resourceVersion`, or `'expired'` when that version is older than the
   * retained history (the watch must answer 410 Gone then).
   */
  changesSince(resourceVersion: number): StoreEvent[] | 'expired' {
    if (resourceVersion >= this.#rv) return [];
    if (resourceVersion < this.oldestResumableVersion) return 'expired';
    // History is ordered by resourceVersion: binary search for the first newer event.
    let lo = 0;
    let hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#history[mid]?.resourceVersion ?? 0) <= resourceVersion) lo = mid + 1;
      else hi = mid;
    }
    return this.#history.slice(lo);
  }

  /** Forgets all retained history, so any resume older than now gets 410 (fault injection). */
  compact(): void {
    this.#history.length = 0;
  }

  /**
   * Drops the changes older than `resourceVersion` (etcd compaction at that revision): a watch
   * can still resume from `resourceVersion - 1` on, an older one gets 410.
   */
  compactTo(resourceVersion: number): void {
    const keep = this.#history.findIndex((event) => event.resourceVersion >= resourceVersion);
    this.#history.splice(0, keep < 0 ? this.#history.length : keep);
  }

  /**
   * Listeners see every change in resourceVersion order, synchronously with the write (or right
   * after the change being dispatched, when a listener writes). They must not throw.
   */
  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: StoreEvent): void {
    this.#history.push(event);
    // Trim in batches: splicing one element per write would make every write O(history).
    if (this.#history.length > this.#historySize + Math.max(64, this.#historySize >> 3)) {
      this.#history.splice(0, this.#history.length - this.#historySize);
    }
    // A listener that writes while being told of a change must not make later listeners see
    // the newer change first: queue, and deliver strictly in resourceVersion order.
    this.#pending.push(event);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let next = this.#pending.shift(); next; next = this.#pending.shift()) {
        for (const listener of this.#listeners) listener(next);
      }
    } finally {
      this.#dispatching = false;
    }
  }
}
