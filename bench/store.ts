/**
 * Store bench: transitions persisted per second through `TaskStore.saveTask` (SQLite, WAL,
 * `synchronous=NORMAL`, group commit) against the raw `sqlite3` driver doing batched upserts on the
 * same kind of file, in one run; plus durable enqueues per second (issue 4's figure), on SQLite and
 * on PostgreSQL side by side (the server at `K8S_JOBS_BENCH_POSTGRES`, default
 * `postgres://postgres@127.0.0.1:5432/test`, a schema of its own per store, dropped after).
 *
 * Run alone with `npx tsx bench/store.ts`; `bench/run.ts` collects `runStoreBench()`'s rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
// The driver `@keyv/sqlite` itself uses (a dependency of it, not of ours): the honest baseline.
import sqlite3 from 'sqlite3';
import { storeSchemaVersion } from '../src/store/layout.js';
import { openTaskStore } from '../src/store/open-store.js';
import type { TaskRecord, TaskState, Transition } from '../src/types.js';

/** One figure of the bench. */
export interface BenchRow {
  section: 'store';
  name: string;
  value: number;
  unit: string;
  note?: string;
}

/** Workload size. */
export interface StoreBenchOptions {
  /** Tasks taken through the lifecycle. @default 5000 */
  tasks?: number;
  /** Tasks enqueued (one `queued` transition each) for the enqueue rate. @default 100000 */
  enqueues?: number;
  /** Rows per raw-driver transaction. @default 500 */
  rawBatch?: number;
  /** Measured rounds (after one small warm-up round); medians are reported. @default 3 */
  rounds?: number;
}

const lifecycle: TaskState[] = ['queued', 'creating', 'running', 'succeeded', 'deleting', 'deleted'];
const at = '2026-01-01T00:00:00.000Z';

const record = (id: string, state: TaskState): TaskRecord => ({
  id,
  spec: {
    id,
    image: 'busybox:1.36',
    command: ['sh', '-c', 'echo hello && sleep 1'],
    timeout: 600,
    env: [{ name: 'MODE', value: 'bench' }],
  },
  state,
  jobName: id,
  jobUid: state === 'queued' ? undefined : '1f0e7c52-8d8b-4f4e-9b55-3c1f5a0d9e21',
  createdAt: at,
  startedAt: state === 'queued' || state === 'creating' ? undefined : at,
});

const transitionAt = (id: string, step: number): Transition => ({
  taskId: id,
  from: step === 0 ? null : (lifecycle[step - 1] ?? null),
  to: lifecycle[step] ?? 'deleted',
  event: 'CLUSTER.OBSERVED',
  at,
});

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Drives `count × steps` saves as a runner would: many tasks, each step after the previous is
 * queued, 1,000 per tick; `onTick` runs between ticks.
 */
async function driveSaves(
  save: (id: string, step: number) => Promise<void>,
  count: number,
  steps: number,
  onTick: () => void = () => undefined,
): Promise<number> {
  const started = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let step = 0; step < steps; step++) {
    for (let i = 0; i < count; i++) {
      pending.push(save(`task-${i}`, step));
      if (i % 1000 === 999) {
        await nextTick();
        onTick();
      }
    }
  }
  await Promise.all(pending);
  return performance.now() - started;
}

/** The raw driver on a fresh WAL file: upserts `rows` in transactions of `batch`, two ways. */
async function rawUpserts(
  path: string,
  rows: Array<[string, string]>,
  batch: number,
  style: 'prepared' | 'multi-row',
): Promise<number> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(opened)));
  });
  const exec = (sql: string, params: unknown[] = []): Promise<void> =>
    new Promise((resolve, reject) => db.run(sql, params, (err) => (err ? reject(err) : resolve())));
  await exec('PRAGMA journal_mode=WAL');
  await exec('PRAGMA synchronous=NORMAL');
  await exec('CREATE TABLE IF NOT EXISTS keyv(key VARCHAR(255) PRIMARY KEY, value TEXT)');
  const upsert = 'ON CONFLICT(key) DO UPDATE SET value = excluded.value';
  const started = performance.now();
  for (let start = 0; start < rows.length; start += batch) {
    const chunk = rows.slice(start, start + batch);
    if (style === 'multi-row') {
      await exec(
        `INSERT INTO keyv (key, value) VALUES ${chunk.map(() => '(?, ?)').join(', ')} ${upsert}`,
        chunk.flat(),
      );
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      db.serialize(() => {
        db.run('BEGIN');
        const statement = db.prepare(`INSERT INTO keyv (key, value) VALUES (?, ?) ${upsert}`);
        for (const [key, value] of chunk) statement.run(key, value);
        statement.finalize();
        db.run('COMMIT', (err) => (err ? reject(err) : resolve()));
      });
    });
  }
  const elapsed = performance.now() - started;
  await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
  return elapsed;
}

