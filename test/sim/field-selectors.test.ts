import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { behaviour, createPod, podWhen } from '../helpers/sim-pods.js';

/*
 * A field-selected LIST answers on the object as stored now. The sim computes a stored object's
 * selectable fields once (a write stores a new object): a pod's `status.phase` must be matched on
 * its current phase, not the one it had when first listed.
 */

let cluster: SimulatedCluster;
let core: CoreV1Api;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ kubelet: { runtime: 'scripted' } });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
});
afterAll(async () => cluster.close());

const listed = async (fieldSelector: string): Promise<string[]> =>
  (await core.listNamespacedPod({ namespace: 'default', fieldSelector })).items.map((p) => p.metadata?.name ?? '');

test('a pod listed by status.phase is found under each phase it passes through, and only under its current one', async () => {
  await createPod(cluster, { name: 'phased', annotations: behaviour({ durationMs: 1500, exitCode: 0 }) });
  await podWhen(cluster, 'phased', 'running', (pod) => pod.status?.phase === 'Running');
  expect(await listed('status.phase=Running')).toEqual(['phased']);
  expect(await listed('status.phase=Succeeded')).toEqual([]);
  expect(await listed('status.phase!=Running')).toEqual([]);
  await podWhen(cluster, 'phased', 'succeeded', (pod) => pod.status?.phase === 'Succeeded', { timeoutMs: 10_000 });
  expect(await listed('status.phase=Running')).toEqual([]);
  expect(await listed('status.phase=Succeeded')).toEqual(['phased']);
  expect(await listed('status.phase!=Running,metadata.name=phased')).toEqual(['phased']);
});
