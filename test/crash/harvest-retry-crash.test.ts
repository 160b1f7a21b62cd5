import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { waitUntil, within } from '../helpers/wait.js';
import { testEntry } from '../helpers/test-entries.js';
import { ChildRun, killAllChildren } from './crash-harness.js';
import type { ChildMessage } from './protocol.js';
import type { HarvestChildConfig, HarvestChildMessage } from './harvest-child.js';

/*
 * A runner SIGKILLed while a task retries its final log read (the sim answers every log read
 * 503; the runner makes one attempt per read, so each failure is the harvest's to retry). The
 * task's record is in its outcome state, the Job kept. A new runner on the same SQLite file
 * resumes the harvest, counting its limit from the stored `finishedAt`: when the endpoint has
 * recovered the logs are harvested; when it has not, they are declared lost once the limit
 * passed. Either way exactly once: one Job created, one deleted, one `logsLost` at most, the
 * outcome as the container decided.
 */

/** How long one child may take (two tsx processes per test, on a busy machine): a hang shows, slowness not. */
const childTimeoutMs = 60_000;
const testTimeoutMs = 3 * childTimeoutMs;

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let cluster: SimulatedCluster;
let dir: string;
beforeEach(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-harvest-crash-'));
  await cluster.writeKubeconfig(join(dir, 'kubeconfig.yaml'));
});
afterEach(async () => {
  await killAllChildren();
  await cluster.close();
  await rm(dir, { recursive: true, force: true });
});

let launches = 0;
async function launch(config: Omit<HarvestChildConfig, 'kubeconfigPath' | 'storePath'>): Promise<ChildRun> {
  const full: HarvestChildConfig = {
    ...config,
    kubeconfigPath: join(dir, 'kubeconfig.yaml'),
    storePath: join(dir, 'store.sqlite'),
  };
  const configPath = join(dir, `child-${++launches}.json`);
  await writeFile(configPath, JSON.stringify(full));
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', testEntry('test/crash/harvest-child.ts'), configPath],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new ChildRun(child);
}

/** The child's own messages (ChildRun parses any JSON line; this child prints `HarvestChildMessage`s). */
const messagesOf = (run: ChildRun): HarvestChildMessage[] => run.messages as unknown as HarvestChildMessage[];

/** Waits for the child's final record. */
async function finalRecord(run: ChildRun) {
  const message = await within(
    run.waitFor((m) => (m as unknown as HarvestChildMessage).event === 'record', 'the final record'),
    childTimeoutMs,
    () => `the restarted runner did not finish the task:\n${run.tail()}`,
  );
  await run.exited;
  return (message as unknown as Extract<HarvestChildMessage, { event: 'record' }>).record;
}

const logLines = ['started', 'done'];
const failedLogReads = (): number =>
  cluster.requests().filter((r) => r.resource === 'pods/log' && r.status === 503).length;

/** First run: add the task, let it reach `succeeded` and retry its harvest twice, then SIGKILL it. */
async function killMidHarvest(id: string, harvestRetryLimitMs: number): Promise<ChildRun> {
  cluster.faults.failRequests({ verbs: ['get'], resources: ['pods/log'], status: 503 });
  const first = await launch({ taskId: id, add: true, logLines, harvestRetryLimitMs });
  const isSucceeded = (m: ChildMessage): boolean => m.event === 'transition' && m.to === 'succeeded';
  await within(first.waitFor(isSucceeded, 'the outcome'), childTimeoutMs, () => first.tail());
  await waitUntil(() => failedLogReads() >= 2, 'the harvest to retry a failed read', { timeoutMs: childTimeoutMs });
  await first.kill();
  // Killed while retrying: the Job is still there, the record still in its outcome state.
  expect(cluster.objects('jobs').map((j) => j.metadata.name)).toHaveLength(1);
  const store = await openTaskStore(`sqlite://${join(dir, 'store.sqlite')}`);
  try {
    expect(await store.getTask(id)).toMatchObject({ state: 'succeeded', outcome: 'succeeded' });
  } finally {
    await store.close();
  }
  return first;
}

function expectExactlyOnce(jobName: string): void {
  expect(cluster.jobCreations().map((c) => c.name)).toEqual([jobName]);
  const deletes = cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs' && r.status < 300);
  expect(deletes.map((r) => r.name)).toEqual([jobName]);
  expect(cluster.objects('jobs')).toEqual([]);
}

test(
  'SIGKILL while the harvest retries, the log endpoint recovers: the restarted runner harvests the logs, exactly once',
  async () => {
    const first = await killMidHarvest('recovers', 120_000);
    cluster.faults.clear();
    const second = await launch({ taskId: 'recovers', add: false, logLines, harvestRetryLimitMs: 120_000 });
    const record = await finalRecord(second);
    expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    expect(record.logs).toBeUndefined();
    expect([...messagesOf(first), ...messagesOf(second)].filter((m) => m.event === 'runnerEvent')).toEqual([]);
    expectExactlyOnce(record.jobName);
    const store = await openTaskStore(`sqlite://${join(dir, 'store.sqlite')}`);
    try {
      expect(await store.getLogSnapshot('recovers')).toMatchObject({ final: true, text: 'started\ndone\n' });
    } finally {
      await store.close();
    }
  },
  testTimeoutMs,
);

test(
  'SIGKILL while the harvest retries, the endpoint still failing: declared lost once the limit from the outcome passed, exactly once',
  async () => {
    const limitMs = 3000;
    const first = await killMidHarvest('stays-lost', limitMs);
    const second = await launch({ taskId: 'stays-lost', add: false, logLines, harvestRetryLimitMs: limitMs });
    const record = await finalRecord(second);
    expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    expect(record.logs).toEqual({ lost: true, reason: expect.stringContaining(record.jobName) });
    const events = [...messagesOf(first), ...messagesOf(second)].filter((m) => m.event === 'runnerEvent');
    expect(events.map((m) => m.runnerEvent)).toEqual([
      {
        kind: 'logsLost',
        taskId: 'stays-lost',
        jobName: record.jobName,
        outcome: 'succeeded',
        reason: record.logs?.reason,
      },
    ]);
    // The Job was kept until the limit, counted from the stored outcome time, had passed.
    const deletes = cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs');
    expect(deletes[0]?.at).toBeGreaterThanOrEqual(Date.parse(record.finishedAt ?? '') + limitMs);
    expectExactlyOnce(record.jobName);
  },
  testTimeoutMs,
);
