import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { killAllChildren } from '../crash/crash-harness.js';
import { randomKills } from '../crash/random-kills.js';

/*
 * The crash suite's random-instant run at full size (`npm run test:slow`); `npm test` runs the
 * same check on 100 tasks (test/crash/crash.test.ts).
 */

let cluster: SimulatedCluster;
let dir: string;

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-crash-slow-'));
  await cluster.writeKubeconfig(join(dir, 'kubeconfig.yaml'));
});
afterAll(async () => {
  await killAllChildren();
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('300 tasks with mixed outcomes, SIGKILLed at 12 random instants: every task ends once, correctly', async () => {
  await randomKills(cluster, dir, { tasks: 300, kills: 12 });
}, 600_000);
