import type { SimClock } from './clock.js';
import type { ObjectStore } from './object-store.js';
import type { ResourceStrategy } from './strategy.js';
import type { OpenWatch } from './watch.js';

/** What every part of the simulated cluster shares: one store, one clock, the served resources. */
export interface SimContext {
  store: ObjectStore;
  clock: SimClock;
  /** Served resources by plural name (`jobs`, `pods`, `events`, `namespaces`). */
  strategies: Map<string, ResourceStrategy>;
  openWatches: Set<OpenWatch>;
  /** Pod log requests with `follow=true` still streaming (`resource` is `pods/log`). */
  openLogStreams: Set<OpenWatch>;
  /** Cluster-chosen bookmark interval (unscaled ms; the apiserver's is about a minute). */
  bookmarkIntervalMs: number;
}

export function strategyFor(ctx: SimContext, resource: string): ResourceStrategy {
  const strategy = ctx.strategies.get(resource);
  if (!strategy) throw new Error(`resource ${resource} is not served by the simulator`);
  return strategy;
}
