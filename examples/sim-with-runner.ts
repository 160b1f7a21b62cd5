/**
 * Testing an application that embeds the runner, without a cluster: the simulated cluster in
 * the same process, the runner on it with an in-memory store, and scripted containers that
 * succeed, fail with an exit code, or run out of memory, as the test needs.
 */
import assert from 'node:assert/strict';
import { createRunner } from '../src/index.js';
import { behaviourAnnotation, startSimulatedCluster } from '../src/sim/index.js';

const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
const runner = await createRunner({ kubeConfig: cluster.kubeConfig, store: 'memory://' });
try {
  // What each container does, as a pod annotation the simulated kubelet reads.
  const acting = (behaviour: object) => ({ annotations: { [behaviourAnnotation]: JSON.stringify(behaviour) } });
  await runner.addTask({ id: 'report', image: 'my-app:1.0', ...acting({ logs: ['42 rows'], durationMs: 100 }) });
  await runner.addTask({ id: 'broken', image: 'my-app:1.0', ...acting({ exitCode: 3 }) });
  await runner.addTask({ id: 'greedy', image: 'my-app:1.0', ...acting({ oomKilled: true, durationMs: 50 }) });

  assert.equal((await runner.waitFor('report')).outcome, 'succeeded');
  assert.equal(await runner.getLogs('report'), '42 rows\n');
  assert.equal((await runner.waitFor('broken')).failure?.exitCode, 3);
  assert.equal((await runner.waitFor('greedy')).failure?.oomKilled, true);
  assert.deepEqual(cluster.objects('jobs'), []); // every Job cleaned up
  console.log('all three tasks ended as expected');
} finally {
  await runner.shutdown();
  await cluster.close();
}
