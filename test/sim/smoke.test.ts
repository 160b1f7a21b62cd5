import { BatchV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { getJson } from '../helpers/sim-pods.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: SimulatedCluster;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
});
afterAll(async () => cluster.close());

test('client-node creates, reads, lists and watches a Job', async () => {
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const seen: string[] = [];
  const watch = new Watch(cluster.kubeConfig);
  const controller = await watch.watch(
    '/apis/batch/v1/namespaces/default/jobs',
    {},
    (type, obj) => seen.push(`${type} ${obj.metadata.name}`),
    () => {},
  );
  const created = await batch.createNamespacedJob({
    namespace: 'default',
    body: {
      metadata: { name: 'smoke' },
      spec: {
        template: {
          spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['true'] }] },
        },
      },
    },
  });
  expect(created.metadata?.uid).toBeTruthy();
  const list = await batch.listNamespacedJob({ namespace: 'default' });
  expect(list.items.map((j) => j.metadata?.name)).toEqual(['smoke']);
  await expect(
    batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'smoke' },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
      },
    }),
  ).rejects.toMatchObject({ code: 409 });
  await waitUntil(() => seen.includes('ADDED smoke'), 'the watch to show the Job');
  controller.abort();
  expect(seen[0]).toBe('ADDED smoke');
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const ns = await core.listNamespace();
  expect(ns.items.map((n) => n.metadata?.name)).toContain('default');
});

test('an unknown path, under /api or /apis or not, is 404 NotFound with a Status body, as kube-apiserver answers it', async () => {
  for (const path of ['/not-an-api', '/apis/nope.example.com/v1/things', '/api/v1/nothings']) {
    const { status, body } = await getJson(cluster, path);
    expect(status, path).toBe(404);
    expect(body, path).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: 'the server could not find the requested resource',
    });
  }
});
