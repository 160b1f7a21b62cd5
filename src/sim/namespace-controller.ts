import { ApiError } from './api-error.js';
import type { SimContext } from './context.js';
import type { Controller } from './controller.js';
import { deleteObject } from './rest.js';
import type { KubeObject, StoreEvent } from './types.js';
import { WorkQueue } from './work-queue.js';

/** The finalizer the namespace controller owns in `spec.finalizers`. */
const kubernetesFinalizer = 'kubernetes';

interface NamespaceCondition {
  type: string;
  status: 'True' | 'False';
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** The five conditions namespace_deleter.go maintains, with their "all is well" reason and message. */
const okConditions: [type: string, reason: string, message: string][] = [
  ['NamespaceDeletionDiscoveryFailure', 'ResourcesDiscovered', 'All resources successfully discovered'],
  ['NamespaceDeletionGroupVersionParsingFailure', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
  [
    'NamespaceDeletionContentFailure',
    'ContentDeleted',
    'All content successfully deleted, may be waiting on finalization',
  ],
  ['NamespaceContentRemaining', 'ContentRemoved', 'All content successfully removed'],
  ['NamespaceFinalizersRemaining', 'ContentHasNoFinalizers', 'All content-preserving finalizers finished'],
];

/**
 * The namespace controller (`pkg/controller/namespace`): a namespace with a deletionTimestamp
 * (phase Terminating) has all its content deleted (`propagationPolicy: Background`), reports
 * what remains in its status conditions, and once nothing is left drops the `kubernetes`
 * finalizer from `spec.finalizers` — at which point the namespace itself is gone.
 */
class NamespaceController implements Controller {
  readonly #ctx: SimContext;
  readonly #queue: WorkQueue;
  readonly #terminating = new Set<string>();
  readonly #unsubscribe: () => void;

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
    this.#queue = new WorkQueue({
      clock: ctx.clock,
      handle: (name) => this.#sync(name),
      onError: (name, err) =>
        process.emitWarning(`namespace-controller: ${name}: ${err instanceof Error ? err.stack : String(err)}`),
    });
    for (const ns of ctx.store.list('namespaces'))
      this.#observe({ type: 'ADDED', resource: 'namespaces', object: ns, resourceVersion: 0 });
    this.#unsubscribe = ctx.store.subscribe((event) => this.#observe(event));
  }

  stop(): void {
    this.#unsubscribe();
    this.#queue.stop();
  }

  #observe({ type, resource, object }: StoreEvent): void {
    if (resource === 'namespaces') {
      if (type === 'DELETED') this.#terminating.delete(object.metadata.name);
      else if (object.metadata.deletionTimestamp) {
        this.#terminating.add(object.metadata.name);
        this.#queue.add(object.metadata.name);
      }
      return;
    }
    // Content of a terminating namespace changed: what remains must be looked at again.
    const namespace = object.metadata.namespace;
    if (namespace !== undefined && this.#terminating.has(namespace)) this.#queue.add(namespace);
  }

  #sync(name: string): void {
    const ns = this.#ctx.store.get('namespaces', undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    const remaining = new Map<string, number>();
    const finalizersRemaining = new Map<string, number>();
    const failures: string[] = [];
    for (const strategy of this.#ctx.strategies.values()) {
      if (!strategy.info.namespaced) continue;
      const { resource } = strategy.info;
      for (const obj of this.#ctx.store.list(resource, name)) {
        if (obj.metadata.deletionTimestamp) continue;
        try {
          deleteObject(this.#ctx, strategy, name, obj.metadata.name, {
            propagationPolicy: 'Background',
            preconditions: { uid: obj.metadata.uid },
          });
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          if (err.code !== 404 && err.code !== 409) failures.push(err.message);
        }
      }
      const left = this.#ctx.store.list(resource, name);
      if (left.length === 0) continue;
      remaining.set(`${resource}.${strategy.info.group}`, left.length);
      for (const obj of left)
        for (const f of obj.metadata.finalizers ?? [])
          finalizersRemaining.set(f, (finalizersRemaining.get(f) ?? 0) + 1);
    }
    this.#updateConditions(ns, remaining, finalizersRemaining, failures);
    // Still content: the DELETED events of what is left bring this namespace back here.
    if (remaining.size > 0 || failures.length > 0) return;
    this.#ctx.store.mutate('namespaces', undefined, name, (n) => {
      if (n.metadata.uid !== ns.metadata.uid) return false;
      const finalizers = ((n.spec?.finalizers ?? []) as string[]).filter((f) => f !== kubernetesFinalizer);
      n.spec = { ...(n.spec ?? {}), finalizers };
      if (finalizers.length === 0) delete n.spec.finalizers;
      return true;
    });
  }

  #updateConditions(
    ns: KubeObject,
    remaining: Map<string, number>,
    finalizers: Map<string, number>,
    failures: string[],
  ): void {
    const now = this.#ctx.clock.timestamp();
    const problems = new Map<string, Omit<NamespaceCondition, 'lastTransitionTime'>>();
    if (failures.length > 0) {
      problems.set('NamespaceDeletionContentFailure', {
        type: 'NamespaceDeletionContentFailure',
        status: 'True',
        reason: 'ContentDeletionFailed',
        message: `Failed to delete all resource types, ${failures.length} remaining: ${[...failures].sort().join(', ')}`,
      });
    }
    if (remaining.size > 0) {
      const list = [...remaining].map(([gr, n]) => `${gr} has ${n} resource instances`).sort();
      problems.set('NamespaceContentRemaining', {
        type: 'NamespaceContentRemaining',
        status: 'True',
        reason: 'SomeResourcesRemain',
        message: `Some resources are remaining: ${list.join(', ')}`,
      });
    }
    if (finalizers.size > 0) {
      const list = [...finalizers].map(([f, n]) => `${f} in ${n} resource instances`).sort();
      problems.set('NamespaceFinalizersRemaining', {
        type: 'NamespaceFinalizersRemaining',
        status: 'True',
        reason: 'SomeFinalizersRemain',
        message: `Some content in the namespace has finalizers remaining: ${list.join(', ')}`,
      });
    }
    this.#ctx.store.mutate('namespaces', undefined, ns.metadata.name, (n) => {
      const conditions = [...((n.status?.conditions ?? []) as NamespaceCondition[])];
      for (const [type, reason, message] of okConditions) {
        const wanted = problems.get(type) ?? { type, status: 'False' as const, reason, message };
        const index = conditions.findIndex((c) => c.type === type);
        const old = conditions[index];
        if (!old) conditions.push({ ...wanted, lastTransitionTime: now });
        else if (old.status !== wanted.status || old.reason !== wanted.reason || old.message !== wanted.message) {
          conditions[index] = {
            ...wanted,
            lastTransitionTime: old.status !== wanted.status ? now : old.lastTransitionTime,
          };
        }
      }
      n.status = { ...(n.status ?? {}), phase: 'Terminating', conditions };
    });
  }
}

/** Starts the namespace controller (namespace deletion) on the simulated cluster's store. */
export function startNamespaceController(ctx: SimContext): Controller {
  return new NamespaceController(ctx);
}
