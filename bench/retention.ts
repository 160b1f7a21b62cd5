/**
 * Retention bench: RSS and store size after 10k, 50k and 100k task lifecycles with retention on
 * (`succeeded: { maxCount: 10000 }`, purged in batches of 200 every 1,000 lifecycles, as the
 * runner's background purge would) and off, and the purge rate.
 *
 * Lifecycles are driven through the store directly, not through a runner (100k through the
 * runner and the simulated cluster would not fit a bench run): per task, its `queued`, `running`
 * and `deleted` records with their transitions and a 512-byte final log snapshot, 500 tasks in
 * flight, through `KeyvTaskStore` on a SQLite file as the runner writes them. The purge is the
 * store's `purgeFinished` and `releaseSpace`, which the runner's purge calls.
 *
 * Run alone with `npx tsx bench/retention.ts [lifecycles]` (default 100000; checkpoints at 10%,
 * 50% and 100%); `bench/run.ts` collects `runRetentionBench()`'s rows.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KeyvTaskStore } from '../src/store/keyv-task-store.js';
import { openTaskStore } from '../src/store/open-store.js';
import type { TaskRecord, TaskState, Transition } from '../src/types.js';
import { round, type BenchRow } from './section.js';

/** Workload size. */
export interface RetentionBenchOptions {
  /** Lifecycles in all. @default 100000 */
  lifecycles?: number;
  /** Succeeded tasks kept with retention on. @default 10000 */
  keep?: number;
}

const inFlight = 500;
const purgeEvery = 1000;
const batchSize = 200;
const startMs = Date.parse('2026-01-01T00:00:00.000Z');
const mib = (bytes: number): number => round(bytes / 2 ** 20, 1);
const log = 'x'.repeat(512);

function fileBytes(path: string): number {
  let total = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      total += statSync(file).size;
    } catch {
      // No WAL file (yet): nothing to add.
    }
  }
  return total;
}

/** One task's writes, as the runner makes them: three records with transitions, one final log. */
async function lifecycle(store: KeyvTaskStore, n: number): Promise<void> {
  const id = `task-${String(n).padStart(8, '0')}`;
  const at = new Date(startMs + n).toISOString();
  const base = { id, spec: { id, image: 'busybox:1.36', command: ['true'] }, jobName: id, createdAt: at };
  const step = (from: TaskState | null, to: TaskState, extra: Partial<TaskRecord> = {}): Promise<void> => {
    const t: Transition = { taskId: id, from, to, event: 'BENCH', at };
    return store.saveTask({ ...base, ...extra, state: to }, t, from === null ? { queue: { priority: 0, seq: n } } : {});
  };
  await step(null, 'queued');
  await step('queued', 'running', { startedAt: at });
  await store.putLogSnapshot({ taskId: id, text: log, totalBytes: 512, truncated: false, final: true, capturedAt: at });
  await step('running', 'deleted', { startedAt: at, finishedAt: at, deletedAt: at, outcome: 'succeeded' });
}

interface Checkpoint {
  lifecycles: number;
  rss: number;
  storeBytes: number;
  fileBytes: number;
}

async function drive(
  lifecycles: number,
  keep: number | undefined,
): Promise<{ checkpoints: Checkpoint[]; purged: number; purgeMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-jobs-bench-retention-'));
  const path = join(dir, 'store.sqlite');
  const store = await openTaskStore(`sqlite://${path}`);
  const marks = new Set([Math.round(lifecycles / 10), Math.round(lifecycles / 2), lifecycles]);
  const checkpoints: Checkpoint[] = [];
  let purged = 0;
  let purgeMs = 0;
  try {
    for (let done = 0; done < lifecycles;) {
      const chunk = Math.min(inFlight, lifecycles - done);
      await Promise.all(Array.from({ length: chunk }, (_, i) => lifecycle(store, done + i)));
      done += chunk;
      if (keep !== undefined && done % purgeEvery === 0) {
        const started = performance.now();
        for (;;) {
          const { ids, more } = await store.purgeFinished({ outcome: 'succeeded', keepNewest: keep, limit: batchSize });
          purged += ids.length;
          if (ids.length > 0) await store.releaseSpace(512);
          if (!more || ids.length === 0) break;
        }
        purgeMs += performance.now() - started;
      }
      if (marks.has(done)) {
        const { bytes = 0 } = await store.size();
        checkpoints.push({
          lifecycles: done,
          rss: process.memoryUsage().rss,
          storeBytes: bytes,
          fileBytes: fileBytes(path),
        });
      }
    }
    return { checkpoints, purged, purgeMs };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Measures the store with retention on and off; returns the table's rows. */
export async function runRetentionBench(options: RetentionBenchOptions = {}): Promise<BenchRow[]> {
  const lifecycles = options.lifecycles ?? 100_000;
  const keep = options.keep ?? 10_000;
  const rows: BenchRow[] = [];
  for (const [label, keepSucceeded] of [
    ['on', keep],
    ['off', undefined],
  ] as const) {
    const { checkpoints, purged, purgeMs } = await drive(lifecycles, keepSucceeded);
    for (const c of checkpoints) {
      const at = `${String(c.lifecycles / 1000)}k lifecycles, retention ${label}`;
      rows.push(
        {
          section: 'store:retention',
          name: `store size after ${at}`,
          value: mib(c.storeBytes),
          unit: 'MiB',
          note: `page_count × page_size; file + WAL ${String(mib(c.fileBytes))} MiB`,
        },
        {
          section: 'store:retention',
          name: `RSS after ${at}`,
          value: mib(c.rss),
          unit: 'MiB',
          note: 'whole bench process',
        },
      );
    }
    if (keepSucceeded !== undefined) {
      rows.push({
        section: 'store:retention',
        name: `purge rate (keep ${String(keep)} succeeded)`,
        value: round(purged / (purgeMs / 1000)),
        unit: 'tasks/s',
        note: `${String(purged)} tasks purged in batches of ${String(batchSize)}, space released after each`,
      });
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const lifecycles = process.argv[2] ? Number(process.argv[2]) : undefined;
  const rows = await runRetentionBench(
    lifecycles ? { lifecycles, keep: Math.min(10_000, Math.round(lifecycles / 5)) } : {},
  );
  console.table(rows.map(({ name, value, unit, note }) => ({ name, value, unit, note: note ?? '' })));
}
