import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Job } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import type { WatcherEvent } from '../../src/kube/telemetry.js';
import { WatchCache } from '../../src/kube/watch-cache.js';
import type { ClusterObservation } from '../../src/machines/task/contract.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const managed = { 'app.kubernetes.io/managed-by': 'k8s-jobs' };
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

let cluster: SimulatedCluster;
let proxy: TcpProxy;
let batch: BatchV1Api;
let core: CoreV1Api;
beforeAll(async () => {
  // No kubelet: pods stay Pending, so what the watch shows is only what the tests write.
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false }, watchHistorySize: 20 });
  proxy = await startTcpProxy(cluster.url);
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await proxy.close();
  await cluster.close();
});

const started: KubeAdapter[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  proxy.setMode('pass');
  await Promise.all(started.splice(0).map((k) => k.watcher.stop()));
});

/** A watcher through the proxy, with short timings so faults heal within a test. */
async function startWatcher(
  options: { timeoutSeconds?: number; stallGraceMs?: number; unseenJobCheckMs?: number } = {},
) {
  const events: WatcherEvent[] = [];
  const kube = createKubeAdapter({
    kubeConfig: proxy.kubeConfig,
    namespace: 'default',
    retry: { baseMs: 5, maxMs: 50 },
    requestTimeoutMs: 2000,
    watch: { reconnect: { baseMs: 10, maxMs: 100 }, onEvent: (e) => events.push(e), ...options },
  });
  started.push(kube);
  await kube.watcher.start();
  return { kube, events };
}

/** A Job whose pods never start (no kubelet): after the Job controller's first moves, only the tests change it. */
async function createJob(name: string): Promise<V1Job> {
  return batch.createNamespacedJob({
    namespace: 'default',
    body: {
      metadata: { name, labels: managed },
      spec: {
        template: {
          metadata: { labels: managed },
          spec: { restartPolicy: 'Never', containers: [{ name: 'task', image: 'busybox' }] },
        },
      },
    },
  });
}

async function touch(name: string, step: number): Promise<string> {
  const job = await batch.patchNamespacedJob(
    { name, namespace: 'default', body: { metadata: { annotations: { step: String(step) } } } },
    mergePatch,
  );
  return job.metadata?.resourceVersion ?? '';
}

function record(kube: KubeAdapter, jobName: string): ClusterObservation[] {
  const seen: ClusterObservation[] = [];
  kube.watcher.observe(jobName, (o) => seen.push(o));
  return seen;
}

const rvs = (seen: ClusterObservation[]) =>
  seen.map((o) => o.job?.resourceVersion).filter((rv): rv is string => rv !== undefined);

/**
 * The resourceVersions of the watch events of Job `jobName` as they reach the watcher's cache, in
 * order (read when called). Observers are told a Job's latest view once per turn of the event
 * loop, and the events a resumed stream replays come in one turn: whether one was missed or
 * repeated shows only here. A spy: the cache's own `applyJob` still runs.
 */
function jobEvents(jobName: string): () => string[] {
  const spy = vi.spyOn(WatchCache.prototype, 'applyJob');
  return () =>
    spy.mock.calls.flatMap(([type, job]) =>
      job.metadata?.name === jobName && type !== 'DELETED' ? [job.metadata.resourceVersion ?? ''] : [],
    );
}

