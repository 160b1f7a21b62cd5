/**
 * Boot benches (issue 4's figures). `runEnqueueBench`: enqueue rate, CPU per enqueue and RSS
 * with `tasks` queued tasks, through a real runner (SQLite store, the sim as cluster, one slot so
 * the tasks stay queued), in a process of its own. `runBootBench`: time from `createRunner` to
 * ready on a SQLite store holding `stored` tasks of which `open` are not yet deleted (all queued,
 * so the sim needs no Jobs), with the sim as cluster. Ready = `createRunner` resolved: open tasks
 * loaded through the `open:` index, our Jobs listed, every task resumed, the watch started.
 *
 * Run alone with `npx tsx bench/boot.ts`; `bench/run.ts` collects both as `store:enqueue` and
 * `store:boot`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { jobNameFor } from '../src/jobs/job-name.js';
import { createRunner } from '../src/runner/create-runner.js';
import { startSimulatedCluster } from '../src/sim/index.js';
import { openTaskStore } from '../src/store/open-store.js';
import type { Runner } from '../src/runner/runner-api.js';
import { maxTaskPageSize, type TaskRecord, type Transition } from '../src/types.js';
import { round, type BenchRow } from './section.js';

/** Workload size. */
export interface BootBenchOptions {
  /** Tasks in the store. @default 100000 */
  stored?: number;
  /** Of which not deleted (queued). @default 10000 */
  open?: number;
}

const at = '2026-01-01T00:00:00.000Z';

/** Queued tasks, counted a page at a time (`listTasks` pages at most 1,000). */
async function countQueued(runner: Runner): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await runner.listTasks({ state: 'queued', limit: maxTaskPageSize, ...(cursor ? { cursor } : {}) });
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  return count;
}

