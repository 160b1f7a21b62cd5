import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  CoordinationV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  Watch,
  type V1Lease,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * coordination.k8s.io/v1 Leases served by the simulated API server, through client-node's
 * CoordinationV1Api over real HTTP and through the real kubectl: CRUD, optimistic concurrency
 * with the apiserver's messages, validation, MicroTime decoding, watch, discovery and printing.
 */

let cluster: SimulatedCluster;
let api: CoordinationV1Api;
let workDir: string;

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  api = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
  workDir = await mkdtemp(join(tmpdir(), 'k8s-jobs-leases-'));
});
afterAll(async () => {
  await cluster.close();
  await rm(workDir, { recursive: true, force: true });
});

const now = () => new V1MicroTime(Date.now());

function lease(name: string, spec: V1Lease['spec'] = {}): V1Lease {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec };
}

/** The Status body of a failed client-node call. */
async function failure(call: Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = JSON.parse(err.body as string) as { code: number; reason: string; message: string };
    return { code: err.code, reason: body.reason, message: body.message };
  }
  throw new Error('the call succeeded');
}

describe('Leases through client-node', () => {
  test('create, get, update with the resourceVersion read, list, delete', async () => {
    const created = await api.createNamespacedLease({
      namespace: 'default',
      body: lease('crud', { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: now(), renewTime: now() }),
    });
    expect(created.metadata?.resourceVersion).toBeTruthy();
    expect(created.metadata?.generation).toBeUndefined();
    const read = await api.readNamespacedLease({ name: 'crud', namespace: 'default' });
    expect(read.spec?.holderIdentity).toBe('a');
    // MicroTime comes back with six fractional digits.
    expect(String(read.spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    const updated = await api.replaceNamespacedLease({
      name: 'crud',
      namespace: 'default',
      body: { ...read, spec: { ...read.spec, holderIdentity: 'b', leaseTransitions: 1 } },
    });
    expect(updated.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(cluster.objects('leases', 'default').find((l) => l.metadata.name === 'crud')?.spec.holderIdentity).toBe('b');
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));
    const list = await api.listNamespacedLease({ namespace: 'default' });
    expect(list.items.map((l) => l.metadata?.name)).toContain('crud');
    await api.deleteNamespacedLease({ name: 'crud', namespace: 'default' });
    expect((await failure(api.readNamespacedLease({ name: 'crud', namespace: 'default' }))).code).toBe(404);
  });

  test('an update carrying a stale resourceVersion is 409 Conflict with the apiserver message', async () => {
    const first = await api.createNamespacedLease({
      namespace: 'default',
      body: lease('stale', { holderIdentity: 'a' }),
    });
    await api.replaceNamespacedLease({
      name: 'stale',
      namespace: 'default',
      body: { ...first, spec: { holderIdentity: 'b' } },
    });
    const conflict = await failure(
      api.replaceNamespacedLease({
        name: 'stale',
        namespace: 'default',
        body: { ...first, spec: { holderIdentity: 'c' } },
      }),
    );
    expect(conflict).toEqual({
      code: 409,
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on leases.coordination.k8s.io "stale": the object has been modified; please apply your changes to the latest version and try again',
    });
    expect((await api.readNamespacedLease({ name: 'stale', namespace: 'default' })).spec?.holderIdentity).toBe('b');
  });

  test('creating an existing name is 409 AlreadyExists', async () => {
    await api.createNamespacedLease({ namespace: 'default', body: lease('twice') });
    expect(await failure(api.createNamespacedLease({ namespace: 'default', body: lease('twice') }))).toEqual({
      code: 409,
      reason: 'AlreadyExists',
      message: 'leases.coordination.k8s.io "twice" already exists',
    });
  });

  test('a PUT without resourceVersion is 422; a PUT to a missing name creates it', async () => {
    const created = await api.replaceNamespacedLease({
      name: 'put-created',
      namespace: 'default',
      body: lease('put-created', { holderIdentity: 'a' }),
    });
    expect(created.spec?.holderIdentity).toBe('a');
    expect(
      await failure(
        api.replaceNamespacedLease({ name: 'put-created', namespace: 'default', body: lease('put-created') }),
      ),
    ).toEqual({
      code: 422,
      reason: 'Invalid',
      message:
        'Lease.coordination.k8s.io "put-created" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    });
  });

  test('validation: a non-positive leaseDurationSeconds and a negative leaseTransitions are 422', async () => {
    expect(
      await failure(
        api.createNamespacedLease({
          namespace: 'default',
          body: lease('bad', { leaseDurationSeconds: 0, leaseTransitions: -1 }),
        }),
      ),
    ).toEqual({
      code: 422,
      reason: 'Invalid',
      message:
        'Lease.coordination.k8s.io "bad" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]',
    });
  });

  test('a MicroTime with three fractional digits (Date#toISOString) is refused with 400, as the apiserver does', async () => {
    const answer = await fetch(`${cluster.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(lease('millis', { renewTime: '2026-08-11T19:37:19.103Z' as unknown as V1MicroTime })),
    });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { message: string }).message).toBe(
      'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-08-11T19:37:19.103Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".103Z" as ".000000"',
    );
  });

  test('merge, strategic-merge and JSON patches apply to the spec', async () => {
    await api.createNamespacedLease({ namespace: 'default', body: lease('patched', { holderIdentity: 'a' }) });
    const patch = (body: unknown, type: PatchStrategy) =>
      api.patchNamespacedLease({ name: 'patched', namespace: 'default', body }, setHeaderOptions('Content-Type', type));
    expect((await patch({ spec: { holderIdentity: 'm' } }, PatchStrategy.MergePatch)).spec?.holderIdentity).toBe('m');
    expect((await patch({ spec: { leaseTransitions: 3 } }, PatchStrategy.StrategicMergePatch)).spec).toMatchObject({
      holderIdentity: 'm',
      leaseTransitions: 3,
    });
    const jsonPatched = await patch(
      [{ op: 'replace', path: '/spec/holderIdentity', value: 'j' }],
      PatchStrategy.JsonPatch,
    );
    expect(jsonPatched.spec).toMatchObject({ holderIdentity: 'j', leaseTransitions: 3 });
  });

  test('a watch sees a Lease added and modified', async () => {
    const seen: string[] = [];
    const watch = new Watch(cluster.kubeConfig);
    const request = await watch.watch(
      '/apis/coordination.k8s.io/v1/namespaces/default/leases',
      { fieldSelector: 'metadata.name=watched' },
      (type: string, obj: V1Lease) => seen.push(`${type} ${obj.spec?.holderIdentity ?? ''}`),
      () => undefined,
    );
    try {
      const created = await api.createNamespacedLease({
        namespace: 'default',
        body: lease('watched', { holderIdentity: 'a' }),
      });
      await api.replaceNamespacedLease({
        name: 'watched',
        namespace: 'default',
        body: { ...created, spec: { holderIdentity: 'b' } },
      });
      await waitUntil(() => seen.length >= 2, 'two watch events');
      expect(seen).toEqual(['ADDED a', 'MODIFIED b']);
    } finally {
      request.abort();
    }
  });

  test('discovery lists leases in coordination.k8s.io/v1', async () => {
    const answer = (await (await fetch(`${cluster.url}/apis/coordination.k8s.io/v1`)).json()) as {
      resources: { name: string; namespaced: boolean; kind: string; verbs: string[] }[];
    };
    expect(answer.resources).toEqual([
      expect.objectContaining({
        name: 'leases',
        namespaced: true,
        kind: 'Lease',
        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      }),
    ]);
  });

  test('OpenAPI v3 serves the coordination.k8s.io/v1 document with the Lease schema and operations', async () => {
    const doc = (await (await fetch(`${cluster.url}/openapi/v3/apis/coordination.k8s.io/v1`)).json()) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const path = '/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}';
    expect(doc.paths[path]?.['put']?.operationId).toBe('replaceCoordinationV1NamespacedLease');
    expect(Object.keys(doc.components.schemas['io.k8s.api.coordination.v1.LeaseSpec']?.properties ?? {})).toEqual(
      expect.arrayContaining([
        'holderIdentity',
        'leaseDurationSeconds',
        'acquireTime',
        'renewTime',
        'leaseTransitions',
      ]),
    );
  });
});

describe('Leases through the real kubectl', () => {
  const kubectl = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      execFile(
        process.env['KUBECTL'] ?? 'kubectl',
        ['--kubeconfig', join(workDir, 'kubeconfig'), ...args],
        { env: { ...process.env, KUBECACHEDIR: join(workDir, 'cache') }, timeout: 60_000 },
        (err, stdout, stderr) => {
          if (err && typeof err.code !== 'number') reject(err);
          else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
        },
      );
    });

  test('kubectl get leases shows NAME, HOLDER and AGE; explain knows the fields', async () => {
    await cluster.writeKubeconfig(join(workDir, 'kubeconfig'));
    await api.createNamespacedLease({
      namespace: 'default',
      body: lease('shown', { holderIdentity: 'pod-a_1234', leaseDurationSeconds: 15, renewTime: now() }),
    });
    const got = await kubectl('get', 'leases', 'shown');
    expect(got.stderr).toBe('');
    const [header, row] = got.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.trim().split(/\s{2,}/));
    expect(header).toEqual(['NAME', 'HOLDER', 'AGE']);
    expect(row?.slice(0, 2)).toEqual(['shown', 'pod-a_1234']);
    const explained = await kubectl('explain', 'lease.spec.holderIdentity');
    expect(explained.stderr).toBe('');
    expect(explained.stdout).toContain('holderIdentity');
  });
});
