import { ApiException, BatchV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { toKubernetesApiError } from '../../src/kube/api-errors.js';
import { fingerprintSpec } from '../../src/jobs/fingerprint.js';
import { buildJobManifest } from '../../src/kube/job-manifest.js';
import { jobNameFor } from '../../src/jobs/job-name.js';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import { resolveNamespace } from '../../src/kube/kube-client.js';
import { JobConflictError, KubernetesApiError } from '../../src/errors.js';
import { kubeconfigDocument } from '../../src/sim/cluster.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { parseTaskSpec } from '../../src/validation/parse.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: SimulatedCluster;
let kube: KubeAdapter;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false }, namespaces: ['team-a'] });
  kube = createKubeAdapter({ kubeConfig: cluster.kubeConfig, namespace: 'default', retry: { baseMs: 5, maxMs: 20 } });
});
afterAll(async () => cluster.close());

function task(id: string, extra: Record<string, unknown> = {}) {
  const spec = parseTaskSpec({ id, image: 'busybox', command: ['echo', id], ...extra });
  return { taskId: id, jobName: jobNameFor(id), spec, fingerprint: fingerprintSpec(spec) };
}

describe('createJob', () => {
  test('creates the Job from the task spec', async () => {
    const input = task('Create_Me');
    const out = await kube.jobs.createJob(input);
    expect(out.adopted).toBe(false);
    const [created] = cluster.jobCreations().filter((c) => c.name === input.jobName);
    expect(created?.uid).toBe(out.uid);
    expect(created?.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'k8s-jobs',
      'k8s-jobs.io/task-id': 'Create_Me',
    });
    expect(created?.annotations).toMatchObject({
      'k8s-jobs.io/task-id': 'Create_Me',
      'k8s-jobs.io/fingerprint': input.fingerprint,
    });
  });

  test('adopts our Job on 409 when the fingerprint matches (no second Job)', async () => {
    const input = task('adopt-me');
    const first = await kube.jobs.createJob(input);
    const again = await kube.jobs.createJob(input);
    expect(again).toEqual({ uid: first.uid, adopted: true });
    expect(cluster.jobCreations().filter((c) => c.name === 'adopt-me')).toHaveLength(1);
    const statuses = cluster
      .requests()
      .filter((r) => r.verb === 'create' && r.name === undefined && r.resource === 'jobs')
      .map((r) => r.status);
    expect(statuses).toContain(409);
  });

  test('refuses with JobConflictError when a Job with our name was made from another spec', async () => {
    const mine = task('taken');
    const theirs = task('taken', { image: 'alpine' });
    await kube.jobs.createJob(theirs);
    const err: unknown = await kube.jobs.createJob(mine).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobConflictError);
    expect(err).toMatchObject({
      code: 'JOB_CONFLICT',
      jobName: 'taken',
      expectedFingerprint: mine.fingerprint,
      foundFingerprint: theirs.fingerprint,
    });
  });

  test("refuses a Job without our annotation too (someone else's Job)", async () => {
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    const input = task('foreign');
    const body = buildJobManifest({ ...input, namespace: 'default' });
    delete body.metadata?.annotations?.['k8s-jobs.io/fingerprint'];
    await batch.createNamespacedJob({ namespace: 'default', body });
    await expect(kube.jobs.createJob(input)).rejects.toMatchObject({
      code: 'JOB_CONFLICT',
      foundFingerprint: undefined,
    });
  });

  test("a spec the API server rejects fails for good with the API's message (no retries)", async () => {
    const input = task('bad-restart-policy', { podTemplate: { spec: { restartPolicy: 'Always' } } });
    const before = cluster.requests().length;
    const err: unknown = await kube.jobs.createJob(input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesApiError);
    expect(err).toMatchObject({ verb: 'create', statusCode: 422, reason: 'Invalid', transient: false });
    expect((err as KubernetesApiError).apiMessage).toContain('spec.template.spec.restartPolicy');
    expect(
      cluster
        .requests()
        .slice(before)
        .filter((r) => r.verb === 'create'),
    ).toHaveLength(1);
  });
});