/** The rows the store writes for the same workload (record envelope + history per transition), pre-serialized. */
function sameRows(count: number, steps: number): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const updatedAt = at;
  for (let step = 0; step < steps; step++) {
    for (let i = 0; i < count; i++) {
      const id = `task-${i}`;
      const transitions = Array.from({ length: step + 1 }, (_, s) => transitionAt(id, s));
      rows.push([
        `k8s-jobs:task:${id}`,
        JSON.stringify({
          value: { schemaVersion: storeSchemaVersion, updatedAt, record: record(id, lifecycle[step] ?? 'deleted') },
        }),
      ]);
      rows.push([
        `k8s-jobs:transitions:${id}`,
        JSON.stringify({ value: { schemaVersion: storeSchemaVersion, updatedAt, transitions } }),
      ]);
    }
  }
  return rows;
}

/** The machine context a runner stores with a record (its size, roughly). */
const runnerContext = {
  jobMayExist: true,
  jobFinished: false,
  slotHeld: true,
  cancelRequested: false,
  lastEventAt: 1767225600000,
  timeoutAt: 1767225630000,
};

/** `saveTask` over a fresh SQLite file: elapsed ms for `tasks × steps` transitions. */
async function storeSaves(url: string, tasks: number, steps: number): Promise<number> {
  const store = await openTaskStore(url);
  // As the runner saves: the first save enters the open-task index, every save carries the machine's context.
  const elapsed = await driveSaves(
    (id, step) =>
      store.saveTask(
        record(id, lifecycle[step] ?? 'deleted'),
        transitionAt(id, step),
        step === 0
          ? { queue: { priority: 0, seq: Number(id.slice(id.lastIndexOf('-') + 1)) || 0 } }
          : { context: runnerContext },
      ),
    tasks,
    steps,
  );
  await store.close();
  return elapsed;
}

