import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { FakeKubelet } from '../helpers/sim-jobs.js';
import { createPod, podNamed } from '../helpers/sim-pods.js';

/*
 * A field-selected LIST answers on the object as stored now. The sim computes a stored object's
 * selectable fields once (a write stores a new object): a pod's `status.phase` must be matched on
 * its current phase, not the one it had when first listed. The test plays the kubelet, so each
 * phase holds until it moves it on.
 */

let cluster: SimulatedCluster;
let core: CoreV1Api;
let kubelet: FakeKubelet;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ kubelet: { enabled: false } });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  kubelet = new FakeKubelet(cluster.kubeConfig);
});
afterAll(async () => cluster.close());

const listed = async (fieldSelector: string): Promise<string[]> =>
  (await core.listNamespacedPod({ namespace: 'default', fieldSelector })).items.map((p) => p.metadata?.name ?? '');

const stored = (name: string) => {
  const pod = podNamed(cluster, name);
  if (!pod) throw new Error(`pod ${name} is not stored`);
  return pod;
};

test('a pod listed by status.phase is found under each phase it passes through, and only under its current one', async () => {
  await createPod(cluster, { name: 'phased' });
  expect(await listed('status.phase=Pending')).toEqual(['phased']);
  expect(await listed('status.phase=Running')).toEqual([]);
  await kubelet.run(stored('phased'));
  expect(await listed('status.phase=Running')).toEqual(['phased']);
  expect(await listed('status.phase=Pending')).toEqual([]);
  expect(await listed('status.phase!=Running')).toEqual([]);
  await kubelet.exit(stored('phased'), 0);
  expect(await listed('status.phase=Running')).toEqual([]);
  expect(await listed('status.phase=Succeeded')).toEqual(['phased']);
  expect(await listed('status.phase!=Running,metadata.name=phased')).toEqual(['phased']);
});