/** Fills a store file, then measures one `createRunner` on it. */
export async function runBootBench({ stored = 100_000, open = 10_000 }: BootBenchOptions = {}): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-jobs-boot-'));
  const storeUrl = `sqlite://${join(dir, 'boot.sqlite')}`;
  const cluster = await startSimulatedCluster({ timeScale: 0.01 });
  try {
    const store = await openTaskStore(storeUrl);
    const filled = performance.now();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < stored; i++) {
      const id = `task-${i}`;
      const base: TaskRecord = {
        id,
        spec: { id, image: 'busybox', command: ['echo', String(i)] },
        state: 'queued',
        jobName: jobNameFor(id),
        createdAt: at,
      };
      const queuedAt: Transition = { taskId: id, from: null, to: 'queued', event: 'ADD', at };
      writes.push(store.saveTask(base, queuedAt, { queue: { priority: i % 3, seq: i } }));
      if (i >= open) {
        writes.push(
          store.saveTask(
            { ...base, state: 'deleted', outcome: 'succeeded', deletedAt: at },
            { taskId: id, from: 'queued', to: 'deleted', event: 'SEED', at, outcome: 'succeeded' },
            { context: { jobMayExist: false, jobFinished: true, slotHeld: false } },
          ),
        );
      }
      if (writes.length >= 20_000) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await store.close();
    const fillSeconds = (performance.now() - filled) / 1000;

    const started = performance.now();
    const runner = await createRunner({
      kubeConfig: cluster.kubeConfig,
      namespace: 'default',
      store: storeUrl,
      queueSize: open * 2,
      maxConcurrentJobs: 1,
    });
    const bootMs = performance.now() - started;
    const queued = await countQueued(runner);
    await runner.shutdown({ mode: 'detach' });
    return [
      {
        section: 'store',
        name: `createRunner → ready, ${stored} stored / ${open} open`,
        value: round(bootMs),
        unit: 'ms',
        note: `aim ≤ 3000; ${queued} queued after boot; filling took ${round(fillSeconds, 1)} s`,
      },
    ];
  } finally {
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Workload of the enqueue bench. */
export interface EnqueueBenchOptions {
  /** Tasks enqueued. @default 100000 */
  tasks?: number;
  /** `addTask` calls in flight at once (an application enqueueing from many requests). @default 1000 */
  inFlight?: number;
}

/** What the enqueue run measured, in the process that ran it. */
interface EnqueueFigures {
  tasks: number;
  inFlight: number;
  seconds: number;
  /** `process.cpuUsage()` over the enqueues: every thread of the process, SQLite's included. */
  cpuMs: number;
  rssBefore: number;
  rss: number;
  queued: number;
}

/**
 * Enqueues `tasks` tasks through `addTask` (each durable when it resolves) with `inFlight` calls
 * outstanding, then reads the process's RSS with every task queued. Runs in this process: the sim
 * (holding only the one active Job), the runner and this script.
 */
async function enqueueInThisProcess({
  tasks = 100_000,
  inFlight = 1000,
}: EnqueueBenchOptions): Promise<EnqueueFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-jobs-enqueue-'));
  const storeUrl = `sqlite://${join(dir, 'enqueue.sqlite')}`;
  const cluster = await startSimulatedCluster({ timeScale: 0.01 });
  try {
    const rssBefore = process.memoryUsage().rss;
    const runner = await createRunner({
      kubeConfig: cluster.kubeConfig,
      namespace: 'default',
      store: storeUrl,
      queueSize: tasks + 1,
      maxConcurrentJobs: 1,
    });
    let next = 0;
    const started = performance.now();
    const cpu = process.cpuUsage();
    const worker = async (): Promise<void> => {
      while (next < tasks) {
        const i = next++;
        await runner.addTask({ id: `task-${i}`, image: 'busybox', command: ['echo', String(i)], priority: i % 3 });
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, tasks) }, worker));
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    const rss = process.memoryUsage().rss;
    const queued = await countQueued(runner);
    await runner.shutdown({ mode: 'detach' });
    return { tasks, inFlight, seconds, cpuMs: (used.user + used.system) / 1000, rssBefore, rss, queued };
  } finally {
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Marks the command line of the process that runs {@link enqueueInThisProcess} for the bench. */
const enqueueChildFlag = '--enqueue-child';

/**
 * The enqueue figures, measured in a process of their own (this file, through tsx): the bench
 * process has run other sections by then, and its RSS and heap (hundreds of MiB) would be counted
 * as the runner's and slow its collections. The RSS row is that process's whole RSS; the note
 * gives its RSS before the runner started (Node, tsx's loader, the modules, the sim).
 */
export async function runEnqueueBench(options: EnqueueBenchOptions = {}): Promise<BenchRow[]> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), enqueueChildFlag, JSON.stringify(options)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the enqueue bench's process exited with ${String(code)}`);
  const { tasks, inFlight, seconds, cpuMs, rssBefore, rss, queued } = JSON.parse(out) as EnqueueFigures;
  const mib = (bytes: number): number => round(bytes / 2 ** 20);
  return [
    {
      section: 'store',
      name: `enqueue rate, ${tasks} tasks (${inFlight} in flight, durable)`,
      value: round(tasks / seconds),
      unit: 'tasks/s',
      note: `aim ≥ 10000; ${queued} queued at the end; a process of its own`,
    },
    {
      section: 'store',
      name: 'CPU per enqueue',
      value: round((cpuMs * 1000) / tasks),
      unit: 'µs',
      note: "process.cpuUsage() over the enqueues: every thread, SQLite's included",
    },
    {
      section: 'store',
      name: `RSS with ${tasks} queued tasks`,
      value: mib(rss),
      unit: 'MiB',
      note: `aim ≤ 300; ${mib(rssBefore)} MiB before the runner started (Node, tsx, the modules, the sim)`,
    },
  ];
}

if (process.argv[2] === enqueueChildFlag) {
  // The process runEnqueueBench starts: its figures as JSON on stdout.
  const options = JSON.parse(process.argv[3] ?? '{}') as EnqueueBenchOptions;
  process.stdout.write(JSON.stringify(await enqueueInThisProcess(options)));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const tasks = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  console.table([...(await runEnqueueBench(tasks === undefined ? {} : { tasks })), ...(await runBootBench())]);
}
