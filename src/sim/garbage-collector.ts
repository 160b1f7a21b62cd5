import { ApiError } from './api-error.js';
import { strategyFor, type SimContext } from './context.js';
import type { Controller } from './controller.js';
import { deleteObject } from './rest.js';
import type { KubeObject, StoreEvent } from './types.js';
import { WorkQueue } from './work-queue.js';

const foregroundFinalizer = 'foregroundDeletion';
const orphanFinalizer = 'orphan';

/** An object's address in the store, as one string (`resource`, `namespace`, `name`). */
type Ref = string;

function refOf(resource: string, obj: KubeObject): Ref {
  return `${resource}\u0000${obj.metadata.namespace ?? ''}\u0000${obj.metadata.name}`;
}

function parseRef(ref: Ref): { resource: string; namespace: string | undefined; name: string } {
  const [resource = '', namespace = '', name = ''] = ref.split('\u0000');
  return { resource, namespace: namespace || undefined, name };
}

function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

function deletingDependents(obj: KubeObject): boolean {
  return !!obj.metadata.deletionTimestamp && hasFinalizer(obj, foregroundFinalizer);
}

/**
 * The garbage collector (`pkg/controller/garbagecollector`) over an ownerReference graph kept
 * from the store's events:
 *
 * - a dependent whose owners are all gone is deleted (Background, or per its own GC finalizers;
 *   pods gracefully, through the API's delete rules);
 * - an owner deleted with `propagationPolicy: Foreground` (`foregroundDeletion` finalizer) has
 *   its dependents deleted, and loses the finalizer — and so is removed — only once no dependent
 *   with `blockOwnerDeletion: true` is left;
 * - an owner deleted with `Orphan` (`orphan` finalizer) has the reference stripped from its
 *   dependents, which keep running, then loses the finalizer.
 */