/** The PostgreSQL server of the bench (trust auth, or a password in the URL). */
const postgresUrl = process.env.K8S_JOBS_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Fresh PostgreSQL stores, each in a schema of its own; `drop()` removes them all. */
function postgresStores(): { url: () => string; drop: () => Promise<void> } {
  const schemas: string[] = [];
  return {
    url: () => {
      const schema = `k8s_jobs_bench_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return `${postgresUrl}?schema=${schema}`;
    },
    drop: async () => {
      if (schemas.length === 0) return;
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** `enqueues` first saves (a new task each) on the store at `url`: elapsed ms and peak RSS. */
async function enqueueRun(url: string, enqueues: number): Promise<{ ms: number; peakRss: number }> {
  const queue = await openTaskStore(url);
  let peakRss = process.memoryUsage().rss;
  const ms = await driveSaves(
    (id) => queue.saveTask(record(id, 'queued'), transitionAt(id, 0), { queue: { priority: 0, seq: 0 } }),
    enqueues,
    1,
    () => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    },
  );
  await queue.close();
  return { ms, peakRss };
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/** Runs the store bench and returns its figures. */
export async function runStoreBench(options: StoreBenchOptions = {}): Promise<BenchRow[]> {
  const tasks = options.tasks ?? 5000;
  const enqueues = options.enqueues ?? 100_000;
  const rawBatch = options.rawBatch ?? 500;
  const rounds = options.rounds ?? 3;
  const steps = lifecycle.length;
  const dir = mkdtempSync(join(tmpdir(), 'k8s-jobs-bench-store-'));
  let files = 0;
  const file = (): string => join(dir, `${++files}.sqlite`);
  const postgres = postgresStores();
  try {
    // Warm-up (JIT, page cache), then interleaved rounds so that drift hits every contender alike.
    const warmRows = sameRows(500, steps);
    await storeSaves(`sqlite://${file()}`, 500, steps);
    await storeSaves(postgres.url(), 500, steps);
    await rawUpserts(file(), warmRows, rawBatch, 'prepared');
    await rawUpserts(file(), warmRows, rawBatch, 'multi-row');
    const rows = sameRows(tasks, steps);
    const storeRates: number[] = [];
    const preparedRates: number[] = [];
    const multiRowRates: number[] = [];
    const postgresRates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      storeRates.push((tasks * steps) / ((await storeSaves(`sqlite://${file()}`, tasks, steps)) / 1000));
      postgresRates.push((tasks * steps) / ((await storeSaves(postgres.url(), tasks, steps)) / 1000));
      preparedRates.push(rows.length / ((await rawUpserts(file(), rows, rawBatch, 'prepared')) / 1000));
      multiRowRates.push(rows.length / ((await rawUpserts(file(), rows, rawBatch, 'multi-row')) / 1000));
    }

    const { ms: enqueueMs, peakRss } = await enqueueRun(`sqlite://${file()}`, enqueues);
    const { ms: postgresEnqueueMs } = await enqueueRun(postgres.url(), enqueues);

    const storeRate = median(storeRates);
    const preparedRate = median(preparedRates);
    const multiRowRate = median(multiRowRates);
    const postgresRate = median(postgresRates);
    const enqueueRate = enqueues / (enqueueMs / 1000);
    const postgresEnqueueRate = enqueues / (postgresEnqueueMs / 1000);
    const round = (n: number, digits = 0): number => Number(n.toFixed(digits));
    const of = `median of ${rounds}`;
    return [
      {
        section: 'store',
        name: 'saveTask: transitions persisted',
        value: round(storeRate),
        unit: '/s',
        note: `${tasks} tasks × ${steps} transitions (record + history rows each), group commit, WAL; ${of}`,
      },
      {
        section: 'store',
        name: `raw sqlite3 upserts, prepared statement, ${rawBatch} per transaction`,
        value: round(preparedRate),
        unit: 'rows/s',
        note: `the same rows, pre-serialized, same file settings; ${of}`,
      },
      {
        section: 'store',
        name: `raw sqlite3 upserts, multi-row VALUES, ${rawBatch} per transaction`,
        value: round(multiRowRate),
        unit: 'rows/s',
        note: `the fastest form of the driver (the store's own SQL); ${of}`,
      },
      {
        section: 'store',
        name: 'ratio: saveTask transitions/s ÷ raw prepared upserts/s',
        value: round(storeRate / preparedRate, 2),
        unit: '×',
        note: "issue 4's figure, aim ≥ 0.66",
      },
      {
        section: 'store',
        name: 'ratio: saveTask transitions/s ÷ raw multi-row transitions/s (2 rows each)',
        value: round(storeRate / (multiRowRate / 2), 2),
        unit: '×',
        note: 'what the layer costs over the same SQL work (serialization, envelopes, promises)',
      },
      {
        section: 'store',
        name: 'saveTask on PostgreSQL: transitions persisted',
        value: round(postgresRate),
        unit: '/s',
        note: `the same workload; one statement (one transaction, fsync'd) per batch; ${of}`,
      },
      {
        section: 'store',
        name: `durable enqueues (${enqueues} new tasks)`,
        value: round(enqueueRate),
        unit: '/s',
        note: 'first saveTask of each task; issue 4 aims ≥ 10,000/s',
      },
      {
        section: 'store',
        name: `durable enqueues on PostgreSQL (${enqueues} new tasks)`,
        value: round(postgresEnqueueRate),
        unit: '/s',
        note: `the same, on ${postgresUrl.replace(/:[^:@/]*@/, ':***@')} (same machine, synchronous_commit on)`,
      },
      {
        section: 'store',
        name: 'ratio: durable enqueues/s PostgreSQL ÷ SQLite',
        value: round(postgresEnqueueRate / enqueueRate, 2),
        unit: '×',
      },
      {
        section: 'store',
        name: `peak RSS of the bench process while enqueuing ${enqueues} tasks`,
        value: round(peakRss / 2 ** 20),
        unit: 'MiB',
        note: 'store + the bench holding every record and promise; no runner',
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await postgres.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runStoreBench());
}
