import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, Watch, type V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { PolicyRule } from '../../src/sim/rbac.js';
import { waitUntil } from '../helpers/wait.js';

const user = 'system:serviceaccount:default:k8s-jobs';

const job = (name: string): V1Job => ({
  metadata: { name },
  spec: {
    template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['true'] }] } },
  },
});

/** The HTTP status and parsed Status body of a refused client-node call. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; body: unknown }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(err)}`);
  const raw = err.body as unknown;
  return { code: err.code, body: typeof raw === 'string' && raw.startsWith('{') ? (JSON.parse(raw) as unknown) : raw };
}

const forbidden = (message: string, details: Record<string, string>) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason: 'Forbidden',
  details,
  code: 403,
});

async function withCluster(
  rules: PolicyRule[],
  run: (cluster: SimulatedCluster) => Promise<void>,
  extra: { namespace?: string; user?: string } = {},
): Promise<void> {
  const cluster = await startSimulatedCluster({
    kubelet: { enabled: false },
    namespaces: ['team'],
    rbac: { rules, ...extra },
  });
  try {
    await run(cluster);
  } finally {
    await cluster.close();
  }
}

describe('a Role-like allow-list', () => {
  let cluster: SimulatedCluster;
  let batch: BatchV1Api;
  let core: CoreV1Api;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({
      kubelet: { enabled: false },
      rbac: {
        rules: [
          { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'create'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        ],
      },
    });
    batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  });
  afterAll(async () => cluster.close());

  test('allowed verbs go through', async () => {
    await batch.createNamespacedJob({ namespace: 'default', body: job('x') });
    expect((await batch.readNamespacedJob({ namespace: 'default', name: 'x' })).metadata?.name).toBe('x');
    expect((await batch.listNamespacedJob({ namespace: 'default' })).items).toHaveLength(1);
  });

  test('a delete outside the rules is 403 with the apiserver’s Status and message', async () => {
    expect(
      await refusal(batch.deleteNamespacedJob({ namespace: 'default', name: 'x', propagationPolicy: 'Background' })),
    ).toEqual({
      code: 403,
      body: forbidden(
        `jobs.batch "x" is forbidden: User "${user}" cannot delete resource "jobs" in API group "batch" in the namespace "default"`,
        { name: 'x', group: 'batch', kind: 'jobs' },
      ),
    });
    expect(cluster.objects('jobs').map((j) => j.metadata.name)).toEqual(['x']);
    expect(cluster.requests().at(-1)).toMatchObject({ verb: 'delete', resource: 'jobs', name: 'x', status: 403 });
  });

  test('a collection request names no object; core resources have no group', async () => {
    expect(await refusal(core.listNamespacedEvent({ namespace: 'default' }))).toEqual({
      code: 403,
      body: forbidden(
        `events is forbidden: User "${user}" cannot list resource "events" in API group "" in the namespace "default"`,
        { kind: 'events' },
      ),
    });
    expect(await refusal(batch.deleteCollectionNamespacedJob({ namespace: 'default' }))).toMatchObject({
      body: {
        message: `jobs.batch is forbidden: User "${user}" cannot deletecollection resource "jobs" in API group "batch" in the namespace "default"`,
      },
    });
  });

  test('across all namespaces the scope is the cluster', async () => {
    // Rules without a namespace hold everywhere (a ClusterRole), so listing Jobs across namespaces is fine.
    await batch.listJobForAllNamespaces();
    expect(await refusal(core.listEventForAllNamespaces())).toEqual({
      code: 403,
      body: forbidden(
        `events is forbidden: User "${user}" cannot list resource "events" in API group "" at the cluster scope`,
        { kind: 'events' },
      ),
    });
  });

  test('a subresource needs its own rule: pods does not grant pods/log', async () => {
    expect(await refusal(core.readNamespacedPodLog({ namespace: 'default', name: 'p' }))).toEqual({
      code: 403,
      body: forbidden(
        `pods "p" is forbidden: User "${user}" cannot get resource "pods/log" in API group "" in the namespace "default"`,
        { name: 'p', kind: 'pods' },
      ),
    });
  });

  test('watch is a verb of its own', async () => {
    const podWatch = await new Watch(cluster.kubeConfig).watch(
      '/api/v1/namespaces/default/pods',
      {},
      () => {},
      () => {},
    );
    await waitUntil(() => cluster.stats().openWatches === 1, 'the pod watch to be served');
    podWatch.abort();
    const jobWatch = await new Promise<unknown>((resolve) => {
      new Watch(cluster.kubeConfig)
        .watch('/apis/batch/v1/namespaces/default/jobs', {}, () => {}, resolve)
        .catch(resolve);
    });
    expect(jobWatch).toMatchObject({ statusCode: 403 });
    expect(cluster.requests().at(-1)).toMatchObject({ verb: 'watch', resource: 'jobs', status: 403 });
  });

  test('discovery and /version stay open', async () => {
    for (const path of ['/version', '/api', '/apis', '/apis/batch/v1']) {
      expect((await fetch(`${cluster.url}${path}`)).status).toBe(200);
    }
  });
});

test('resourceNames limit a rule to those objects, and a name-selected list or watch counts as a request for that name', async () => {
  await withCluster(
    [
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'delete'], resourceNames: ['mine'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create'] },
    ],
    async (cluster) => {
      const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
      await batch.createNamespacedJob({ namespace: 'default', body: job('mine') });
      await batch.createNamespacedJob({ namespace: 'default', body: job('theirs') });
      await batch.readNamespacedJob({ namespace: 'default', name: 'mine' });
      expect((await refusal(batch.readNamespacedJob({ namespace: 'default', name: 'theirs' }))).body).toMatchObject({
        message: `jobs.batch "theirs" is forbidden: User "${user}" cannot get resource "jobs" in API group "batch" in the namespace "default"`,
      });
      expect(
        (await batch.listNamespacedJob({ namespace: 'default', fieldSelector: 'metadata.name=mine' })).items.map(
          (j) => j.metadata?.name,
        ),
      ).toEqual(['mine']);
      expect((await refusal(batch.listNamespacedJob({ namespace: 'default' }))).body).toMatchObject({
        message: expect.stringMatching(/^jobs\.batch is forbidden: .* cannot list /),
      });
      expect(
        (await refusal(batch.listNamespacedJob({ namespace: 'default', fieldSelector: 'metadata.name=theirs' }))).body,
      ).toMatchObject({
        details: { name: 'theirs', group: 'batch', kind: 'jobs' },
      });
      await batch.deleteNamespacedJob({ namespace: 'default', name: 'mine', propagationPolicy: 'Background' });
    },
  );
});

test('wildcards: * verbs, * groups, * resources and */subresource', async () => {
  await withCluster(
    [
      { apiGroups: ['*'], resources: ['jobs'], verbs: ['*'] },
      { apiGroups: [''], resources: ['*/log'], verbs: ['get'] },
    ],
    async (cluster) => {
      const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
      const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
      await batch.createNamespacedJob({ namespace: 'default', body: job('w') });
      await batch.patchNamespacedJob({
        namespace: 'default',
        name: 'w',
        body: [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }],
      });
      await batch.deleteNamespacedJob({ namespace: 'default', name: 'w', propagationPolicy: 'Background' });
      // pods/log passes RBAC (and then finds no pod); pods itself does not.
      expect((await refusal(core.readNamespacedPodLog({ namespace: 'default', name: 'p' }))).code).not.toBe(403);
      expect((await refusal(core.readNamespacedPod({ namespace: 'default', name: 'p' }))).code).toBe(403);
    },
  );
  await withCluster([{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }], async (cluster) => {
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    expect((await core.listNamespace()).items.length).toBeGreaterThan(0);
    await core.listPodForAllNamespaces();
  });
});

