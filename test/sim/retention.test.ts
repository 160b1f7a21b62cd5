import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createContext, startSimulatedCluster, type SimulatedCluster } from '../../src/sim/cluster.js';
import { startCompactor } from '../../src/sim/compactor.js';
import { startEventTtl } from '../../src/sim/event-ttl.js';
import { recordEvent } from '../../src/sim/events.js';
import { BoundedLog, RequestLog } from '../../src/sim/stats.js';
import type { KubeObject } from '../../src/sim/types.js';
import { seededInts } from '../helpers/seeded-ints.js';
import { jobManifest } from '../helpers/sim-jobs.js';
import { waitUntil } from '../helpers/wait.js';

// What a long-lived simulated cluster keeps: bounded request log, compacted watch history,
// Events that expire — so its memory levels off however many Jobs go through it.

let cluster: SimulatedCluster | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await cluster?.close();
  cluster = undefined;
});

const get = async (path: string): Promise<number> => (await fetch(`${cluster!.url}${path}`)).status;

describe('BoundedLog', () => {
  test('keeps the latest entries in order, counting the dropped ones', () => {
    const log = new BoundedLog<number>(3);
    for (let i = 1; i <= 7; i++) log.push(i);
    expect(log.toArray()).toEqual([5, 6, 7]);
    log.push(8);
    expect(log.toArray()).toEqual([6, 7, 8]);
    expect(log.dropped).toBe(5);
  });

  test('true keeps everything, false nothing', () => {
    const all = new BoundedLog<number>(true);
    const none = new BoundedLog<number>(false);
    for (let i = 0; i < 20_000; i++) {
      all.push(i);
      none.push(i);
    }
    expect(all.toArray()).toHaveLength(20_000);
    expect(none.toArray()).toEqual([]);
    expect(none.dropped).toBe(20_000);
  });
});

describe('recordRequests', () => {
  test('a number keeps the latest that many requests; stats() counts them all', async () => {
    cluster = await startSimulatedCluster({ recordRequests: 3 });
    for (const name of ['a', 'b', 'c', 'd', 'e'])
      expect(await get(`/api/v1/namespaces/default/pods/${name}`)).toBe(404);
    expect(cluster.requests().map((r) => r.name)).toEqual(['c', 'd', 'e']);
    expect(cluster.stats().requests['get pods']).toBe(5);
  });

  test('by default the latest 10,000', () => {
    const log = new RequestLog();
    for (let i = 0; i < 10_050; i++)
      log.record({ at: i, verb: 'get', resource: 'pods', name: `p${String(i)}`, status: 200 });
    const kept = log.records.toArray();
    expect(kept).toHaveLength(10_000);
    expect([kept[0]?.name, kept.at(-1)?.name]).toEqual(['p50', 'p10049']);
    expect(log.counts.get('get pods')).toBe(10_050);
  });

  test('true keeps every request', async () => {
    cluster = await startSimulatedCluster({ recordRequests: true });
    expect(await get('/api/v1/namespaces/default/pods/x')).toBe(404);
    expect(cluster.requests()).toMatchObject([{ verb: 'get', resource: 'pods', name: 'x', status: 404 }]);
  });
});

describe('auditJobCreations', () => {
  test('every creation by default; a number keeps the latest; jobsCreated counts all', async () => {
    cluster = await startSimulatedCluster({ auditJobCreations: 2, kubelet: { runtime: 'scripted' } });
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    for (const name of ['j1', 'j2', 'j3'])
      await batch.createNamespacedJob({ namespace: 'default', body: jobManifest(name) });
    expect(cluster.jobCreations().map((c) => c.name)).toEqual(['j2', 'j3']);
    expect(cluster.stats().jobsCreated).toBe(3);
    await waitUntil(() => cluster!.stats().podsCreated === 3, 'three pods counted');
  });
});

describe('watch history compaction (--etcd-compaction-interval)', () => {
  test('each run compacts to the resourceVersion seen at the run before: 1–2 intervals of history', () => {
    vi.useFakeTimers();
    const ctx = createContext({});
    const compactor = startCompactor(ctx, 1000);
    const write = (name: string) => Number(ctx.store.create('events', event(name)).metadata.resourceVersion);
    const before = ctx.store.resourceVersion;
    const first = write('e1');
    vi.advanceTimersByTime(1000); // run 1: compacts to `before`, remembers first
    expect(ctx.store.changesSince(before)).toHaveLength(1);
    const second = write('e2');
    vi.advanceTimersByTime(1000); // run 2: compacts to `first`
    expect(ctx.store.changesSince(first - 1)).toHaveLength(2);
    expect(ctx.store.changesSince(before - 1)).toBe('expired');
    vi.advanceTimersByTime(1000); // run 3: compacts to `second`
    expect(ctx.store.changesSince(first - 1)).toBe('expired');
    expect(ctx.store.changesSince(second - 1)).toHaveLength(1);
    expect(ctx.store.changesSince(second)).toEqual([]);
    compactor.stop();
  });

  test('over HTTP: a watch from a compacted resourceVersion gets ERROR 410 Expired, one from now resumes', async () => {
    // 10 cluster-seconds at timeScale 0.01: a compaction every 100 ms of real time.
    cluster = await startSimulatedCluster({ timeScale: 0.01, compactionIntervalMs: 10_000 });
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cm' } } });
    const rv = Number(created.metadata?.resourceVersion) - 1;
    const firstLine = async (
      from: number,
    ): Promise<{ type: string; object: { code?: number; reason?: string; message?: string } }> => {
      const controller = new AbortController();
      const response = await fetch(
        `${cluster!.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${String(from)}`,
        {
          signal: controller.signal,
        },
      );
      const reader = response.body!.getReader();
      let text = '';
      while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      return JSON.parse(text.split('\n')[0]!) as { type: string; object: { code?: number } };
    };
    let writes = 0;
    const expired = await waitUntil(async () => {
      // Compaction only ever reaches a revision seen at the run before: the cluster must move on.
      await core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: `later-${String(writes++)}` } },
      });
      const line = await firstLine(rv);
      return line.type === 'ERROR' ? line : undefined;
    }, 'the history to be compacted past the ConfigMap');
    expect(expired.object).toMatchObject({
      code: 410,
      reason: 'Expired',
      message: expect.stringMatching(/^too old resource version: \d+ \(\d+\)$/),
    });
    const patched = await core.patchNamespacedConfigMap({
      name: 'cm',
      namespace: 'default',
      body: [{ op: 'add', path: '/data', value: { a: 'b' } }],
    });
    expect(await firstLine(Number(patched.metadata?.resourceVersion) - 1)).toMatchObject({ type: 'MODIFIED' });
  });
});

