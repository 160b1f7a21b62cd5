import { BatchV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';

let cluster: SimulatedCluster;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
});
afterAll(async () => cluster.close());

test('client-node creates, reads, lists and watches a Job', async () => {
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const seen: string[] = [];
  const watch = new Watch(cluster.kubeConfig);
  const controller = await watch.watch('/apis/batch/v1/namespaces/default/jobs', {}, (type, obj) => seen.push(`${type} ${obj.metadata.name}`), () => {});
  const created = await batch.createNamespacedJob({
    namespace: 'default',
    body: { metadata: { name: 'smoke' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } } } },
  });
  expect(created.metadata?.uid).toBeTruthy();
  const list = await batch.listNamespacedJob({ namespace: 'default' });
  expect(list.items.map((j) => j.metadata?.name)).toEqual(['smoke']);
  await expect(batch.createNamespacedJob({ namespace: 'default', body: { metadata: { name: 'smoke' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } } })).rejects.toMatchObject({ code: 409 });
  await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  expect(seen).toContain('ADDED smoke');
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const ns = await core.listNamespace();
  expect(ns.items.map((n) => n.metadata?.name)).toContain('default');
});
