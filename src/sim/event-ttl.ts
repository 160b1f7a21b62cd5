import { OldestFirstMap } from '../collections/oldest-first-map.js';
import type { SimContext } from './context.js';
import type { StoreEvent } from './types.js';

/** kube-apiserver's `--event-ttl`. */
export const defaultEventTtlMs = 60 * 60 * 1000;

/** An Event's lease: where it is, and when (real ms) it ends. */
interface Lease {
  namespace: string | undefined;
  name: string;
  endsAt: number;
}

/**
 * `--event-ttl`: the apiserver stores every Event with an etcd lease of this length, renewed on
 * every write (create, and each update of an aggregated Event's `count`), so an Event goes
 * `ttlMs` of cluster time (scaled) after its last write, with a DELETED on watches. It applies
 * to Events from any writer, the simulator's components or a client's POST alike. 0 or less
 * keeps them forever.
 *
 * Every lease has the same length, so leases end in the order they were last renewed: they are
 * kept in that order (a renewal moves its key to the end; the first is found in constant time,
 * see `OldestFirstMap`) under one timer set for the first, instead of a timer per Event and per
 * renewal (the sim records several Events per Job).
 */
export function startEventTtl(ctx: SimContext, ttlMs = defaultEventTtlMs): { stop(): void } {
  if (!(ttlMs > 0)) return { stop() {} };
  const realTtlMs = ttlMs * ctx.clock.timeScale;
  const leases = new OldestFirstMap<string, Lease>();
  let cancelTimer: (() => void) | undefined;
  const expireDue = (): void => {
    cancelTimer = undefined;
    const now = ctx.clock.now();
    for (let next = leases.oldest(); next && next[1].endsAt <= now; next = leases.oldest()) {
      const [key, lease] = next;
      leases.delete(key);
      if (ctx.store.read('events', lease.namespace, lease.name))
        ctx.store.remove('events', lease.namespace, lease.name);
    }
    armForFirst();
  };
  const armForFirst = (): void => {
    if (cancelTimer) return;
    const first = leases.oldest();
    if (!first) return;
    cancelTimer = ctx.clock.afterReal(first[1].endsAt - ctx.clock.now(), expireDue);
  };
  const onChange = ({ resource, type, object }: StoreEvent): void => {
    if (resource !== 'events') return;
    const { namespace, name } = object.metadata;
    const key = `${namespace ?? ''}/${name}`;
    if (type === 'DELETED') {
      leases.delete(key);
      return;
    }
    // A new Event or a renewal: `set` puts its lease at the end.
    leases.set(key, { namespace, name, endsAt: ctx.clock.now() + realTtlMs });
    armForFirst();
  };
  for (const event of ctx.store.readAll('events')) {
    onChange({ type: 'ADDED', resource: 'events', object: event, resourceVersion: 0 });
  }
  const unsubscribe = ctx.store.subscribe(onChange);
  return {
    stop() {
      unsubscribe();
      cancelTimer?.();
      cancelTimer = undefined;
      leases.clear();
    },
  };
}
