import type { SimContext } from './context.js';
import type { StoreEvent } from './types.js';

/** kube-apiserver's `--event-ttl`. */
export const defaultEventTtlMs = 60 * 60 * 1000;

/**
 * `--event-ttl`: the apiserver stores every Event with an etcd lease of this length, renewed on
 * every write (create, and each update of an aggregated Event's `count`), so an Event goes
 * `ttlMs` of cluster time (scaled) after its last write, with a DELETED on watches. It applies
 * to Events from any writer, the simulator's components or a client's POST alike. 0 or less
 * keeps them forever.
 */
export function startEventTtl(ctx: SimContext, ttlMs = defaultEventTtlMs): { stop(): void } {
  if (!(ttlMs > 0)) return { stop() {} };
  const leases = new Map<string, () => void>();
  const expire = (namespace: string | undefined, name: string, key: string): void => {
    leases.delete(key);
    if (ctx.store.read('events', namespace, name)) ctx.store.remove('events', namespace, name);
  };
  const onChange = ({ resource, type, object }: StoreEvent): void => {
    if (resource !== 'events') return;
    const { namespace, name } = object.metadata;
    const key = `${namespace ?? ''}/${name}`;
    leases.get(key)?.();
    leases.delete(key);
    if (type === 'DELETED') return;
    leases.set(
      key,
      ctx.clock.afterScaled(ttlMs, () => expire(namespace, name, key)),
    );
  };
  for (const event of ctx.store.readAll('events')) {
    onChange({ type: 'ADDED', resource: 'events', object: event, resourceVersion: 0 });
  }
  const unsubscribe = ctx.store.subscribe(onChange);
  return {
    stop() {
      unsubscribe();
      for (const cancel of leases.values()) cancel();
      leases.clear();
    },
  };
}
