import type { SimContext } from './context.js';

/** kube-apiserver's `--etcd-compaction-interval`. */
export const defaultCompactionIntervalMs = 5 * 60 * 1000;

/**
 * The apiserver's etcd compactor: every `intervalMs` of cluster time (scaled) it compacts the
 * store's history to the resourceVersion it saw at its previous run, so a watch can resume
 * from one to two intervals back; from anything older it gets 410 Expired and must relist.
 * 0 or less never compacts (history is then bounded by its size alone).
 */
export function startCompactor(ctx: SimContext, intervalMs = defaultCompactionIntervalMs): { stop(): void } {
  if (!(intervalMs > 0)) return { stop() {} };
  let seen = ctx.store.resourceVersion;
  let cancel = (): void => {};
  const run = (): void => {
    ctx.store.compactTo(seen);
    seen = ctx.store.resourceVersion;
    cancel = ctx.clock.afterScaled(intervalMs, run);
  };
  cancel = ctx.clock.afterScaled(intervalMs, run);
  return { stop: () => cancel() };
}
