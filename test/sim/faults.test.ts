import { ApiException, BatchV1Api, CoreV1Api, Watch, type V1Job } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';

const job = (name: string): V1Job => ({
  metadata: { name },
  spec: {
    template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['true'] }] } },
  },
});

/** The status and parsed body of a failed client-node call. */
async function failure(
  call: Promise<unknown>,
): Promise<{ code: number; body: unknown; headers: Record<string, string> }> {
  const err: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(err)}`);
  const raw = err.body as unknown;
  let body: unknown = raw;
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw; // a plain-text answer (429) stays text
    }
  }
  return { code: err.code, body, headers: err.headers };
}

/** Rejection of a call whose connection was destroyed (node-fetch's FetchError). */
async function connectionError(call: Promise<unknown>): Promise<{ code?: string; message: string }> {
  const err = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code?: string; message: string } | undefined;
  if (!err) throw new Error('expected the call to fail');
  return err;
}

let cluster: SimulatedCluster;
let batch: BatchV1Api;

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
});
afterEach(() => cluster.faults.clear());
afterAll(async () => cluster.close());

describe('error responses', () => {
  test('a 503 rule answers matching requests with a ServiceUnavailable Status and leaves the rest alone', async () => {
    const rule = cluster.faults.failRequests({ verbs: ['create'], resources: ['jobs'], status: 503, times: 1 });
    const refused = await failure(batch.createNamespacedJob({ namespace: 'default', body: job('e503') }));
    expect(refused.code).toBe(503);
    expect(refused.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the server is currently unable to handle the request',
      reason: 'ServiceUnavailable',
      code: 503,
    });
    expect(cluster.objects('jobs').map((j) => j.metadata.name)).not.toContain('e503');
    // Spent after one hit: the retry goes through, and lists were never affected.
    await batch.listNamespacedJob({ namespace: 'default' });
    await batch.createNamespacedJob({ namespace: 'default', body: job('e503') });
    expect(rule.hits).toBe(1);
    const creates = cluster
      .requests()
      .filter((r) => r.verb === 'create' && r.resource === 'jobs' && r.name === undefined);
    expect(creates.slice(-2).map((r) => r.status)).toEqual([503, 201]);
  });

  test('a 500 is an InternalError Status carrying its cause', async () => {
    cluster.faults.failRequests({
      verbs: ['get'],
      resources: ['jobs'],
      status: 500,
      message: 'etcdserver: leader changed',
    });
    await batch.createNamespacedJob({ namespace: 'default', body: job('e500') });
    const refused = await failure(batch.readNamespacedJob({ namespace: 'default', name: 'e500' }));
    expect(refused.code).toBe(500);
    expect(refused.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Internal error occurred: etcdserver: leader changed',
      reason: 'InternalError',
      details: { causes: [{ message: 'etcdserver: leader changed' }] },
      code: 500,
    });
  });

  test('a 429 is exactly what API Priority and Fairness sends: plain text and Retry-After', async () => {
    cluster.faults.failRequests({ resources: ['jobs'], status: 429, retryAfterSeconds: 7 });
    const response = await fetch(`${cluster.url}/apis/batch/v1/namespaces/default/jobs`);
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('retry-after')).toBe('7');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-kubernetes-pf-flowschema-uid')).toBeTruthy();
    expect(await response.text()).toBe('Too many requests, please try again later.\n');
    const refused = await failure(batch.listNamespacedJob({ namespace: 'default' }));
    expect(refused.code).toBe(429);
    expect(refused.body).toBe('Too many requests, please try again later.\n');
  });

  test('phase "after" applies the write, then answers with the error instead', async () => {
    cluster.faults.failRequests({ verbs: ['create'], resources: ['jobs'], status: 500, phase: 'after', times: 1 });
    const refused = await failure(batch.createNamespacedJob({ namespace: 'default', body: job('committed') }));
    expect(refused.code).toBe(500);
    // The create went through: a retry meets 409, and the audit holds the Job once.
    expect((await batch.readNamespacedJob({ namespace: 'default', name: 'committed' })).metadata?.name).toBe(
      'committed',
    );
    expect((await failure(batch.createNamespacedJob({ namespace: 'default', body: job('committed') }))).code).toBe(409);
    expect(cluster.jobCreations().filter((c) => c.name === 'committed')).toHaveLength(1);
  });

  test('rules match on namespace and name, and faults given at start are active at once', async () => {
    const faulty = await startSimulatedCluster({
      kubelet: { enabled: false },
      namespaces: ['other'],
      faults: { errors: [{ verbs: ['get'], resources: ['jobs'], namespace: 'other', name: 'x', status: 503 }] },
    });
    try {
      const api = faulty.kubeConfig.makeApiClient(BatchV1Api);
      await api.createNamespacedJob({ namespace: 'other', body: job('x') });
      await api.createNamespacedJob({ namespace: 'other', body: job('y') });
      await api.createNamespacedJob({ namespace: 'default', body: job('x') });
      expect((await failure(api.readNamespacedJob({ namespace: 'other', name: 'x' }))).code).toBe(503);
      await api.readNamespacedJob({ namespace: 'other', name: 'y' });
      await api.readNamespacedJob({ namespace: 'default', name: 'x' });
      expect(faulty.faults.counts().errorsByStatus[503]).toBe(1);
    } finally {
      await faulty.close();
    }
  });
});

describe('connection resets', () => {
  test('a reset before dispatch never reaches the API, and is logged with status 0', async () => {
    cluster.faults.resetConnections({ verbs: ['create'], resources: ['jobs'], times: 1 });
    const err = await connectionError(batch.createNamespacedJob({ namespace: 'default', body: job('lost') }));
    expect(err.code).toBe('ECONNRESET');
    expect(cluster.objects('jobs').map((j) => j.metadata.name)).not.toContain('lost');
    expect(cluster.jobCreations().map((c) => c.name)).not.toContain('lost');
    const logged = cluster.requests().filter((r) => r.verb === 'create' && r.resource === 'jobs');
    expect(logged.at(-1)?.status).toBe(0);
    expect(cluster.faults.counts().resets).toBeGreaterThanOrEqual(1);
  });

  test('a reset after dispatch loses the response of a create that happened', async () => {
    cluster.faults.resetConnections({ verbs: ['create'], resources: ['jobs'], phase: 'after', times: 1 });
    const err = await connectionError(batch.createNamespacedJob({ namespace: 'default', body: job('applied') }));
    expect(err.code).toBe('ECONNRESET');
    expect(cluster.jobCreations().filter((c) => c.name === 'applied')).toHaveLength(1);
    expect((await batch.readNamespacedJob({ namespace: 'default', name: 'applied' })).metadata?.name).toBe('applied');
  });
});

describe('latency', () => {
  test('a delayed request is held while requests sent after it are answered', async () => {
    // Its own cluster: the held request only ends when this cluster closes.
    const slow = await startSimulatedCluster({
      kubelet: { enabled: false },
      faults: { latency: [{ verbs: ['list'], resources: ['jobs'], ms: 600_000 }] },
    });
    try {
      let settled = false;
      const held = slow.kubeConfig
        .makeApiClient(BatchV1Api)
        .listNamespacedJob({ namespace: 'default' })
        .finally(() => (settled = true));
      await waitUntil(() => slow.faults.counts().delayed === 1, 'the list to be held');
      const core = slow.kubeConfig.makeApiClient(CoreV1Api);
      expect((await core.listNamespace()).items.length).toBeGreaterThan(0);
      await slow.kubeConfig
        .makeApiClient(BatchV1Api)
        .readNamespacedJob({ namespace: 'default', name: 'none' })
        .catch(() => undefined);
      expect(settled).toBe(false);
      expect(slow.faults.injected()).toEqual([
        expect.objectContaining({ kind: 'latency', delayMs: 600_000, request: 'list jobs' }),
      ]);
      await slow.close();
      await expect(held).rejects.toThrow();
    } finally {
      await slow.close();
    }
  });

  test('a latency range draws each delay within its bounds', async () => {
    cluster.faults.delayRequests({ resources: ['namespaces'], ms: [5, 15] });
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    const before = cluster.faults.injected().length;
    for (let i = 0; i < 5; i++) await core.listNamespace();
    const delays = cluster.faults
      .injected()
      .slice(before)
      .map((f) => f.delayMs ?? -1);
    expect(delays).toHaveLength(5);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(5);
      expect(delay).toBeLessThanOrEqual(15);
    }
    expect(new Set(delays).size).toBeGreaterThan(1);
  });
});

describe('seeded randomness', () => {
  /** Which of 30 sequential reads a rate-0.5 rule hit, on a fresh cluster seeded with `seed`. */
  async function hitPattern(seed: number): Promise<string> {
    const run = await startSimulatedCluster({
      kubelet: { enabled: false },
      faults: { seed, errors: [{ resources: ['namespaces'], status: 503, rate: 0.5 }] },
    });
    try {
      const core = run.kubeConfig.makeApiClient(CoreV1Api);
      let pattern = '';
      for (let i = 0; i < 30; i++) {
        pattern += await core.readNamespace({ name: 'default' }).then(
          () => '.',
          () => 'x',
        );
      }
      return pattern;
    } finally {
      await run.close();
    }
  }

  test('the same seed hits the same requests; another seed hits others', async () => {
    const first = await hitPattern(7);
    expect(await hitPattern(7)).toBe(first);
    expect(first).toMatch(/x/);
    expect(first).toMatch(/\./);
    expect(await hitPattern(8)).not.toBe(first);
  });
});

describe('watch faults', () => {
  /** Opens a client-node watch on Jobs; resolves `ended` with the error the stream ended with. */
  async function openWatch(query: Record<string, string> = {}) {
    const events: { type: string; obj: { code?: number; reason?: string; metadata?: { name?: string } } }[] = [];
    let end!: (err: unknown) => void;
    const ended = new Promise<unknown>((resolve) => (end = resolve));
    const controller = await new Watch(cluster.kubeConfig).watch(
      '/apis/batch/v1/namespaces/default/jobs',
      query,
      (type, obj) => events.push({ type, obj }),
      (err) => end(err),
    );
    return { events, ended, controller };
  }

  test('dropWatchesEvery cuts every open stream, again and again, until turned off', async () => {
    cluster.faults.dropWatchesEvery(20);
    const first = await openWatch();
    expect(await first.ended).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    const second = await openWatch();
    expect(await second.ended).toBeTruthy();
    expect(cluster.faults.counts().watchesDropped).toBeGreaterThanOrEqual(2);
    cluster.faults.dropWatchesEvery(undefined);
    const third = await openWatch();
    await batch.createNamespacedJob({ namespace: 'default', body: job('after-drops') });
    await waitUntil(
      () => third.events.some((e) => e.type === 'ADDED' && e.obj.metadata?.name === 'after-drops'),
      'the event on a watch no longer dropped',
    );
    third.controller.abort();
  });

  test('dropWatches only cuts watches of the resources named', async () => {
    const jobs = await openWatch();
    const pods: unknown[] = [];
    const podWatch = await new Watch(cluster.kubeConfig).watch(
      '/api/v1/namespaces/default/pods',
      {},
      () => {},
      (err) => pods.push(err),
    );
    expect(cluster.faults.dropWatches({ resources: ['jobs'] })).toBe(1);
    expect(await jobs.ended).toBeTruthy();
    expect(pods).toEqual([]);
    podWatch.abort();
  });

  test('expireNextWatches answers the next resuming watch with ERROR 410 Expired, once', async () => {
    const list = await batch.listNamespacedJob({ namespace: 'default' });
    const rv = list.metadata?.resourceVersion ?? '';
    cluster.faults.expireNextWatches(1);
    // A watch from "now" cannot be too old: served normally, the expiry is kept for the next.
    const fresh = await openWatch();
    fresh.controller.abort();
    const expired = await openWatch({ resourceVersion: rv });
    expect(await expired.ended).toBeNull();
    expect(expired.events).toEqual([
      {
        type: 'ERROR',
        obj: expect.objectContaining({
          kind: 'Status',
          status: 'Failure',
          code: 410,
          reason: 'Expired',
          message: expect.stringMatching(new RegExp(`^too old resource version: ${rv} \\(\\d+\\)$`)),
        }),
      },
    ]);
    const resumed = await openWatch({ resourceVersion: rv });
    await batch.createNamespacedJob({ namespace: 'default', body: job('after-expiry') });
    await waitUntil(
      () => resumed.events.some((e) => e.type === 'ADDED' && e.obj.metadata?.name === 'after-expiry'),
      'the resumed watch to deliver',
    );
    resumed.controller.abort();
    expect(cluster.faults.counts().watchesExpired).toBe(1);
  });

  test('stallNextWatches accepts the next watch and then sends nothing, until it is dropped', async () => {
    cluster.faults.stallNextWatches(1);
    const stalled = await openWatch();
    await batch.createNamespacedJob({ namespace: 'default', body: job('unseen') });
    // A second watch, opened after the stalled one, sees the change: the stalled one never does.
    const live = await openWatch({ resourceVersion: '0' });
    await waitUntil(() => live.events.some((e) => e.obj.metadata?.name === 'unseen'), 'the live watch to deliver');
    expect(stalled.events).toEqual([]);
    expect(cluster.stats().openWatches).toBe(2);
    expect(cluster.faults.dropWatches()).toBe(2);
    expect(await stalled.ended).toBeTruthy();
    expect(cluster.faults.counts().watchesStalled).toBe(1);
  });

  test('compactHistory makes every resume from before it 410, while a watch from now works', async () => {
    const rv = (await batch.listNamespacedJob({ namespace: 'default' })).metadata?.resourceVersion ?? '';
    await batch.createNamespacedJob({ namespace: 'default', body: job('before-compaction') });
    cluster.faults.compactHistory();
    const old = await openWatch({ resourceVersion: rv });
    expect(await old.ended).toBeNull();
    expect(old.events.map((e) => [e.type, e.obj.code])).toEqual([['ERROR', 410]]);
  });
});

test('clear() removes every fault and keeps the counts', async () => {
  cluster.faults.failRequests({ resources: ['jobs'], status: 503 });
  cluster.faults.expireNextWatches(3);
  await failure(batch.listNamespacedJob({ namespace: 'default' }));
  const counted = cluster.faults.counts();
  cluster.faults.clear();
  await batch.listNamespacedJob({ namespace: 'default' });
  expect(cluster.faults.counts()).toEqual(counted);
  expect(counted.total).toBe(
    counted.errors +
      counted.delayed +
      counted.resets +
      counted.watchesDropped +
      counted.watchesExpired +
      counted.watchesStalled,
  );
  expect(cluster.faults.injected().at(-1)).toMatchObject({
    kind: 'error',
    status: 503,
    request: 'list jobs',
    namespace: 'default',
  });
});
