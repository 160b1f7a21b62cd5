import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type V1Pod,
} from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { behaviourAnnotation, startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { jobManifest } from '../helpers/sim-jobs.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * ResourceQuota and LimitRange in the sim through client-node: admission refuses Jobs and pods
 * beyond a quota with the apiserver's exact 403 messages, the quota controller keeps
 * `status.used` current (and gives back what finished or deleted pods held), LimitRange fills
 * defaults and refuses what breaks min/max, and the Job controller turns refused pod creates into
 * FailedCreate events while it keeps retrying.
 */

let cluster: SimulatedCluster;
let core: CoreV1Api;
let batch: BatchV1Api;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
});
afterAll(async () => {
  await cluster.close();
});

/** The status and Status body of a failed client-node call. */
async function failure(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  const err: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(err)}`);
  return { code: err.code, message: (JSON.parse(err.body as string) as { message: string }).message };
}

async function quota(namespace: string, name: string, hard: Record<string, string>): Promise<void> {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedResourceQuota({ namespace, body: { metadata: { name }, spec: { hard } } });
  await waitUntil(async () => (await used(namespace, name)) !== undefined, `quota ${name} synced`);
}

async function used(namespace: string, name: string): Promise<Record<string, string> | undefined> {
  return (await core.readNamespacedResourceQuota({ namespace, name })).status?.used;
}

const resources = { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } };
const pod = (name: string, durationMs: number, res: object | null = resources): V1Pod => ({
  metadata: { name, annotations: { [behaviourAnnotation]: JSON.stringify({ durationMs }) } },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: 'busybox:1.36', ...(res ? { resources: res } : {}) }],
  },
});

describe('ResourceQuota', () => {
  test('count/jobs.batch refuses a Job with the exact message; deleting one gives its room back', async () => {
    await quota('rq-jobs', 'jobs', { 'count/jobs.batch': '1' });
    await batch.createNamespacedJob({ namespace: 'rq-jobs', body: jobManifest('a', { suspend: true }) });
    expect(await used('rq-jobs', 'jobs')).toEqual({ 'count/jobs.batch': '1' });
    const refused = await failure(
      batch.createNamespacedJob({ namespace: 'rq-jobs', body: jobManifest('b', { suspend: true }) }),
    );
    expect(refused).toEqual({
      code: 403,
      message:
        'jobs.batch "b" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, used: count/jobs.batch=1, limited: count/jobs.batch=1',
    });
    await batch.deleteNamespacedJob({ namespace: 'rq-jobs', name: 'a', propagationPolicy: 'Background' });
    await waitUntil(async () => (await used('rq-jobs', 'jobs'))?.['count/jobs.batch'] === '0', 'the Job released');
    await batch.createNamespacedJob({ namespace: 'rq-jobs', body: jobManifest('b', { suspend: true }) });
  });

  test('pods and compute: must specify, exceeded, used kept current and released by finished and deleted pods', async () => {
    await quota('rq-pods', 'compute', {
      pods: '1',
      'requests.cpu': '1',
      'requests.memory': '1Gi',
      'limits.cpu': '2',
      'limits.memory': '2Gi',
    });
    const bare = await failure(core.createNamespacedPod({ namespace: 'rq-pods', body: pod('bare', 0, null) }));
    expect(bare).toEqual({
      code: 403,
      message:
        'pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: main; limits.memory for: main; requests.cpu for: main; requests.memory for: main',
    });
    await core.createNamespacedPod({ namespace: 'rq-pods', body: pod('long', -1) });
    expect(await used('rq-pods', 'compute')).toEqual({
      'limits.cpu': '1',
      'limits.memory': '1Gi',
      pods: '1',
      'requests.cpu': '500m',
      'requests.memory': '512Mi',
    });
    const second = await failure(core.createNamespacedPod({ namespace: 'rq-pods', body: pod('short', 0) }));
    expect(second).toEqual({
      code: 403,
      message: 'pods "short" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=1, limited: pods=1',
    });
    await core.deleteNamespacedPod({ namespace: 'rq-pods', name: 'long', gracePeriodSeconds: 0 });
    await waitUntil(async () => (await used('rq-pods', 'compute'))?.['pods'] === '0', 'the deleted pod released');
    // A pod that finished is still stored but no longer charged.
    await core.createNamespacedPod({ namespace: 'rq-pods', body: pod('short', 0) });
    await waitUntil(
      async () => (await core.readNamespacedPod({ namespace: 'rq-pods', name: 'short' })).status?.phase === 'Succeeded',
      'the short pod done',
    );
    await waitUntil(
      async () => (await used('rq-pods', 'compute'))?.['requests.cpu'] === '0',
      'the finished pod released',
    );
    expect(await used('rq-pods', 'compute')).toMatchObject({ pods: '0', 'requests.memory': '0' });
  });

  test('compute sums keep their units; a dry run is checked but charges nothing', async () => {
    await quota('rq-compute', 'c', { 'requests.cpu': '1', 'requests.memory': '1Gi' });
    const sized = (name: string, cpu: string, memory: string): V1Pod => pod(name, -1, { requests: { cpu, memory } });
    await core.createNamespacedPod({ namespace: 'rq-compute', body: sized('a', '500m', '256Mi') });
    await core.createNamespacedPod({ namespace: 'rq-compute', body: sized('b', '250m', '256Mi') });
    expect(await used('rq-compute', 'c')).toEqual({ 'requests.cpu': '750m', 'requests.memory': '512Mi' });
    const over = await failure(
      core.createNamespacedPod({ namespace: 'rq-compute', body: sized('c', '300m', '768Mi') }),
    );
    expect(over).toEqual({
      code: 403,
      message:
        'pods "c" is forbidden: exceeded quota: c, requested: requests.cpu=300m,requests.memory=768Mi, used: requests.cpu=750m,requests.memory=512Mi, limited: requests.cpu=1,requests.memory=1Gi',
    });
    const dry = await core.createNamespacedPod({
      namespace: 'rq-compute',
      body: sized('d', '250m', '512Mi'),
      dryRun: 'All',
    });
    expect(dry.metadata?.name).toBe('d');
    expect(await used('rq-compute', 'c')).toEqual({ 'requests.cpu': '750m', 'requests.memory': '512Mi' });
    const dryOver = await failure(
      core.createNamespacedPod({ namespace: 'rq-compute', body: sized('e', '251m', '1Mi'), dryRun: 'All' }),
    );
    expect(dryOver.code).toBe(403);
  });

  test('refused pods of a Job are FailedCreate events, retried until the quota has room', async () => {
    await quota('rq-fc', 'none', { pods: '0' });
    await batch.createNamespacedJob({ namespace: 'rq-fc', body: jobManifest('fc') });
    const warnings = (): CoreV1Event[] =>
      cluster.objects('events', 'rq-fc').filter((e) => e['reason'] === 'FailedCreate') as unknown as CoreV1Event[];
    const [event = {} as CoreV1Event] = await waitUntil(
      () => (warnings().length >= 2 ? warnings() : undefined),
      'two FailedCreate events',
    );
    expect(event).toMatchObject({
      type: 'Warning',
      involvedObject: { kind: 'Job', name: 'fc' },
      source: { component: 'job-controller' },
    });
    expect(event.message).toMatch(
      /^Error creating: pods "fc-[a-z0-9]{5}" is forbidden: exceeded quota: none, requested: pods=1, used: pods=0, limited: pods=0$/,
    );
    // A refused create is not a pod failure.
    expect((await batch.readNamespacedJob({ namespace: 'rq-fc', name: 'fc' })).status?.failed ?? 0).toBe(0);
    await core.patchNamespacedResourceQuota(
      { namespace: 'rq-fc', name: 'none', body: { spec: { hard: { pods: '1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitUntil(
      async () =>
        (await batch.readNamespacedJob({ namespace: 'rq-fc', name: 'fc' })).status?.conditions?.some(
          (c) => c.type === 'Complete' && c.status === 'True',
        ),
      'the Job completed once the quota had room',
    );
  });
});

describe('LimitRange', () => {
  test('defaults are applied and annotated; min and max are enforced; a bad range is 422', async () => {
    await core.createNamespace({ body: { metadata: { name: 'lr' } } });
    await core.createNamespacedLimitRange({
      namespace: 'lr',
      body: {
        metadata: { name: 'limits' },
        spec: {
          limits: [
            {
              type: 'Container',
              // client-node's model spells `default` as `_default`.
              _default: { cpu: '500m', memory: '256Mi' },
              defaultRequest: { cpu: '100m' },
              max: { cpu: '1' },
              min: { memory: '64Mi' },
            },
          ],
        },
      },
    });
    const stored = await core.readNamespacedLimitRange({ namespace: 'lr', name: 'limits' });
    // SetDefaults_LimitRangeItem: defaultRequest takes the default's memory.
    expect(stored.spec?.limits[0]?.defaultRequest).toEqual({ cpu: '100m', memory: '256Mi' });
    const defaulted = await core.createNamespacedPod({ namespace: 'lr', body: pod('plain', 0, null) });
    expect(defaulted.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    });
    expect(defaulted.metadata?.annotations?.['kubernetes.io/limit-ranger']).toBe(
      'LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main',
    );
    expect(
      await failure(core.createNamespacedPod({ namespace: 'lr', body: pod('big', 0, { limits: { cpu: '2' } }) })),
    ).toEqual({
      code: 403,
      message: 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2',
    });
    expect(
      await failure(
        core.createNamespacedPod({ namespace: 'lr', body: pod('small', 0, { requests: { memory: '32Mi' } }) }),
      ),
    ).toEqual({
      code: 403,
      message: 'pods "small" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi',
    });
    const bad = await failure(
      core.createNamespacedLimitRange({
        namespace: 'lr',
        body: {
          metadata: { name: 'bad' },
          spec: { limits: [{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }] },
        },
      }),
    );
    expect(bad.code).toBe(422);
    expect(bad.message).toContain(
      'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1',
    );
  });
});

describe('kubectl', () => {
  test('get resourcequota,limitrange prints the server-side columns', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-quota-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      await cluster.writeKubeconfig(kubeconfig);
      await core.createNamespace({ body: { metadata: { name: 'rq-kubectl' } } });
      await core.createNamespacedLimitRange({
        namespace: 'rq-kubectl',
        body: { metadata: { name: 'limits' }, spec: { limits: [{ type: 'Container', max: { cpu: '1' } }] } },
      });
      await core.createNamespacedResourceQuota({
        namespace: 'rq-kubectl',
        body: { metadata: { name: 'q' }, spec: { hard: { pods: '2', 'limits.memory': '1Gi' } } },
      });
      await waitUntil(async () => (await used('rq-kubectl', 'q')) !== undefined, 'quota q synced');
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          process.env['KUBECTL'] ?? 'kubectl',
          ['--kubeconfig', kubeconfig, '-n', 'rq-kubectl', 'get', 'resourcequota,limitrange', '--no-headers'],
          { env: { ...process.env, KUBECACHEDIR: join(dir, 'cache') }, timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`kubectl: ${stderr}`, { cause: err })) : resolve(stdout)),
        ),
      );
      const rows = out
        .trim()
        .split('\n')
        .map((line) => line.split(/\s{2,}/));
      expect(rows[0]).toEqual([
        expect.stringMatching(/^resourcequota\/q$/),
        expect.any(String),
        'pods: 0/2',
        'limits.memory: 0/1Gi',
      ]);
      expect(rows[1]?.[0]).toBe('limitrange/limits');
      expect(rows[1]?.[1]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