describe('deleteJob', () => {
  test.each([
    [undefined, 'Background'],
    ['Background', 'Background'],
    ['Foreground', 'Foreground'],
  ] as const)(
    'deletes with the configured propagation policy (%s): the API server receives %s',
    async (configured, received) => {
      const adapter = createKubeAdapter({
        kubeConfig: cluster.kubeConfig,
        namespace: 'default',
        retry: { baseMs: 5, maxMs: 20 },
        ...(configured ? { propagationPolicy: configured } : {}),
      });
      const input = task(`delete-${configured ?? 'default'}`.toLowerCase());
      const { uid } = await adapter.jobs.createJob(input);
      await expect(adapter.jobs.deleteJob(input.jobName, { uid })).resolves.toBe('deleted');
      const deletes = cluster
        .requests()
        .filter((r) => r.verb === 'delete' && r.resource === 'jobs' && r.name === input.jobName);
      expect(deletes.map((r) => [r.status, r.propagationPolicy])).toEqual([[200, received]]);
      // Foreground: the Job stays (with a finalizer) until the garbage collector has deleted its pods.
      await waitUntil(async () => (await adapter.jobs.getJob(input.jobName)) === undefined, 'the Job to be gone');
    },
  );

  test('404 is done', async () => {
    await expect(kube.jobs.deleteJob('never-existed')).resolves.toBe('absent');
  });

  test('a Job of our name with another uid is not ours: absent, and it is left alone', async () => {
    const input = task('replaced');
    const { uid: oldUid } = await kube.jobs.createJob(input);
    await kube.jobs.deleteJob(input.jobName, { uid: oldUid });
    const { uid: newUid } = await kube.jobs.createJob(input);
    await expect(kube.jobs.deleteJob(input.jobName, { uid: oldUid })).resolves.toBe('absent');
    expect((await kube.jobs.getJob(input.jobName))?.uid).toBe(newUid);
  });
});

describe('listJobs', () => {
  test('lists only Jobs carrying our label, with a resourceVersion to watch from', async () => {
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'not-ours' },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
      },
    });
    await kube.jobs.createJob(task('listed'));
    const list = await kube.api.listJobs();
    const names = list.items.map((j) => j.metadata?.name);
    expect(names).toContain('listed');
    expect(names).not.toContain('not-ours');
    expect(Number(list.resourceVersion)).toBeGreaterThan(0);
  });
});

