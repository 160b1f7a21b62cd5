import type { Subscription } from 'rxjs';
import { afterEach, expect, test } from 'vitest';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * runner.health() against the sim: the watch's state comes from the adapter's streams, so the
 * sim's watch faults (refused watches, a stream held silent) must show as `reconnecting` — and
 * `down` once longer than `watch.stallGraceMs` — and the recovery as `connected` again.
 */

const engines: Engine[] = [];
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

async function engine(options: Parameters<typeof startEngine>[0] = {}): Promise<Engine> {
  const e = await startEngine(options);
  engines.push(e);
  return e;
}

test('health() of a running runner: ok, watch connected, store writable, queue and active counts, plain JSON', async () => {
  const e = await engine({ runner: { maxConcurrentJobs: 1, queueSize: 7 } });
  // Ready means listed: the watch requests themselves may still be on their way.
  const before = await waitUntil(() => (e.runner.health().status === 'ok' ? e.runner.health() : undefined), 'ok');
  expect(before).toMatchObject({
    status: 'ok',
    watch: { state: 'connected' },
    store: { writable: true },
    queue: { depth: 0, capacity: 7 },
    active: 0,
    maxConcurrentJobs: 1,
  });
  expect(JSON.parse(JSON.stringify(before))).toEqual(before);
  expect(Date.parse(before.watch.since)).not.toBeNaN();
  await e.runner.addTask({ id: 'long', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  await e.runner.addTask({ id: 'waits', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  const busy = await waitUntil(() => {
    const h = e.runner.health();
    return h.active === 1 && h.queue.depth === 1 && h.watch.lastEventAt !== undefined ? h : undefined;
  }, 'one task active and one queued');
  expect(busy.status).toBe('ok');
  expect(Date.parse(busy.store.lastWriteAt ?? '')).toBeGreaterThanOrEqual(Date.parse(before.watch.since));
  await e.runner.shutdown();
  expect(e.runner.health()).toMatchObject({ status: 'down', watch: { state: 'stopped' }, store: { writable: true } });
});

test('with the Jobs watch refused, health() says reconnecting at once, down past stallGraceMs, and ok once it reconnects', async () => {
  const stallGraceMs = 400;
  const e = await engine({ runner: { watch: { stallGraceMs } } });
  const { cluster, runner } = e;
  await waitUntil(() => runner.health().watch.state === 'connected', 'the watch to connect');
  const refused = cluster.faults.failRequests({ verbs: ['watch'], resources: ['jobs'], status: 503 });
  const droppedAt = Date.now();
  expect(cluster.faults.dropWatches({ resources: ['jobs'] })).toBe(1);
  const outage = await waitUntil(() => {
    const h = runner.health();
    return h.watch.state === 'reconnecting' ? h : undefined;
  }, 'the outage to show');
  // Reported at once (well within the grace), first as degraded.
  expect(Date.now() - droppedAt).toBeLessThan(stallGraceMs);
  expect(outage.status).toBe('degraded');
  expect(Date.parse(outage.watch.since)).toBeGreaterThanOrEqual(droppedAt - 1);
  const down = await waitUntil(() => (runner.health().status === 'down' ? runner.health() : undefined), 'down');
  expect(down.watch).toMatchObject({ state: 'reconnecting', since: outage.watch.since });
  expect(down.store.writable).toBe(true);
  expect(refused.hits).toBeGreaterThan(0);
  refused.remove();
  const back = await waitUntil(() => {
    const h = runner.health();
    return h.status === 'ok' ? h : undefined;
  }, 'the watch to reconnect');
  expect(back.watch.state).toBe('connected');
  expect(Date.parse(back.watch.since)).toBeGreaterThan(Date.parse(outage.watch.since));
  // The runner still works after the outage.
  await runner.addTask({ id: 'after-outage', image: 'busybox', ...behaviour({ durationMs: 20 }) });
  expect(await runner.waitFor('after-outage')).toMatchObject({ outcome: 'succeeded' });
});

test('a Jobs watch held silent is found by the stall watchdog: health() goes reconnecting, then connected again', async () => {
  // A 1 s server timeout and a short grace: a silent stream is given up after about 1.3 s.
  const e = await engine({ runner: { watch: { timeoutSeconds: 1, stallGraceMs: 300 } } });
  const { cluster, runner } = e;
  const events: RunnerEvent[] = [];
  subscriptions.push(runner.events$.subscribe((event) => events.push(event)));
  cluster.faults.stallNextWatches(1, { resources: ['jobs'] });
  cluster.faults.dropWatches({ resources: ['jobs'] });
  await waitUntil(() => cluster.faults.counts().watchesStalled === 1, 'the silent watch to be open');
  // The silent stream was answered: it counts as connected until the watchdog gives up on it.
  // Refuse the next watches, so the outage it finds lasts until the test lets the watch back.
  const refused = cluster.faults.failRequests({ verbs: ['watch'], resources: ['jobs'], status: 503 });
  const stalledAt = await waitUntil(
    () => (events.some((ev) => ev.kind === 'watchStalled' && ev.resource === 'jobs') ? Date.now() : undefined),
    'the watchdog to give up on the stream',
  );
  const outage = await waitUntil(
    () => (runner.health().watch.state === 'reconnecting' ? runner.health() : undefined),
    'the stall to show',
  );
  expect(Date.parse(outage.watch.since)).toBeLessThanOrEqual(stalledAt + 1);
  refused.remove();
  const back = await waitUntil(() => {
    const h = runner.health();
    return h.status === 'ok' && Date.parse(h.watch.since) > Date.parse(outage.watch.since) ? h : undefined;
  }, 'the watch to reconnect');
  expect(back.watch.state).toBe('connected');
});
