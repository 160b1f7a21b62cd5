import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import { KubernetesApiError } from '../../src/errors.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { jobInput } from '../helpers/job-inputs.js';

let cluster: SimulatedCluster;
let kube: KubeAdapter;
const retries: { verb: string; status: number; delayMs: number }[] = [];
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  kube = createKubeAdapter({
    kubeConfig: cluster.kubeConfig,
    namespace: 'default',
    retry: { maxAttempts: 5, baseMs: 5, maxMs: 20 },
    onRetry: (r) => retries.push({ verb: r.verb, status: r.error.statusCode, delayMs: r.delayMs }),
  });
});
afterAll(async () => cluster.close());
afterEach(() => {
  cluster.faults.clear();
  retries.length = 0;
});

const requestsFor = (name: string, verb: string) =>
  cluster
    .requests()
    .filter((r) => r.verb === verb && (r.name === name || (verb === 'create' && r.resource === 'jobs')));

describe('transient API errors are retried', () => {
  test('500 and 503 on create: retried until the Job is created, exactly once', async () => {
    cluster.faults.failRequests({ verbs: ['create'], resources: ['jobs'], status: 500, times: 2 });
    cluster.faults.failRequests({ verbs: ['create'], resources: ['jobs'], status: 503, times: 1 });
    const input = jobInput('retry-create');
    const since = cluster.requests().length;
    const out = await kube.jobs.createJob(input);
    expect(out.adopted).toBe(false);
    const statuses = cluster
      .requests()
      .slice(since)
      .filter((r) => r.verb === 'create')
      .map((r) => r.status);
    expect(statuses).toEqual([500, 500, 503, 201]);
    expect(retries.map((r) => r.status)).toEqual([500, 500, 503]);
    expect(cluster.jobCreations().filter((c) => c.name === 'retry-create')).toHaveLength(1);
  });

  test('429 with Retry-After: the next attempt waits at least that long', async () => {
    await kube.jobs.createJob(jobInput('throttled'));
    cluster.faults.failRequests({
      verbs: ['get'],
      resources: ['jobs'],
      name: 'throttled',
      status: 429,
      retryAfterSeconds: 1,
      times: 1,
    });
    const job = await kube.jobs.getJob('throttled');
    expect(job?.name).toBe('throttled');
    const [rejected, served] = requestsFor('throttled', 'get').slice(-2);
    expect(rejected?.status).toBe(429);
    expect(served?.status).toBe(200);
    // Measured by the server: the retry arrived no sooner than Retry-After allows.
    expect((served?.at ?? 0) - (rejected?.at ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(retries).toEqual([{ verb: 'get', status: 429, delayMs: 1000 }]);
  });

  test('a reset after the create was applied: the retry meets 409 and adopts our Job', async () => {
    cluster.faults.resetConnections({ verbs: ['create'], resources: ['jobs'], phase: 'after', times: 1 });
    const input = jobInput('reset-after-create');
    const out = await kube.jobs.createJob(input);
    expect(out.adopted).toBe(true);
    expect(cluster.jobCreations().filter((c) => c.name === 'reset-after-create')).toHaveLength(1);
    expect(retries[0]).toMatchObject({ verb: 'create', status: 0 });
  });

  test('a reset on delete, then 404 on the retry: done', async () => {
    const input = jobInput('reset-delete');
    const { uid } = await kube.jobs.createJob(input);
    cluster.faults.resetConnections({ verbs: ['delete'], resources: ['jobs'], phase: 'after', times: 1 });
    await expect(kube.jobs.deleteJob(input.jobName, { uid })).resolves.toBe('absent');
    expect(await kube.jobs.getJob(input.jobName)).toBeUndefined();
  });

  test('errors on every verb at 10%: every call still succeeds', async () => {
    cluster.faults.reseed(7);
    cluster.faults.failRequests({ resources: ['*'], status: 500, rate: 0.1 });
    cluster.faults.failRequests({ resources: ['*'], status: 503, rate: 0.1 });
    const inputs = Array.from({ length: 12 }, (_, i) => jobInput(`flaky-${i}`));
    const created = await Promise.all(inputs.map((i) => kube.jobs.createJob(i)));
    for (const [i, input] of inputs.entries())
      expect((await kube.jobs.getJob(input.jobName))?.uid).toBe(created[i]?.uid);
    await Promise.all(inputs.map((i, n) => kube.jobs.deleteJob(i.jobName, { uid: created[n]?.uid })));
    expect((await kube.jobs.listJobs()).filter((j) => j.name.startsWith('flaky-'))).toHaveLength(0);
    expect(cluster.faults.counts().errors).toBeGreaterThan(0);
    for (const input of inputs) expect(cluster.jobCreations().filter((c) => c.name === input.jobName)).toHaveLength(1);
  });

  test('past maxAttempts the last KubernetesApiError is thrown', async () => {
    cluster.faults.failRequests({
      verbs: ['get'],
      resources: ['jobs'],
      name: 'always-failing',
      status: 503,
      message: 'the server is shutting down',
    });
    const err: unknown = await kube.jobs.getJob('always-failing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesApiError);
    expect(err).toMatchObject({ verb: 'get', statusCode: 503, transient: true });
    expect(requestsFor('always-failing', 'get')).toHaveLength(5);
  });
});