class GarbageCollector implements Controller {
  readonly #ctx: SimContext;
  /** Every stored object by uid: owner existence checks without reads. */
  readonly #byUid = new Map<string, Ref>();
  /** Owner uid → dependents that name it. */
  readonly #dependents = new Map<string, Set<Ref>>();
  /** Dependent → the owner uids it names (to keep `#dependents` current). */
  readonly #owners = new Map<Ref, string[]>();
  readonly #attemptToDelete: WorkQueue;
  readonly #attemptToOrphan: WorkQueue;
  readonly #unsubscribe: () => void;

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
    const onError = (key: string, err: unknown) =>
      process.emitWarning(
        `garbage-collector: ${key.replaceAll('\u0000', '/')}: ${err instanceof Error ? err.stack : String(err)}`,
      );
    this.#attemptToDelete = new WorkQueue({
      clock: ctx.clock,
      handle: (ref) => this.#attemptToDeleteItem(ref),
      onError,
    });
    this.#attemptToOrphan = new WorkQueue({ clock: ctx.clock, handle: (ref) => this.#orphanDependents(ref), onError });
    for (const resource of ctx.strategies.keys()) {
      for (const obj of ctx.store.list(resource))
        this.#observe({ type: 'ADDED', resource, object: obj, resourceVersion: 0 });
    }
    this.#unsubscribe = ctx.store.subscribe((event) => this.#observe(event));
  }

  stop(): void {
    this.#unsubscribe();
    this.#attemptToDelete.stop();
    this.#attemptToOrphan.stop();
  }

  #get(ref: Ref): KubeObject | undefined {
    const { resource, namespace, name } = parseRef(ref);
    return this.#ctx.store.read(resource, namespace, name);
  }

  #getByUid(uid: string): KubeObject | undefined {
    const ref = this.#byUid.get(uid);
    const obj = ref && this.#get(ref);
    return obj && obj.metadata.uid === uid ? obj : undefined;
  }

  #setOwners(ref: Ref, uids: string[]): void {
    for (const uid of this.#owners.get(ref) ?? []) {
      if (uids.includes(uid)) continue;
      const set = this.#dependents.get(uid);
      set?.delete(ref);
      if (set?.size === 0) this.#dependents.delete(uid);
    }
    for (const uid of uids) {
      let set = this.#dependents.get(uid);
      if (!set) this.#dependents.set(uid, (set = new Set()));
      set.add(ref);
    }
    if (uids.length > 0) this.#owners.set(ref, uids);
    else this.#owners.delete(ref);
  }

  /** processGraphChanges: keep the graph, enqueue what the change may have made collectable. */
  #observe({ type, resource, object, previous }: StoreEvent): void {
    const uid = object.metadata.uid;
    // Most changes are status writes: same object, same owner references (shared, frozen), not
    // deleting. The graph already holds them; only a missing owner still makes it collectable.
    if (
      type === 'MODIFIED' &&
      previous?.metadata.uid === uid &&
      previous.metadata.ownerReferences === object.metadata.ownerReferences &&
      !object.metadata.deletionTimestamp
    ) {
      const owners = object.metadata.ownerReferences;
      if (owners?.some((o) => !this.#byUid.has(o.uid))) this.#attemptToDelete.add(refOf(resource, object));
      return;
    }
    const ref = refOf(resource, object);
    if (type === 'DELETED') {
      if (this.#byUid.get(uid) === ref) this.#byUid.delete(uid);
      this.#setOwners(ref, []);
      // Its dependents may now be dangling; owners waiting for it may now be free to go.
      for (const dependent of this.#dependents.get(uid) ?? []) this.#attemptToDelete.add(dependent);
      for (const owner of previous?.metadata.ownerReferences ?? object.metadata.ownerReferences ?? []) {
        const ownerRef = this.#byUid.get(owner.uid);
        if (ownerRef) this.#attemptToDelete.add(ownerRef);
      }
      return;
    }
    this.#byUid.set(uid, ref);
    const owners = object.metadata.ownerReferences ?? [];
    this.#setOwners(
      ref,
      owners.map((o) => o.uid),
    );
    if (object.metadata.deletionTimestamp) {
      if (hasFinalizer(object, foregroundFinalizer)) this.#attemptToDelete.add(ref);
      if (hasFinalizer(object, orphanFinalizer)) this.#attemptToOrphan.add(ref);
    }
    if (owners.some((o) => !this.#byUid.has(o.uid))) this.#attemptToDelete.add(ref);
  }

  /** attemptToDeleteItem. */
  #attemptToDeleteItem(ref: Ref): void {
    const obj = this.#get(ref);
    if (!obj) return;
    if (deletingDependents(obj)) {
      this.#processDeletingDependents(ref, obj);
      return;
    }
    if (obj.metadata.deletionTimestamp) return;
    const references = obj.metadata.ownerReferences ?? [];
    if (references.length === 0) return;
    const solid: string[] = [];
    const gone: string[] = [];
    for (const reference of references) {
      const owner = this.#getByUid(reference.uid);
      if (!owner) gone.push(reference.uid);
      else if (deletingDependents(owner)) gone.push(reference.uid);
      else solid.push(reference.uid);
    }
    if (solid.length > 0) {
      // Still owned: only the references to vanished or foreground-deleting owners go.
      if (gone.length > 0) {
        this.#ctx.store.mutate(parseRef(ref).resource, obj.metadata.namespace, obj.metadata.name, (o) => {
          if (o.metadata.uid !== obj.metadata.uid) return false;
          o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => !gone.includes(r.uid));
          return true;
        });
      }
      return;
    }
    const waitedOn = references.some((r) => {
      const owner = this.#getByUid(r.uid);
      return owner !== undefined && deletingDependents(owner);
    });
    let policy: 'Background' | 'Foreground' | 'Orphan' = 'Background';
    if (hasFinalizer(obj, orphanFinalizer)) policy = 'Orphan';
    else if (
      hasFinalizer(obj, foregroundFinalizer) ||
      (waitedOn && (this.#dependents.get(obj.metadata.uid)?.size ?? 0) > 0)
    )
      policy = 'Foreground';
    this.#delete(ref, obj, policy);
  }

  /** processDeletingDependentsItem: the foreground owner goes once no blocking dependent is left. */
  #processDeletingDependents(ref: Ref, owner: KubeObject): void {
    const blocking: Ref[] = [];
    for (const dependentRef of this.#dependents.get(owner.metadata.uid) ?? []) {
      const dependent = this.#get(dependentRef);
      const reference = dependent?.metadata.ownerReferences?.find((r) => r.uid === owner.metadata.uid);
      if (reference?.blockOwnerDeletion === true) blocking.push(dependentRef);
    }
    if (blocking.length === 0) {
      this.#removeFinalizer(ref, owner, foregroundFinalizer);
      return;
    }
    for (const dependentRef of blocking) {
      const dependent = this.#get(dependentRef);
      if (dependent && !deletingDependents(dependent)) this.#attemptToDelete.add(dependentRef);
    }
  }

  /** orphanDependents: strip the owner from every dependent, then let the owner go. */
  #orphanDependents(ref: Ref): void {
    const owner = this.#get(ref);
    if (!owner || !owner.metadata.deletionTimestamp || !hasFinalizer(owner, orphanFinalizer)) return;
    const uid = owner.metadata.uid;
    for (const dependentRef of [...(this.#dependents.get(uid) ?? [])]) {
      const { resource, namespace, name } = parseRef(dependentRef);
      this.#ctx.store.mutate(resource, namespace, name, (o) => {
        const kept = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
        if (kept.length === (o.metadata.ownerReferences ?? []).length) return false;
        if (kept.length > 0) o.metadata.ownerReferences = kept;
        else delete o.metadata.ownerReferences;
        return true;
      });
    }
    this.#removeFinalizer(ref, owner, orphanFinalizer);
  }

  #removeFinalizer(ref: Ref, obj: KubeObject, finalizer: string): void {
    this.#ctx.store.mutate(parseRef(ref).resource, obj.metadata.namespace, obj.metadata.name, (o) => {
      if (o.metadata.uid !== obj.metadata.uid || !hasFinalizer(o, finalizer)) return false;
      const rest = (o.metadata.finalizers ?? []).filter((f) => f !== finalizer);
      if (rest.length > 0) o.metadata.finalizers = rest;
      else delete o.metadata.finalizers;
      return true;
    });
  }

  #delete(ref: Ref, obj: KubeObject, propagationPolicy: 'Background' | 'Foreground' | 'Orphan'): void {
    const { resource } = parseRef(ref);
    try {
      deleteObject(this.#ctx, strategyFor(this.#ctx, resource), obj.metadata.namespace, obj.metadata.name, {
        propagationPolicy,
        preconditions: { uid: obj.metadata.uid },
      });
    } catch (err) {
      // Already gone, or replaced by a namesake: nothing of this object is left to collect.
      if (!(err instanceof ApiError) || (err.code !== 404 && err.code !== 409)) throw err;
    }
  }
}

/** Starts owner-reference garbage collection (Background, Foreground and Orphan propagation). */
export function startGarbageCollector(ctx: SimContext): Controller {
  return new GarbageCollector(ctx);
}
