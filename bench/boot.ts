/**
 * Boot benches (issue 4's figures). `runEnqueueBench`: enqueue rate, CPU per enqueue, RSS and
 * retained heap with `tasks` queued tasks, through a real runner (SQLite store, the sim as
 * cluster, one slot so the tasks stay queued), in a process of its own (`enqueue-child.ts`).
 * `runBootBench`: time from `createRunner` to ready on a SQLite store holding `stored` tasks of
 * which `open` are not yet deleted (all queued, so the sim needs no Jobs), with the sim as
 * cluster. Ready = `createRunner` resolved: open tasks loaded through the `open:` index, our Jobs
 * listed, every task resumed, the watch started.
 *
 * Run alone with `npx tsx bench/boot.ts`; `bench/run.ts` collects both as `store:enqueue` and
 * `store:boot`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jobNameFor } from '../src/jobs/job-name.js';
import { createRunner } from '../src/runner/create-runner.js';
import { startSimulatedCluster } from '../src/sim/index.js';
import { openTaskStore } from '../src/store/open-store.js';
import type { TaskRecord, Transition } from '../src/types.js';
import { bundlePrograms } from '../test/helpers/test-entries.js';
import type { EnqueueBenchOptions, EnqueueFigures } from './enqueue-child.js';
import { countQueued } from './queued-count.js';
import { round, type BenchRow } from './section.js';

/** Workload size. */
export interface BootBenchOptions {
  /** Tasks in the store. @default 100000 */
  stored?: number;
  /** Of which not deleted (queued). @default 10000 */
  open?: number;
}

const at = '2026-01-01T00:00:00.000Z';

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

/**
 * The enqueue figures, measured in a process of their own: `bench/enqueue-child.ts`, bundled
 * (as the test entries are) and run by plain `node`, against the sim in this process. The bench
 * process has run other sections by then, and its RSS and heap (hundreds of MiB) would be
 * counted as the runner's and slow its collections; tsx's loader (a thread and a heap of its
 * own, about 70 MiB) and the sim are not what an application holds either.
 */
export async function runEnqueueBench(options: EnqueueBenchOptions = {}): Promise<BenchRow[]> {
  const childPath = 'bench/enqueue-child.ts';
  const [bundle, cluster] = await Promise.all([
    bundlePrograms([childPath], 'bench-entries-'),
    startSimulatedCluster({ timeScale: 0.01 }),
  ]);
  let out = '';
  try {
    const child = spawn(process.execPath, ['--expose-gc', bundle.file(childPath), JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, K8S_JOBS_BENCH_KUBECONFIG: cluster.kubeConfig.exportConfig() },
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`the enqueue bench's process exited with ${String(code)}`);
  } finally {
    await cluster.close();
    bundle.remove();
  }
  const { tasks, inFlight, seconds, cpuMs, rssBefore, rss, heapRetained, queued } = JSON.parse(out) as EnqueueFigures;
  const mib = (bytes: number): number => round(bytes / 2 ** 20);
  /** The figure of the code before issue 13's work, right under the one measured now (default workload only). */
  const was = (name: string, value: number, unit: string): BenchRow[] =>
    tasks === 100_000 && inFlight === 1000
      ? [{ section: 'store', name: `${name} — ${enqueueBefore.label}`, value, unit, note: enqueueBefore.note }]
      : [];
  return [
    {
      section: 'store',
      name: `enqueue rate, ${tasks} tasks (${inFlight} in flight, durable)`,
      value: round(tasks / seconds),
      unit: 'tasks/s',
      note: `aim ≥ 10000; ${queued} queued at the end; a process of its own`,
    },
    ...was('enqueue rate', enqueueBefore.perSecond, 'tasks/s'),
    {
      section: 'store',
      name: 'CPU per enqueue',
      value: round((cpuMs * 1000) / tasks),
      unit: 'µs',
      note: "process.cpuUsage() over the enqueues: every thread, SQLite's included",
    },
    ...was('CPU per enqueue', enqueueBefore.cpuMicros, 'µs'),
    {
      section: 'store',
      name: `RSS with ${tasks} queued tasks`,
      value: mib(rss),
      unit: 'MiB',
      note: `aim ≤ 300 MB, that is 286 MiB; right after the last add, its garbage not yet collected; ${mib(rssBefore)} MiB before the runner started (Node, the modules)`,
    },
    ...was('RSS with 100000 queued tasks', enqueueBefore.rssMiB, 'MiB'),
    {
      section: 'store',
      name: `JS heap retained with ${tasks} queued tasks`,
      value: mib(heapRetained),
      unit: 'MiB',
      note: 'after a full collection: what the runner keeps, the modules included',
    },
    ...was('JS heap retained with 100000 queued tasks', enqueueBefore.retainedMiB, 'MiB'),
  ];
}

/**
 * The enqueue figures of commit c6368a1, before issue 13's work: this bench's child process
 * (bundled, plain node, the sim apart) built from that commit's `src/`, 3 runs on the 2-core
 * machine on 2026-12-06, the median of each figure. (The issue's own figures, 8,453 tasks/s and
 * 468 MiB, came from the earlier bench, under tsx with the sim in the process.)
 */
const enqueueBefore = {
  label: 'before, commit c6368a1 (recorded 2026-12-06)',
  note: 'median of 3 runs: 6,328 / 7,568 / 9,146 tasks/s; 184 / 160 / 130 µs; 328 / 331 / 371 MiB',
  perSecond: 7568,
  cpuMicros: 160,
  rssMiB: 331,
  retainedMiB: 93,
} as const;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const tasks = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  console.table([...(await runEnqueueBench(tasks === undefined ? {} : { tasks })), ...(await runBootBench())]);
}
