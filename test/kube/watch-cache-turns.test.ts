import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect, test } from 'vitest';
import type { ClusterObservation } from '../../src/machines/task/contract.js';
import { WatchCache } from '../../src/kube/watch-cache.js';

const job = (resourceVersion: string, conditions: string[] = []): V1Job => ({
  metadata: { name: 'j', uid: 'uid-j', resourceVersion },
  status: { conditions: conditions.map((type) => ({ type, status: 'True' })) },
});

const pod = (name: string, phase: string): V1Pod => ({
  metadata: { name, uid: `uid-${name}`, resourceVersion: `${name}-${phase}`, labels: { 'job-name': 'j' } },
  status: { phase },
});

/** A live cache observing Job `j`, and what its one observer was told, summarised. */
function observedCache(): { cache: WatchCache; told: string[] } {
  const cache = new WatchCache({
    now: () => 0,
    tombstoneLimit: 10,
    onListenerError: (_, error) => {
      throw error;
    },
  });
  cache.goLive();
  const told: string[] = [];
  const summary = (o: ClusterObservation): string => {
    const status = o.job ? `rv ${o.job.resourceVersion}${o.job.conditions.map((c) => ` ${c.type}`).join('')}` : 'gone';
    return [status, ...o.pods.map((p) => `${p.name} ${p.phase}`)].join(', ');
  };
  cache.observe('j', (observation) => told.push(summary(observation)));
  return { cache, told };
}

test("a Job's changes in one turn are told once, with the latest view, after the turn; each turn's apart", async () => {
  const { cache, told } = observedCache();
  cache.applyJob('ADDED', job('1'));
  cache.applyPod('ADDED', pod('p1', 'Pending'));
  cache.applyPod('MODIFIED', pod('p1', 'Running'));
  cache.applyJob('MODIFIED', job('2'));
  expect(told).toEqual([]);
  await nextTurn();
  expect(told).toEqual(['rv 2, p1 Running']);

  cache.applyPod('MODIFIED', pod('p1', 'Succeeded'));
  await nextTurn();
  cache.applyJob('MODIFIED', job('3', ['Complete']));
  await nextTurn();
  expect(told).toEqual(['rv 2, p1 Running', 'rv 2, p1 Succeeded', 'rv 3 Complete, p1 Succeeded']);
});

test('a removal first tells the view it is about to leave: a Job that finished and went, a pod that failed and went', async () => {
  const { cache, told } = observedCache();
  cache.applyJob('ADDED', job('1'));
  await nextTurn();
  // The Job's last status and its deletion in the same turn: the machine must see it Complete.
  cache.applyPod('ADDED', pod('p1', 'Succeeded'));
  cache.applyJob('MODIFIED', job('2', ['Complete']));
  cache.applyJob('DELETED', job('3', ['Complete']));
  expect(told).toEqual(['rv 1', 'rv 2 Complete, p1 Succeeded']);
  await nextTurn();
  expect(told).toEqual(['rv 1', 'rv 2 Complete, p1 Succeeded', 'gone, p1 Succeeded']);

  // A pod that failed and was deleted in one turn, its replacement created: the failed pod is told.
  const second = observedCache();
  second.cache.applyJob('ADDED', job('1'));
  second.cache.applyPod('ADDED', pod('p1', 'Failed'));
  second.cache.applyPod('DELETED', pod('p1', 'Failed'));
  second.cache.applyPod('ADDED', pod('p2', 'Pending'));
  expect(second.told).toEqual(['rv 1, p1 Failed']);
  await nextTurn();
  expect(second.told).toEqual(['rv 1, p1 Failed', 'rv 1, p2 Pending']);
});

test('a Job deleted and created again under its name in one turn: its going is told before the new one', async () => {
  const { cache, told } = observedCache();
  cache.applyJob('ADDED', job('1'));
  await nextTurn();
  cache.applyJob('MODIFIED', job('2'));
  cache.applyJob('DELETED', job('3'));
  cache.applyJob('ADDED', { ...job('4'), metadata: { name: 'j', uid: 'uid-other', resourceVersion: '4' } });
  await nextTurn();
  expect(told).toEqual(['rv 1', 'rv 2', 'gone', 'rv 4']);
});

test('a relist or a 404 first tells the changes of the turn so far, then what it changed', async () => {
  const { cache, told } = observedCache();
  cache.applyJob('ADDED', job('1'));
  cache.applyPod('ADDED', pod('p1', 'Failed'));
  // The relists find neither the pod nor the Job any more (each relist tells what came before it).
  cache.replacePods([]);
  expect(told).toEqual(['rv 1, p1 Failed']);
  cache.replaceJobs([]);
  expect(told).toEqual(['rv 1, p1 Failed', 'rv 1']);
  await nextTurn();
  expect(told).toEqual(['rv 1, p1 Failed', 'rv 1', 'gone']);

  const second = observedCache();
  second.cache.applyJob('ADDED', job('1', ['Failed']));
  second.cache.markGone('j');
  expect(second.told).toEqual(['rv 1 Failed']);
  await nextTurn();
  expect(second.told).toEqual(['rv 1 Failed', 'gone']);
});

test('a closed cache tells nothing more, not even the changes of its last turn', async () => {
  const { cache, told } = observedCache();
  cache.applyJob('ADDED', job('1'));
  await nextTurn();
  cache.applyJob('MODIFIED', job('2'));
  cache.close();
  cache.applyJob('MODIFIED', job('3'));
  await nextTurn();
  expect(told).toEqual(['rv 1']);
});