describe('JobWatcher', () => {
  test('shows a Job and its pods: at once on observe, then on every change', async () => {
    await createJob('watched');
    const { kube } = await startWatcher();
    const seen = record(kube, 'watched');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.job).toMatchObject({ name: 'watched', uid: expect.any(String), conditions: expect.any(Array) });

    await batch.patchNamespacedJobStatus(
      {
        name: 'watched',
        namespace: 'default',
        body: {
          status: {
            conditions: [
              {
                type: 'Failed',
                status: 'True',
                reason: 'BackoffLimitExceeded',
                message: 'Job has reached the specified backoff limit',
              },
            ],
          },
        },
      },
      mergePatch,
    );
    await waitUntil(() => seen.some((o) => o.job?.conditions.some((c) => c.type === 'Failed')), 'the Failed condition');

    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: {
          name: 'watched-abcde',
          labels: { ...managed, 'batch.kubernetes.io/job-name': 'watched', 'job-name': 'watched' },
        },
        spec: { containers: [{ name: 'task', image: 'busybox' }] },
      },
    });
    await waitUntil(
      () => seen.at(-1)?.pods.some((p) => p.name === 'watched-abcde' && p.phase === 'Pending'),
      'the pod',
    );
    expect(seen.every((o) => o.job !== null)).toBe(true);
  });

  test('a pod change its view does not show tells nobody; one it shows does, in order', async () => {
    await createJob('pod-quiet');
    const { kube } = await startWatcher();
    const seen = record(kube, 'pod-quiet');
    const name = 'pod-quiet-abcde';
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: {
          name,
          labels: { ...managed, 'batch.kubernetes.io/job-name': 'pod-quiet', 'job-name': 'pod-quiet' },
        },
        spec: { containers: [{ name: 'task', image: 'busybox' }] },
      },
    });
    await waitUntil(() => seen.at(-1)?.pods.some((p) => p.name === name), 'the pod');
    const before = seen.length;
    // An annotation is not in the pod's view: a watch event, but no new observation.
    await core.patchNamespacedPod(
      { name, namespace: 'default', body: { metadata: { annotations: { note: 'x' } } } },
      mergePatch,
    );
    // The phase is: it is seen, and the pod stream is in order, so the annotation's event came first.
    await core.patchNamespacedPodStatus(
      { name, namespace: 'default', body: { status: { phase: 'Running' } } },
      mergePatch,
    );
    await waitUntil(() => seen.at(-1)?.pods.some((p) => p.phase === 'Running'), 'the Running pod');
    expect(seen.length).toBe(before + 1);
  });

  test('job: null only when the Job is deleted — an ended stream is not a deletion', async () => {
    await createJob('deleted-later');
    const { kube } = await startWatcher({ timeoutSeconds: 1 });
    const seen = record(kube, 'deleted-later');
    // Streams end (server timeout) and are cut (proxy) meanwhile: none of that is a deletion.
    await touch('deleted-later', 1);
    proxy.dropAll();
    await touch('deleted-later', 2);
    await waitUntil(() => kube.watcher.stats().reconnects >= 3, 'a few reconnects');
    expect(seen.filter((o) => o.job === null)).toHaveLength(0);
    await batch.deleteNamespacedJob({ name: 'deleted-later', namespace: 'default', propagationPolicy: 'Background' });
    await waitUntil(() => seen.at(-1)?.job === null, 'job: null after the delete');
    // A late observer still learns it is gone.
    expect(kube.watcher.current('deleted-later')?.job).toBeNull();
  });

  test('resumes after dropped streams from its resourceVersion: nothing missed, nothing repeated', async () => {
    await createJob('resumed');
    const { kube } = await startWatcher();
    const seen = record(kube, 'resumed');
    const applied = jobEvents('resumed');
    const written: string[] = [];
    for (let step = 1; step <= 12; step++) {
      written.push(await touch('resumed', step));
      if (step % 3 === 0) proxy.dropAll();
    }
    const last = written.at(-1);
    await waitUntil(() => seen.at(-1)?.job?.resourceVersion === last, 'the last change');
    // Every change reached the cache once, in order: none missed, none repeated (the Job
    // controller's own status updates, if any came after the watch started, left aside).
    expect(applied().filter((rv) => written.includes(rv))).toEqual(written);
    // Observers saw the changes in order, never one twice, and the last.
    const observed = rvs(seen).map(Number);
    expect(observed).toEqual([...new Set(observed)].sort((a, b) => a - b));
    expect(kube.watcher.stats().relists).toBe(0);
    expect(kube.watcher.stats().reconnects).toBeGreaterThanOrEqual(4);
  });

  test('relists on 410 Gone and reports Jobs that disappeared meanwhile', async () => {
    await createJob('survivor');
    await createJob('vanishes');
    const { kube, events } = await startWatcher();
    const survivor = record(kube, 'survivor');
    const vanishes = record(kube, 'vanishes');
    // Cut off, while more changes happen than the server's watch history keeps (20, trimmed in batches of 64).
    proxy.setMode('refuse');
    proxy.dropAll();
    let last = '';
    for (let step = 1; step <= 100; step++) last = await touch('survivor', step);
    await batch.deleteNamespacedJob({ name: 'vanishes', namespace: 'default', propagationPolicy: 'Background' });
    proxy.setMode('pass');
    await waitUntil(() => survivor.at(-1)?.job?.resourceVersion === last, "the survivor's last change");
    await waitUntil(() => vanishes.at(-1)?.job === null, 'the vanished Job reported gone');
    expect(events.some((e) => e.type === 'expired')).toBe(true);
    expect(kube.watcher.stats().relists).toBeGreaterThanOrEqual(1);
    expect(survivor.every((o) => o.job !== null)).toBe(true);
  });

  test('a stream that goes silent is aborted and restarted by the stall watchdog', async () => {
    await createJob('stalled');
    const { kube, events } = await startWatcher({ timeoutSeconds: 1, stallGraceMs: 300 });
    const seen = record(kube, 'stalled');
    // Half-open connections: the server's bytes (and its end of the stream) never arrive.
    proxy.silenceOpen();
    proxy.setMode('silent');
    const rv = await touch('stalled', 1);
    await waitUntil(() => kube.watcher.stats().stalls >= 2, 'both streams declared stalled', { timeoutMs: 10_000 });
    proxy.setMode('pass');
    await waitUntil(() => seen.at(-1)?.job?.resourceVersion === rv, 'the change made while stalled');
    expect(events.filter((e) => e.type === 'stalled').length).toBeGreaterThanOrEqual(2);
  });

  test('reconnects with growing, capped back-off while the server refuses (not a tight loop)', async () => {
    const { kube, events } = await startWatcher();
    const before = proxy.connections();
    proxy.setMode('refuse');
    proxy.dropAll();
    await waitUntil(
      () => events.filter((e) => e.type === 'reconnecting' && e.delayMs > 0).length >= 8,
      'eight reconnect attempts',
    );
    const delays = events
      .filter((e): e is Extract<WatcherEvent, { type: 'reconnecting' }> => e.type === 'reconnecting')
      .map((e) => e.delayMs);
    expect(Math.max(...delays)).toBeLessThanOrEqual(100);
    // Connections are bounded by the back-off: far fewer than a tight loop would open.
    expect(proxy.connections() - before).toBeLessThan(200);
    proxy.setMode('pass');
    await createJob('after-outage');
    const seen = record(kube, 'after-outage');
    await waitUntil(() => seen.length > 0, 'the Job created after the outage');
  });

  test('an observed Job the watch never shows is looked up: a 404 reports it gone', async () => {
    const { kube } = await startWatcher({ unseenJobCheckMs: 50 });
    const seen = record(kube, 'never-created');
    await waitUntil(() => seen.length > 0, 'an answer');
    expect(seen[0]?.job).toBeNull();
    expect(cluster.requests().some((r) => r.verb === 'get' && r.name === 'never-created' && r.status === 404)).toBe(
      true,
    );
  });

  test('events(): the Job\'s and its pods\' Events, oldest first, as "Reason: message"', async () => {
    await createJob('eventful');
    const { kube } = await startWatcher();
    const event = (name: string, kind: string, reason: string, message: string, at: string) =>
      core.createNamespacedEvent({
        namespace: 'default',
        body: {
          metadata: { name: `${name}.${reason.toLowerCase()}` },
          involvedObject: { kind, name, namespace: 'default' },
          reason,
          message,
          type: 'Warning',
          lastTimestamp: new Date(at),
          firstTimestamp: new Date(at),
        },
      });
    await event(
      'eventful',
      'Job',
      'BackoffLimitExceeded',
      'Job has reached the specified backoff limit',
      '2026-01-01T00:00:05Z',
    );
    await event('eventful', 'Job', 'SuccessfulCreate', 'Created pod: eventful-x', '2026-01-01T00:00:01Z');
    const events = await kube.watcher.events('eventful');
    // The Job controller's own events (now) come after these two (dated in the past).
    expect(events.slice(0, 2)).toEqual([
      'SuccessfulCreate: Created pod: eventful-x',
      'BackoffLimitExceeded: Job has reached the specified backoff limit',
    ]);
  });

  test('stop() ends both loops and every open watch', async () => {
    const { kube } = await startWatcher();
    await waitUntil(() => cluster.stats().openWatches >= 2, 'two open watches');
    const watchesBefore = cluster.stats().openWatches;
    await kube.watcher.stop();
    await waitUntil(() => cluster.stats().openWatches <= watchesBefore - 2, 'the watches closed');
    await expect(kube.watcher.ready()).resolves.toBeUndefined();
  });
});

