import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { taskIdAnnotation } from '../../src/jobs/labels.js';
import { startSimulatedCluster, type ClusterChange, type SimulatedCluster } from '../../src/sim/index.js';
import { openTaskStore } from '../../src/store/open-store.js';
import type { TaskRecord } from '../../src/types.js';
import { waitUntil, within } from '../helpers/wait.js';
import { CrashRun, dropRunSchemas, killAllChildren, killChildrenOf, launchTimeoutMs } from './crash-harness.js';
import { stuckPendingBudgetMs, type FreezePoint } from './protocol.js';
import { randomKills } from './random-kills.js';
import { cancelled, exits, oom, succeeds, timesOut, unpullable } from './task-kinds.js';

/*
 * The crash suite: a real runner in a child process on a SQLite file, SIGKILLed at chosen points
 * and at random instants, restarted on the same file until every task is done. The end state is
 * read from the sim's audit (`jobCreations`, the Jobs left) and from the store: one correct
 * outcome per task, at most one Job per task id, nothing left behind, valid histories, logs kept.
 */

interface CrashFixtures {
  /** A cluster of the test's own: the tests run concurrently, and pod room or audit must not be shared. */
  cluster: SimulatedCluster;
  /** The test's folder: the kubeconfig of its cluster and its runs' stores. */
  dir: string;
}

/*
 * Each test waits mostly on its child runners and the cluster's scaled timers, so the tests run
 * concurrently (vitest's `maxConcurrency` at a time), each on its own cluster and folder. A test's
 * children are killed when it ends, pass or fail, before its folder is removed.
 */
const crashTest = test.extend<CrashFixtures>({
  // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern
  cluster: async ({}, use) => {
    const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
    await use(cluster);
    await cluster.close();
  },
  dir: async ({ cluster }, use) => {
    const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-crash-'));
    await cluster.writeKubeconfig(join(dir, 'kubeconfig.yaml'));
    await use(dir);
    await killChildrenOf(cluster);
    await rm(dir, { recursive: true, force: true });
  },
});
afterAll(async () => {
  await killAllChildren();
  await dropRunSchemas();
});

const limits = { maxConcurrentJobs: 3, queueSize: 50 };

/** Was a Job for this task id accepted by the API server so far? */
const jobCreated = (cluster: SimulatedCluster, taskId: string): boolean =>
  cluster.jobCreations().some((c) => c.annotations[taskIdAnnotation] === taskId);
/** Is a Job for this task id in the sim now? */
const jobExists = (cluster: SimulatedCluster, taskId: string): boolean =>
  cluster.objects('jobs').some((j) => j.metadata.annotations?.[taskIdAnnotation] === taskId);

/** The stored record of a task, read with the child gone. */
async function storedRecord(run: CrashRun, taskId: string): Promise<TaskRecord | undefined> {
  const store = await openTaskStore(run.storeUrl);
  try {
    return await store.getTask(taskId);
  } finally {
    await store.close();
  }
}

/** First launch: the child freezes at `freeze`, then it is SIGKILLed. */
async function crashAt(run: CrashRun, freeze: FreezePoint): Promise<string> {
  const child = await run.launch(freeze);
  const frozen = await within(
    child.waitFor((m) => m.event === 'frozen', `the freeze at ${freeze.at}`),
    launchTimeoutMs,
    () => `no freeze at ${freeze.at} within ${launchTimeoutMs} ms:\n${child.tail()}`,
  );
  await run.kill(`frozen at ${freeze.at}`);
  return frozen.event === 'frozen' ? frozen.detail : '';
}

/** First launch: SIGKILLed from the cluster's change stream, the instant `trigger` matches. */
async function crashOnChange(run: CrashRun, what: string, trigger: (change: ClusterChange) => boolean): Promise<void> {
  const stop = run.cluster.onChange((change) => {
    if (trigger(change)) run.killNow(what);
  });
  try {
    const child = await run.launch();
    const code = await within(
      child.exited,
      launchTimeoutMs,
      () => `no kill at "${what}" within ${launchTimeoutMs} ms:\n${child.tail()}`,
    );
    expect(code, `the child ended by itself before ${what}:\n${child.tail()}`).toBe('SIGKILL');
  } finally {
    stop();
  }
}

/** A change of a pod of this task's Job (the Job name is the task id for these ids). */
const podOf = (change: ClusterChange, taskId: string): boolean =>
  change.resource === 'pods' && change.object.metadata.labels?.['job-name'] === taskId;

/** Restarts until every task is done, then checks the end state. */
async function finishAndCheck(run: CrashRun): Promise<void> {
  await run.runToCompletion();
  expect(await run.endStateProblems()).toEqual([]);
}