describe('toKubernetesApiError', () => {
  test('a refused connection is transient (network error, status 0)', async () => {
    const closed = await startSimulatedCluster({ kubelet: { enabled: false } });
    const kubeConfig = closed.kubeConfig;
    await closed.close();
    const gone = createKubeAdapter({
      kubeConfig,
      namespace: 'default',
      retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 },
    });
    const err: unknown = await gone.jobs.getJob('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesApiError);
    expect(err).toMatchObject({ statusCode: 0, reason: 'ECONNREFUSED', transient: true });
  });

  test('401 (a wrong token) is permanent', async () => {
    const guarded = await startSimulatedCluster({ kubelet: { enabled: false }, token: 'right' });
    try {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromString(JSON.stringify(kubeconfigDocument(guarded.url, 'wrong')));
      const other = createKubeAdapter({ kubeConfig, namespace: 'default' });
      await expect(other.jobs.getJob('x')).rejects.toMatchObject({ statusCode: 401, transient: false });
      expect(guarded.requests().filter((r) => r.verb === 'get')).toHaveLength(1);
    } finally {
      await guarded.close();
    }
  });

  test("403 (RBAC) is permanent, with the API's message; the watcher's ready() rejects with it", async () => {
    const restricted = await startSimulatedCluster({
      kubelet: { enabled: false },
      rbac: {
        rules: [{ apiGroups: [''], resources: ['pods', 'pods/log', 'events'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    try {
      const other = createKubeAdapter({ kubeConfig: restricted.kubeConfig, namespace: 'default' });
      const err: unknown = await other.jobs.createJob(task('forbidden')).catch((e: unknown) => e);
      expect(err).toMatchObject({ statusCode: 403, reason: 'Forbidden', transient: false });
      expect((err as KubernetesApiError).apiMessage).toContain('cannot create resource "jobs"');
      await expect(other.watcher.start()).rejects.toMatchObject({ statusCode: 403, verb: 'list' });
      await other.watcher.stop();
    } finally {
      await restricted.close();
    }
  });

  test('an ApiException is classified by its status; its string body is parsed as a Status', () => {
    const status = JSON.stringify({
      kind: 'Status',
      code: 429,
      reason: 'TooManyRequests',
      message: 'slow down',
      details: { retryAfterSeconds: 3 },
    });
    expect(toKubernetesApiError(new ApiException(429, 'HTTP-Code: 429', status, {}), 'create', 'jobs/x')).toMatchObject(
      { statusCode: 429, reason: 'TooManyRequests', apiMessage: 'slow down', transient: true, retryAfterSeconds: 3 },
    );
    expect(
      toKubernetesApiError(new ApiException(503, 'x', 'upstream down', { 'retry-after': '7' }), 'get', 'jobs/x'),
    ).toMatchObject({ apiMessage: 'upstream down', transient: true, retryAfterSeconds: 7 });
    expect(toKubernetesApiError(new ApiException(401, 'Unauthorized', undefined, {}), 'get', 'jobs/x')).toMatchObject({
      statusCode: 401,
      apiMessage: 'Unauthorized',
      transient: false,
    });
    expect(
      toKubernetesApiError(new ApiException(403, 'x', '{"reason":"Forbidden","message":"no"}', {}), 'get', 'jobs/x'),
    ).toMatchObject({ reason: 'Forbidden', transient: false });
  });

  test('classifies by status and code, never by message', () => {
    const withCode = (code: string, message: string) => Object.assign(new Error(message), { code });
    expect(toKubernetesApiError(withCode('ECONNRESET', 'anything'), 'get', 'jobs/x')).toMatchObject({
      transient: true,
      statusCode: 0,
    });
    expect(
      toKubernetesApiError(withCode('ERR_STREAM_PREMATURE_CLOSE', 'Premature close'), 'watch', 'jobs'),
    ).toMatchObject({ transient: true });
    expect(toKubernetesApiError(withCode('ENOTFOUND', 'timeout and reset'), 'get', 'jobs/x')).toMatchObject({
      transient: false,
    });
    expect(toKubernetesApiError(Object.assign(new Error('Gone'), { statusCode: 410 }), 'watch', 'jobs')).toMatchObject({
      statusCode: 410,
      transient: false,
    });
    expect(toKubernetesApiError(Object.assign(new Error('x'), { statusCode: 503 }), 'watch', 'jobs')).toMatchObject({
      statusCode: 503,
      transient: true,
    });
    expect(
      toKubernetesApiError(new DOMException('This operation was aborted', 'AbortError'), 'get', 'jobs/x'),
    ).toMatchObject({ reason: 'Timeout', transient: true });
    expect(toKubernetesApiError(new TypeError('bug'), 'get', 'jobs/x')).toMatchObject({
      transient: false,
      apiMessage: 'bug',
    });
  });
});

describe('resolveNamespace', () => {
  test("'' is the context's namespace, else the pod's own, else default", () => {
    const withNs = new KubeConfig();
    withNs.loadFromString(JSON.stringify(kubeconfigDocument('http://127.0.0.1:1', 't', 'team-a')));
    expect(resolveNamespace(withNs, '')).toBe('team-a');
    expect(resolveNamespace(withNs, 'explicit')).toBe('explicit');
    const withoutNs = new KubeConfig();
    withoutNs.loadFromClusterAndUser(
      { name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true },
      { name: 'u', token: 't' },
    );
    expect(resolveNamespace(withoutNs, '', '/nonexistent/namespace')).toBe('default');
    expect(resolveNamespace(withoutNs, '', new URL('./fixtures/namespace', import.meta.url).pathname)).toBe('from-pod');
  });
});
