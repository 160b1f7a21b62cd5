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

export interface ObjectStoreOptions {
  /** How many change events are kept for watches that resume from a resourceVersion. Older → 410. */
  historySize?: number;
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/**
 * The simulated etcd: every object of every resource, one global resourceVersion counter, and a
 * bounded history of changes for watches. Objects handed out are deep copies, so callers never
 * mutate stored state behind the store's back (that would skip the resourceVersion bump and the
 * watch event).
 *
 * Apiserver rules the store enforces itself, because every writer (REST handlers and controllers)
 * must obey them: an update that leaves an object with a `deletionTimestamp` and no finalizers
 * removes it; a resourceVersion precondition that does not match is a Conflict.
 */
export class ObjectStore {
  #rv = 1;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
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

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.#table(resource).get(key(namespace, name));
    return obj ? structuredClone(obj) : undefined;
  }

  /** Objects of a resource, in one namespace or all (`namespace` undefined), ordered by namespace/name. */
  list(resource: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.#table(resource).values()) {
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(structuredClone(obj));
    }
    return out.sort((a, b) =>
      key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)),
    );
  }

  count(resource: string): number {
    return this.#table(resource).size;
  }

  /** Stores a new object, assigning uid, resourceVersion and creationTimestamp. */
  create(resource: string, input: KubeObject): KubeObject {
    const table = this.#table(resource);
    const k = key(input.metadata.namespace, input.metadata.name);
    if (table.has(k)) throw new StoreConflictError('AlreadyExists', resource, input.metadata.name);
    const obj = structuredClone(input);
    obj.metadata.uid = obj.metadata.uid || randomUUID();
    obj.metadata.creationTimestamp = this.clock.timestamp();
    obj.metadata.resourceVersion = String(++this.#rv);
    table.set(k, obj);
    this.#emit({ type: 'ADDED', resource, object: obj, resourceVersion: this.#rv });
    return structuredClone(obj);
  }

  /**
   * Replaces an object. With `expectResourceVersion`, refuses with Conflict if it changed meanwhile.
   * An object left with a deletionTimestamp, no finalizers and grace 0 is removed (a DELETED event).
   * Returns the stored object, or undefined when the update completed a deletion.
   */
  update(
    resource: string,
    input: KubeObject,
    options: { expectResourceVersion?: string } = {},
  ): KubeObject | undefined {
    const table = this.#table(resource);
    const k = key(input.metadata.namespace, input.metadata.name);
    const previous = table.get(k);
    if (!previous) throw new StoreConflictError('NotFound', resource, input.metadata.name);
    if (options.expectResourceVersion && options.expectResourceVersion !== previous.metadata.resourceVersion) {
      throw new StoreConflictError('Conflict', resource, input.metadata.name);
    }
    const obj = structuredClone(input);
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
    table.set(k, obj);
    this.#emit({ type: 'MODIFIED', resource, object: obj, previous, resourceVersion: this.#rv });
    return structuredClone(obj);
  }

  /**
   * Read-modify-write for controllers: `change` edits a copy and returns false to skip the write.
   * Returns the new object (or undefined if the object is gone or the change completed a deletion).
   */
  mutate(
    resource: string,
    namespace: string | undefined,
    name: string,
    change: (obj: KubeObject) => boolean | void,
  ): KubeObject | undefined {
    const current = this.get(resource, namespace, name);
    if (!current) return undefined;
    const before = JSON.stringify(current);
    if (change(current) === false) return current;
    if (JSON.stringify(current) === before) return current;
    return this.update(resource, current);
  }

  /** Removes an object now (no finalizer or grace logic: callers decide that). */
  remove(resource: string, namespace: string | undefined, name: string): KubeObject {
    const table = this.#table(resource);
    const k = key(namespace, name);
    const previous = table.get(k);
    if (!previous) throw new StoreConflictError('NotFound', resource, name);
    return this.#remove(resource, k, structuredClone(previous), previous);
  }

  #remove(resource: string, k: string, last: KubeObject, previous: KubeObject): KubeObject {
    this.#table(resource).delete(k);
    last.metadata.resourceVersion = String(++this.#rv);
    this.#emit({ type: 'DELETED', resource, object: last, previous, resourceVersion: this.#rv });
    return structuredClone(last);
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