crashTest.concurrent(
  'killed right after addTask resolved: the acknowledged task is run once, the rest are added on restart',
  async ({ cluster, dir }) => {
    const run = new CrashRun(
      cluster,
      dir,
      'enqueue',
      [succeeds('enq-1'), succeeds('enq-2'), exits('enq-3', 2), succeeds('enq-4')],
      limits,
    );
    await crashAt(run, { at: 'added', taskId: 'enq-2' });
    expect((await storedRecord(run, 'enq-2'))?.id).toBe('enq-2');
    expect(run.acknowledged.has('enq-3')).toBe(false);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed between `creating` on disk and the create request: the restart creates the Job, once',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'creating', [succeeds('cre-1'), succeeds('cre-2')], limits);
    await crashAt(run, { at: 'state-persisted', taskId: 'cre-1', state: 'creating' });
    expect((await storedRecord(run, 'cre-1'))?.state).toBe('creating');
    expect(jobCreated(cluster, 'cre-1')).toBe(false);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed after the API server stored the Job, before the runner heard back: the restart adopts it',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'created', [succeeds('crt-1', 300), succeeds('crt-2')], limits);
    await crashOnChange(
      run,
      'Job crt-1 created',
      (c) =>
        c.resource === 'jobs' && c.type === 'ADDED' && c.object.metadata.annotations?.[taskIdAnnotation] === 'crt-1',
    );
    const record = await storedRecord(run, 'crt-1');
    expect(record?.state).toBe('creating');
    expect(record?.jobUid).toBeUndefined();
    expect(jobExists(cluster, 'crt-1')).toBe(true);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed while the container runs; it finishes while the runner is down: outcome and logs recovered',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'running', [succeeds('run-1', 300), exits('run-2', 5, 300)], limits);
    await crashOnChange(run, 'pod of run-1 Running', (c) => podOf(c, 'run-1') && c.object.status?.phase === 'Running');
    expect(jobExists(cluster, 'run-1')).toBe(true);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  "down longer than the pending budget while Jobs failed: each keeps Kubernetes' reason, not a stale deadline",
  async ({ cluster, dir }) => {
    const run = new CrashRun(
      cluster,
      dir,
      'long-down',
      [exits('lng-1', 5, 300), oom('lng-2'), unpullable('lng-3'), succeeds('lng-4', 300)],
      { maxConcurrentJobs: 4, queueSize: 50 },
    );
    await crashOnChange(run, 'pod of lng-1 Running', (c) => podOf(c, 'lng-1') && c.object.status?.phase === 'Running');
    // The runner stays down until every deadline it may have stored for these pods (pending budget
    // from the pod's creation, second-resolution timestamps) lies in the past: a restart must then
    // judge from what the cluster shows, which says why each Job failed.
    const downUntil = Date.now() + stuckPendingBudgetMs + 1000;
    await waitUntil(() => Date.now() >= downUntil, 'the pending budget to pass while the runner is down');
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed while a task runs, down past its timeout: it ends timedOut at once on restart',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'timeout', [timesOut('tmo-1'), succeeds('tmo-2')], limits);
    await crashOnChange(run, 'pod of tmo-1 Running', (c) => podOf(c, 'tmo-1') && c.object.status?.phase === 'Running');
    // Down until the deadline (startTime + timeout, second resolution, + the client grace) has
    // passed and Kubernetes' activeDeadlineSeconds has ended the Job and removed its pod: the
    // restart finds a finished Job, a due timer, and no pod left to read logs from.
    const downUntil = Date.now() + 2000 + 1000 + 1000;
    const podGone = (): boolean => !cluster.objects('pods').some((p) => p.metadata.labels?.['job-name'] === 'tmo-1');
    await waitUntil(
      () => Date.now() >= downUntil && podGone(),
      'the timeout to pass and the pod to go while the runner is down',
    );
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed while an unpullable image is failing to pull: it ends failed with the pull error',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'unpullable', [unpullable('pull-1'), succeeds('pull-2')], limits);
    const pullError = (c: ClusterChange): boolean =>
      podOf(c, 'pull-1') &&
      ((c.object.status?.containerStatuses ?? []) as { state?: { waiting?: { reason?: string } } }[]).some(
        (s) => s.state?.waiting?.reason === 'ErrImagePull',
      );
    await crashOnChange(run, 'pod of pull-1 in ErrImagePull', pullError);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed between the final log snapshot and the delete request: logs kept, the Job deleted on restart',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'final-log', [exits('fin-1', 4), succeeds('fin-2')], limits);
    const detail = await crashAt(run, { at: 'final-log-persisted', taskId: 'fin-1' });
    expect(detail).toContain('fin-1 exiting 4');
    expect(jobExists(cluster, 'fin-1')).toBe(true);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed with `deleting` on disk before the delete request: the restart deletes the Job',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'deleting', [succeeds('del-1'), oom('del-2')], limits);
    await crashAt(run, { at: 'state-persisted', taskId: 'del-1', state: 'deleting' });
    expect((await storedRecord(run, 'del-1'))?.state).toBe('deleting');
    expect(jobExists(cluster, 'del-1')).toBe(true);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed after the API server removed the Job, before the runner heard back: the restart treats 404 as done',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'deleted', [succeeds('dls-1'), succeeds('dls-2')], limits);
    await crashOnChange(
      run,
      'Job dls-1 removed',
      (c) =>
        c.resource === 'jobs' && c.type === 'DELETED' && c.object.metadata.annotations?.[taskIdAnnotation] === 'dls-1',
    );
    expect(jobExists(cluster, 'dls-1')).toBe(false);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed mid-cancel, with `cancelled` on disk: the restart harvests and deletes, the outcome stays cancelled',
  async ({ cluster, dir }) => {
    const run = new CrashRun(cluster, dir, 'cancel', [cancelled('can-1'), succeeds('can-2')], limits);
    await crashAt(run, { at: 'state-persisted', taskId: 'can-1', state: 'cancelled' });
    expect((await storedRecord(run, 'can-1'))?.outcome).toBe('cancelled');
    expect(jobExists(cluster, 'can-1')).toBe(true);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  'killed with a queued backlog: queued tasks survive and still start in FIFO order',
  async ({ cluster, dir }) => {
    const ids = Array.from({ length: 8 }, (_, i) => `bl-${i + 1}`);
    // The child adds the tasks one after another (each add durable before the next): all eight
    // must be acknowledged before bl-3's Job is created, i.e. while bl-1 and bl-2 run. At 40 ms
    // each that left about 190 ms, which a loaded CI machine once missed (7 of 8 acknowledged);
    // 500 ms each leaves over a second.
    const run = new CrashRun(
      cluster,
      dir,
      'backlog',
      ids.map((id, i) => succeeds(id, i < 2 ? 500 : 40)),
      { maxConcurrentJobs: 1, queueSize: 50 },
    );
    await crashOnChange(
      run,
      'Job bl-3 created',
      (c) =>
        c.resource === 'jobs' && c.type === 'ADDED' && c.object.metadata.annotations?.[taskIdAnnotation] === 'bl-3',
    );
    expect(run.acknowledged.size).toBe(ids.length);
    await finishAndCheck(run);
    const order = cluster
      .jobCreations()
      .map((c) => c.annotations[taskIdAnnotation])
      .filter((id) => id?.startsWith('bl-'));
    expect(order).toEqual(ids);
  },
);

crashTest.concurrent(
  'killed during a burst of store writes (300 concurrent addTask): no acknowledged task is lost',
  async ({ cluster, dir }) => {
    // 300 adds at once: 900 rows reach the store within a few batches. The child stops in the first
    // batch of at least 200 rows: inside its open transaction when it spans several INSERTs (over
    // 500 rows), else right before its one INSERT. Either way that batch is not on disk.
    const tasks = Array.from({ length: 300 }, (_, i) => succeeds(`burst-${i}`, 10));
    const run = new CrashRun(cluster, dir, 'burst', tasks, {
      maxConcurrentJobs: 40,
      queueSize: 400,
      addConcurrently: true,
    });
    const detail = await crashAt(run, { at: 'burst', minRows: 200 });
    expect(detail).toMatch(/^\d+ rows/);
    const store = await openTaskStore(run.storeUrl);
    const stored = new Set((await store.listOpenTasks()).map((t) => t.record.id));
    await store.close();
    // The frozen batch held at least 200 rows (3 per add): at least 67 tasks are not on disk…
    expect(stored.size).toBeLessThanOrEqual(300 - 67);
    // …and every task whose addTask resolved is.
    expect([...run.acknowledged].filter((id) => !stored.has(id))).toEqual([]);
    await finishAndCheck(run);
  },
);

crashTest.concurrent(
  '100 tasks with mixed outcomes, SIGKILLed at 6 random instants: every task ends once, correctly',
  async ({ cluster, dir }) => {
    // The same check at a third of the size; the full run (300 tasks, 12 kills) is in `npm run test:slow`.
    await randomKills(cluster, dir, { tasks: 100, kills: 6, maxConcurrentJobs: 10 });
  },
);