test('a namespaced Role holds only in its namespace; cluster-scoped resources name the cluster scope', async () => {
  await withCluster(
    [{ apiGroups: ['', 'batch'], resources: ['jobs', 'namespaces'], verbs: ['get', 'list'] }],
    async (cluster) => {
      const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
      const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
      await batch.listNamespacedJob({ namespace: 'team' });
      expect((await refusal(batch.listNamespacedJob({ namespace: 'default' }))).body).toMatchObject({
        message:
          'jobs.batch is forbidden: User "alice" cannot list resource "jobs" in API group "batch" in the namespace "default"',
      });
      // GET /api/v1/namespaces/team is "in the namespace team", so the Role there allows it.
      await core.readNamespace({ name: 'team' });
      expect((await refusal(core.listNamespace())).body).toMatchObject({
        message:
          'namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope',
      });
    },
    { namespace: 'team', user: 'alice' },
  );
});

test('kubectl prints the 403 as a real cluster’s', async () => {
  await withCluster([{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list'] }], async (cluster) => {
    const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-rbac-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      await cluster.writeKubeconfig(kubeconfig);
      const result = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
        execFile(
          'kubectl',
          ['--kubeconfig', kubeconfig, 'delete', 'job', 'x'],
          { env: { ...process.env, KUBECACHEDIR: join(dir, 'cache') } },
          (err, _stdout, stderr) => {
            if (err && typeof err.code !== 'number') reject(err);
            else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stderr });
          },
        );
      });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `Error from server (Forbidden): jobs.batch "x" is forbidden: User "${user}" cannot delete resource "jobs" in API group "batch" in the namespace "default"`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the token option', () => {
  let cluster: SimulatedCluster;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({ kubelet: { enabled: false }, token: 's3cret' });
  });
  afterAll(async () => cluster.close());

  const unauthorized = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Unauthorized',
    reason: 'Unauthorized',
    code: 401,
  };

  test('the cluster’s own kubeconfig carries the token and is let in', async () => {
    expect(
      (await cluster.kubeConfig.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: 'default' })).items,
    ).toEqual([]);
  });

  test('a wrong or missing token is 401 Unauthorized on every path, discovery included', async () => {
    for (const path of ['/version', '/apis/batch/v1', '/apis/batch/v1/namespaces/default/jobs']) {
      for (const headers of [{}, { Authorization: 'Bearer nope' }] as Record<string, string>[]) {
        const response = await fetch(`${cluster.url}${path}`, { headers });
        expect(response.status).toBe(401);
        expect(await response.json()).toEqual(unauthorized);
      }
    }
    const wrong = new KubeConfig();
    wrong.loadFromClusterAndUser(
      { name: 'sim', server: cluster.url, skipTLSVerify: true },
      { name: 'intruder', token: 'guess' },
    );
    expect(await refusal(wrong.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: 'default' }))).toMatchObject({
      code: 401,
    });
    expect(cluster.requests().at(-1)).toMatchObject({ verb: 'list', resource: 'jobs', status: 401 });
  });
});
