/**
 * The runner side of the long-run memory test (`long-run.ts` spawns it): one runner, in a process
 * of its own run with `--expose-gc`, takes `LONG_RUN_TASKS` tasks through their whole lifecycle on
 * the simulated cluster its parent serves (kubeconfig in `LONG_RUN_KUBECONFIG`), at most
 * `LONG_RUN_IN_FLIGHT` at a time. After every `LONG_RUN_EVERY` finished tasks it lets the writes
 * settle, forces two full collections and prints one JSON line: heap, RSS and what the runner's
 * registry and streams hold. The sim lives in the parent, so these figures are the runner's alone.
 *
 * Every tenth task is followed with `task$` instead of `waitFor`, and a task finished long ago is
 * read back with `getTask`, `waitFor`, `task$`, `cancel`, `getLogs` and `logs$`, so the store's
 * path for finished tasks runs too.
 *
 * With `LONG_RUN_KEEP_SUCCEEDED` the runner has `retention: { succeeded: { maxCount } }` (purging
 * often): before each sample the child waits for the purge to have caught up, and the sample
 * carries the succeeded tasks the store holds and its size (the `store_size_bytes` metric).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { lastValueFrom } from 'rxjs';
import { createRunner } from '../../src/runner/create-runner.js';
import { inspectStreams } from '../../src/runner/task-streams.js';
import type { TaskRecord } from '../../src/types.js';
import { waitUntil } from './wait.js';

/** One line of the child's output. */
export interface LongRunSample {
  /** Tasks finished so far. */
  tasks: number;
  heapUsed: number;
  rss: number;
  /** Records in the registry (open plus the finished cache) and, of those, the open ones. */
  records: number;
  openRecords: number;
  taskStreams: number;
  logStreams: number;
  waiters: number;
  /** Succeeded tasks in the store (counted by pages of `listTasks`). */
  succeededStored: number;
  /** The store's size in bytes (SQLite: page_count × page_size); absent for `memory://`. */
  storeBytes?: number;
}

const number = (name: string): number => {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const tasks = number('LONG_RUN_TASKS');
const every = number('LONG_RUN_EVERY');
const inFlight = number('LONG_RUN_IN_FLIGHT');
const keepSucceeded = process.env.LONG_RUN_KEEP_SUCCEEDED ? number('LONG_RUN_KEEP_SUCCEEDED') : undefined;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromString(process.env.LONG_RUN_KUBECONFIG ?? '');

const runner = await createRunner({
  kubeConfig,
  namespace: 'default',
  store: process.env.LONG_RUN_STORE ?? 'memory://',
  maxConcurrentJobs: 100,
  queueSize: 100_000,
  // Measure the engine, not the client's rate limiter.
  rateLimit: { qps: 100_000, burst: 100_000 },
  ...(keepSucceeded !== undefined
    ? { retention: { succeeded: { maxCount: keepSucceeded }, intervalMs: 100, batchSize: 500 } }
    : {}),
});

/** Succeeded tasks the store holds, counted a page at a time. */
const succeededStored = async (): Promise<number> => {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await runner.listTasks({ outcome: 'succeeded', limit: 1000, ...(cursor ? { cursor } : {}) });
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  return count;
};

/** The `store_size_bytes` gauge, as a scrape reads it. */
const storeBytes = async (): Promise<number | undefined> => {
  const metric = runner.metrics.getSingleMetric('k8s_jobs_store_size_bytes');
  return (await metric?.get())?.values[0]?.value;
};

const lifecycle = async (n: number): Promise<TaskRecord> => {
  const id = `task-${String(n)}`;
  await runner.addTask({ id, image: 'busybox:1.36', command: ['true'] });
  return n % 10 === 0 ? lastValueFrom(runner.task$(id)) : runner.waitFor(id);
};

/** A task finished long ago (out of the finished cache by now): every read comes from the store. */
const readBack = async (n: number): Promise<void> => {
  const id = `task-${String(n)}`;
  const [record, waited, last] = await Promise.all([
    runner.getTask(id),
    runner.waitFor(id, { timeoutMs: 10_000 }),
    lastValueFrom(runner.task$(id)),
    runner.cancel(id),
    runner.getLogs(id),
    lastValueFrom(runner.logs$(id), { defaultValue: '' }),
  ]);
  for (const r of [record, waited, last]) {
    if (r.state !== 'deleted') throw new Error(`${id} read back as ${r.state}`);
  }
};

let next = 0;
let finished = 0;
try {
  while (finished < tasks) {
    const end = Math.min(tasks, finished + every);
    const worker = async (): Promise<void> => {
      while (next < end) {
        const record = await lifecycle(next++);
        if (record.outcome !== 'succeeded') throw new Error(`${record.id} ended ${String(record.outcome)}`);
        finished++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    // With retention, a task still kept (the newest `keepSucceeded` are); else one long finished.
    const back = keepSucceeded === undefined ? 2 * every : Math.floor(keepSucceeded * 0.9);
    if (finished > back) await readBack(finished - back);
    if (keepSucceeded !== undefined) {
      await waitUntil(async () => (await succeededStored()) <= keepSucceeded, 'the purge to catch up', {
        timeoutMs: 60_000,
        intervalMs: 50,
      });
    }
    // Every `deleted` write durable, so every finished task has left the open records (the parent
    // checks they did: a runner that keeps them would only time out here).
    await waitUntil(() => inspectStreams(runner).openRecords === 0, 'the open records to empty', {
      timeoutMs: 2000,
    }).catch(() => undefined);
    gc();
    gc();
    const { heapUsed, rss } = process.memoryUsage();
    const { records, openRecords, taskStreams, logStreams, waiters } = inspectStreams(runner);
    const sample: LongRunSample = {
      tasks: finished,
      heapUsed,
      rss,
      records,
      openRecords,
      taskStreams,
      logStreams,
      waiters,
      succeededStored: await succeededStored(),
      ...(await storeBytes().then((bytes) => (bytes === undefined ? {} : { storeBytes: bytes }))),
    };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  }
} finally {
  await runner.shutdown();
}