function event(name: string): KubeObject {
  return {
    metadata: { name, namespace: 'default', uid: '', resourceVersion: '', creationTimestamp: '' },
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'p' },
    reason: 'Test',
    message: 'hello',
    type: 'Normal',
    count: 1,
  };
}

describe('Events expire (--event-ttl)', () => {
  test('an Event goes ttl after its last write; every write renews it', () => {
    vi.useFakeTimers();
    const ctx = createContext({});
    const ttl = startEventTtl(ctx, 1000);
    const deleted: string[] = [];
    ctx.store.subscribe((e) =>
      e.resource === 'events' && e.type === 'DELETED' ? deleted.push(e.object.metadata.name) : undefined,
    );
    ctx.store.create('events', event('renewed'));
    ctx.store.create('events', event('left'));
    vi.advanceTimersByTime(600);
    ctx.store.mutate('events', 'default', 'renewed', (e) => void (e['count'] = 2));
    vi.advanceTimersByTime(500);
    expect(deleted).toEqual(['left']);
    vi.advanceTimersByTime(500);
    expect(deleted).toEqual(['left', 'renewed']);
    expect(ctx.store.count('events')).toBe(0);
    ttl.stop();
  });

  test('400 Events written and renewed at random: each goes exactly ttl after its last write', () => {
    vi.useFakeTimers();
    const ctx = createContext({});
    const ttl = startEventTtl(ctx, 1000);
    const deletedAt = new Map<string, number>();
    ctx.store.subscribe((e) => {
      if (e.resource === 'events' && e.type === 'DELETED') deletedAt.set(e.object.metadata.name, Date.now());
    });
    const lastWrite = new Map<string, number>();
    const random = seededInts(11);
    for (let step = 0; step < 400; step++) {
      const name = `e${step}`;
      ctx.store.create('events', event(name));
      lastWrite.set(name, Date.now());
      // Renew a few live ones (their leases move to the end of the order).
      for (let i = 0; i < 3; i++) {
        const other = `e${random(step + 1)}`;
        if (deletedAt.has(other)) continue;
        ctx.store.mutate('events', 'default', other, (e) => void (e['count'] = Number(e['count']) + 1));
        lastWrite.set(other, Date.now());
      }
      vi.advanceTimersByTime(1 + random(20));
    }
    vi.advanceTimersByTime(1000);
    expect(ctx.store.count('events')).toBe(0);
    for (const [name, at] of lastWrite) expect(deletedAt.get(name), name).toBe(at + 1000);
    ttl.stop();
  });

  test('an expired aggregated Event is not bumped again: the next occurrence is a new Event', () => {
    vi.useFakeTimers();
    const ctx = createContext({});
    const ttl = startEventTtl(ctx, 1000);
    const pod: KubeObject = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'p', namespace: 'default', uid: 'u1', resourceVersion: '1', creationTimestamp: '' },
    };
    const source = { component: 'kubelet' };
    recordEvent(ctx, pod, 'Normal', 'Pulled', 'pulled', source);
    recordEvent(ctx, pod, 'Normal', 'Pulled', 'pulled', source);
    const [aggregated] = ctx.store.list('events');
    expect(aggregated?.['count']).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(ctx.store.count('events')).toBe(0);
    recordEvent(ctx, pod, 'Normal', 'Pulled', 'pulled', source);
    const [fresh] = ctx.store.list('events');
    expect(fresh?.['count']).toBe(1);
    expect(fresh?.metadata.name).not.toBe(aggregated?.metadata.name);
    ttl.stop();
  });

  test('over HTTP: Events the cluster recorded and Events a client posted both expire', async () => {
    // One cluster-hour at timeScale 0.0001 is 360 ms.
    cluster = await startSimulatedCluster({ timeScale: 0.0001, kubelet: { runtime: 'scripted' } });
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    await cluster.kubeConfig
      .makeApiClient(BatchV1Api)
      .createNamespacedJob({ namespace: 'default', body: jobManifest('ev') });
    await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'posted' },
        involvedObject: { kind: 'Pod', namespace: 'default', name: 'x' },
        reason: 'R',
        message: 'm',
      },
    });
    await waitUntil(() => cluster!.stats().objects.events > 1, 'the cluster to record Events');
    await waitUntil(() => cluster!.stats().objects.events === 0, 'every Event to expire');
  });
});