describe("JobWatcher under the simulator's own watch faults", () => {
  afterEach(() => cluster.faults.clear());

  async function startDirect(options: { timeoutSeconds?: number; stallGraceMs?: number } = {}) {
    const kube = createKubeAdapter({
      kubeConfig: cluster.kubeConfig,
      namespace: 'default',
      retry: { baseMs: 5, maxMs: 50 },
      watch: { reconnect: { baseMs: 10, maxMs: 100 }, ...options },
    });
    started.push(kube);
    await kube.watcher.start();
    return kube;
  }

  test('streams dropped every 50 ms: every change seen once, in order, without a relist', async () => {
    await createJob('sim-dropped');
    const kube = await startDirect();
    const seen = record(kube, 'sim-dropped');
    const applied = jobEvents('sim-dropped');
    cluster.faults.dropWatchesEvery(50);
    const written: string[] = [];
    for (let step = 1; step <= 20; step++) {
      written.push(await touch('sim-dropped', step));
      await waitUntil(() => cluster.faults.counts().watchesDropped >= step, `drop ${step}`);
    }
    await waitUntil(() => seen.at(-1)?.job?.resourceVersion === written.at(-1), 'the last change');
    expect(applied().filter((rv) => written.includes(rv))).toEqual(written);
    const observed = rvs(seen).map(Number);
    expect(observed).toEqual([...new Set(observed)].sort((a, b) => a - b));
    expect(kube.watcher.stats().relists).toBe(0);
    expect(seen.every((o) => o.job !== null)).toBe(true);
  });

  test('compacted history: the resume gets 410, the watcher relists and catches up', async () => {
    await createJob('sim-compacted');
    const kube = await startDirect();
    const seen = record(kube, 'sim-compacted');
    const rv = await touch('sim-compacted', 1);
    await waitUntil(() => seen.at(-1)?.job?.resourceVersion === rv, 'the first change');
    // Hold the reconnects while the Job changes and the history is compacted behind them.
    cluster.faults.delayRequests({ verbs: ['watch'], ms: 300, times: 2 });
    cluster.faults.dropWatches();
    const last = await touch('sim-compacted', 2);
    cluster.faults.compactHistory();
    await waitUntil(() => seen.at(-1)?.job?.resourceVersion === last, 'the change after the relist');
    expect(kube.watcher.stats().relists).toBeGreaterThanOrEqual(1);
  });

  test('forced 410 on resume (ERROR event): relist, no Job reported gone', async () => {
    await createJob('sim-expired');
    const kube = await startDirect();
    const seen = record(kube, 'sim-expired');
    cluster.faults.expireNextWatches(2);
    cluster.faults.dropWatches();
    await waitUntil(
      () => cluster.faults.counts().watchesExpired >= 2 && kube.watcher.stats().relists >= 2,
      'both resources relisted',
    );
    const rv = await touch('sim-expired', 1);
    await waitUntil(() => seen.at(-1)?.job?.resourceVersion === rv, 'a change after the relist');
    expect(seen.every((o) => o.job !== null)).toBe(true);
  });

  test('a stalled watch (headers, then silence) is restarted by the watchdog', async () => {
    await createJob('sim-stalled');
    const kube = await startDirect({ timeoutSeconds: 1, stallGraceMs: 200 });
    const seen = record(kube, 'sim-stalled');
    cluster.faults.stallNextWatches(2);
    cluster.faults.dropWatches();
    const rv = await touch('sim-stalled', 1);
    await waitUntil(() => kube.watcher.stats().stalls >= 2, 'both stalls detected', { timeoutMs: 10_000 });
    await waitUntil(() => seen.at(-1)?.job?.resourceVersion === rv, 'the change made during the stall');
    expect(cluster.faults.counts().watchesStalled).toBe(2);
  });
});
