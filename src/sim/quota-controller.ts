import type { SimContext } from './context.js';
import type { Controller } from './controller.js';
import { readList, serializeList, type QuantityList } from './quota-quantity.js';
import { matchingResources, objectUsage, sumUsage } from './quota-usage.js';
import type { KubeObject, StoreEvent } from './types.js';
import { objectKey, splitObjectKey, WorkQueue } from './work-queue.js';

/*
 * The resource quota controller (`pkg/controller/resourcequota`): keeps each quota's
 * `status.hard` equal to `spec.hard` and `status.used` equal to what the namespace's objects
 * cost. Kubernetes recomputes on quota changes, on pod deletes and pods that stop being charged,
 * and every 5 minutes; the simulator recomputes a namespace's quotas on every change of an object
 * they count (a recomputation that finds nothing new writes nothing), so what admission charged
 * is given back as soon as a pod finishes or goes.
 */

/** Starts the quota controller; `stop()` ends it. */
export function startQuotaController(ctx: SimContext): Controller {
  const queue = new WorkQueue({
    clock: ctx.clock,
    handle: (key) => syncQuota(ctx, key),
    onError: (key, err) =>
      process.emitWarning(`resourcequota-controller: ${key}: ${err instanceof Error ? err.stack : String(err)}`),
  });
  const enqueueNamespace = (namespace: string | undefined): void => {
    if (namespace === undefined) return;
    for (const quota of ctx.store.list('resourcequotas', namespace)) queue.add(objectKey(quota));
  };
  const onEvent = ({ resource, type, object, previous }: StoreEvent): void => {
    if (resource === 'resourcequotas') {
      // Its own status writes change nothing the controller reads.
      if (type !== 'DELETED' && JSON.stringify(object.spec) !== JSON.stringify(previous?.spec))
        queue.add(objectKey(object));
      return;
    }
    if (resource === 'pods') {
      enqueueNamespace(object.metadata.namespace);
      // A pod being deleted stops being charged once its grace period has passed.
      const deletion = object.metadata.deletionTimestamp;
      if (deletion && !previous?.metadata.deletionTimestamp && type === 'MODIFIED') {
        const due = Date.parse(deletion) + (object.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
        const delay = Math.max(0, due - ctx.clock.now()) + 1;
        // A timer of its own: the queue ignores a later due time for a key already pending.
        const namespace = object.metadata.namespace;
        ctx.clock.afterReal(delay, () => enqueueNamespace(namespace));
      }
      return;
    }
    if (type !== 'MODIFIED') enqueueNamespace(object.metadata.namespace);
  };
  for (const quota of ctx.store.list('resourcequotas')) queue.add(objectKey(quota));
  const unsubscribe = ctx.store.subscribe(onEvent);
  return {
    stop() {
      unsubscribe();
      queue.stop();
    },
  };
}

/** What the namespace's objects cost, for the quota's hard names that some evaluator tracks. */
export function quotaUsage(ctx: SimContext, namespace: string, names: readonly string[]): QuantityList {
  const now = ctx.clock.now();
  const parts: QuantityList[] = [];
  const tracked = new Set<string>();
  for (const strategy of ctx.strategies.values()) {
    if (!strategy.info.namespaced) continue;
    const matched = matchingResources(strategy.info, names);
    if (matched.length === 0) continue;
    for (const name of matched) tracked.add(name);
    for (const obj of ctx.store.list(strategy.info.resource, namespace)) {
      // Only charged pods cost compute and `pods`; `count/pods` counts every stored pod.
      parts.push(objectUsage(strategy.info, obj, now));
    }
  }
  return sumUsage(parts, [...tracked].sort());
}

function syncQuota(ctx: SimContext, key: string): void {
  const [namespace, name] = splitObjectKey(key);
  const quota = ctx.store.get('resourcequotas', namespace, name);
  if (!quota || quota.metadata.deletionTimestamp) return;
  const hard = readList(quota.spec?.hard);
  const used = quotaUsage(ctx, namespace, Object.keys(hard));
  ctx.store.mutate('resourcequotas', namespace, name, (q: KubeObject) => {
    if (q.metadata.uid !== quota.metadata.uid) return false;
    q.status = { hard: serializeList(hard), used: serializeList(used) };
    return true;
  });
}
