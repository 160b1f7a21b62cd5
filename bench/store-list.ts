/**
 * Listing bench: the first page of `listTasks` on a SQLite store of a million finished tasks (plus
 * a thousand open ones), read through the listing index, side by side with what the index
 * replaced: a full scan of the records, filtered and sorted in memory.
 *
 * The store is built fast, without a runner: rows go straight into SQLite transactions through
 * the store's own layout functions (`taskKey`, `indexKeys`, `openKey`) and its own upsert
 * (`upsertRows`), in Keyv's value format; histories and logs are left out (listing never reads
 * them). Then the store is reopened with `openTaskStore` as a runner would.
 *
 * Run alone with `npx tsx bench/store-list.ts [tasks]`; `bench/run.ts` collects
 * `runStoreListBench()`'s rows.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type KeyvSqlite from '@keyv/sqlite';
import { keyvValueSerializer } from '../src/store/keyv-serialize.js';
import type { KeyvTaskStore } from '../src/store/keyv-task-store.js';
import { openKey, storeSchemaVersion, taskKey, taskPrefix, type TaskEnvelope } from '../src/store/layout.js';
import { openTaskStore } from '../src/store/open-store.js';
import { upsertRows, type UpsertRows } from '../src/store/sqlite-upsert.js';
import { indexKeys } from '../src/store/task-index.js';
import type { TaskListQuery, TaskOutcome, TaskRecord, TaskState } from '../src/types.js';
import { round, type BenchRow } from './section.js';

/** Workload size. */
export interface StoreListBenchOptions {
  /** Finished (`deleted`) tasks in the store. @default 1000000 */
  finished?: number;
  /** Open tasks (queued, then running), newer than every finished one. @default 1000 */
  open?: number;
  /** Timed runs of each page read (after one warm-up); the median is reported. @default 5 */
  runs?: number;
}

const tasksPerTransaction = 20_000;
const startMs = Date.parse('2026-01-01T00:00:00.000Z');

/** 90 % succeeded, 8 % failed, 1 % timed out, 1 % cancelled. */
const outcomeOf = (i: number): TaskOutcome => {
  const r = i % 100;
  return r < 90 ? 'succeeded' : r < 98 ? 'failed' : r < 99 ? 'timedOut' : 'cancelled';
};

const recordOf = (i: number, state: TaskState, outcome?: TaskOutcome): TaskRecord => {
  const id = `task-${String(i).padStart(8, '0')}`;
  const createdAt = new Date(startMs + i * 1000).toISOString();
  return {
    id,
    spec: { id, image: 'busybox:1.36', command: ['sh', '-c', 'echo hello && sleep 1'], timeout: 600 },
    state,
    ...(outcome ? { outcome } : {}),
    ...(outcome === 'failed'
      ? {
          failure: {
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
            exitCode: 1,
          },
        }
      : {}),
    jobName: id,
    jobUid: '1f0e7c52-8d8b-4f4e-9b55-3c1f5a0d9e21',
    createdAt,
    ...(state === 'queued' ? {} : { startedAt: createdAt }),
    ...(state === 'deleted' ? { finishedAt: createdAt, deletedAt: createdAt } : {}),
  };
};

/** Writes the tasks `[from, to)` in one transaction: record and index keys (and `open:` for open ones). */
async function writeTasks(
  store: KeyvTaskStore,
  from: number,
  to: number,
  finished: number,
  open: number,
): Promise<void> {
  const sqlite = store.keyv.store as KeyvSqlite;
  const serialize = keyvValueSerializer(store.keyv);
  const ns = (key: string): string => `${store.keyv.namespace}:${key}`;
  const one = await serialize(1);
  const rows: Array<[string, string]> = [];
  for (let i = from; i < to; i++) {
    const isOpen = i >= finished;
    const record = isOpen
      ? recordOf(i, i - finished < open / 2 ? 'running' : 'queued')
      : recordOf(i, 'deleted', outcomeOf(i));
    const envelope: TaskEnvelope = { schemaVersion: storeSchemaVersion, updatedAt: record.createdAt, record };
    rows.push([ns(taskKey(record.id)), await serialize(envelope)]);
    for (const key of indexKeys(record)) rows.push([ns(key), one]);
    if (isOpen) rows.push([ns(openKey(record.id)), await serialize({ priority: 0, seq: i - finished })]);
  }
  await upsertRows(sqlite, serializedRows(rows));
}

/** Rows already serialized, as the upsert takes them. */
function serializedRows(rows: ReadonlyArray<readonly [string, string]>): UpsertRows {
  return {
    count: rows.length,
    params: (start, end) => rows.slice(start, end).flatMap(([key, value]) => [key, value]),
  };
}

/** The median of `runs` timed calls of `read` (after one untimed call), in ms. */
async function medianMs(read: () => Promise<unknown>, runs: number): Promise<number> {
  await read();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await read();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/**
 * What `listTasks` did before the index: every record read (one range query over `task:`), then
 * filtered and sorted in memory. Decoding is the same `JSON.parse` Keyv's deserializer ends in.
 */
async function fullScan(store: KeyvTaskStore, keep: (r: TaskRecord) => boolean, limit: number): Promise<TaskRecord[]> {
  const sqlite = store.keyv.store as KeyvSqlite;
  const from = `${store.keyv.namespace}:${taskPrefix}`;
  const to = from.slice(0, -1) + ';';
  const rows = (await sqlite.query('SELECT key, value FROM keyv WHERE key >= ? AND key < ? ORDER BY key', [
    from,
    to,
  ])) as Array<{ value: string }>;
  const records = rows.map((row) => (JSON.parse(row.value) as { value: TaskEnvelope }).value.record).filter(keep);
  records.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? -1 : 1));
  return records.slice(0, limit);
}

export async function runStoreListBench({
  finished = 1_000_000,
  open = 1000,
  runs = 5,
}: StoreListBenchOptions = {}): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-jobs-bench-list-'));
  const url = `sqlite://${join(dir, 'list.sqlite')}`;
  const rows: BenchRow[] = [];
  const row = (name: string, value: number, unit: string, note?: string): void => {
    rows.push({ section: 'store', name, value, unit, ...(note ? { note } : {}) });
  };
  try {
    let started = performance.now();
    const builder = await openTaskStore(url);
    const total = finished + open;
    for (let from = 0; from < total; from += tasksPerTransaction) {
      await writeTasks(builder, from, Math.min(from + tasksPerTransaction, total), finished, open);
    }
    await builder.close();
    const buildS = (performance.now() - started) / 1000;
    row(
      `build a store of ${finished} finished + ${open} open tasks`,
      round(buildS, 1),
      's',
      'rows straight into SQLite',
    );
    row('its file size', round(statSync(join(dir, 'list.sqlite')).size / 2 ** 20), 'MiB');

    started = performance.now();
    const store = await openTaskStore(url);
    row('openTaskStore on it', round(performance.now() - started, 1), 'ms');
    try {
      const page = (query: TaskListQuery) => async () => {
        const { items } = await store.listTasks(query);
        if (items.length === 0 && query.state !== 'failed') throw new Error(`empty page for ${JSON.stringify(query)}`);
      };
      const pages: Array<[string, TaskListQuery]> = [
        ["listTasks({ outcome: 'failed', limit: 100 })", { outcome: 'failed', limit: 100 }],
        ["listTasks({ state: 'failed', limit: 100 })", { state: 'failed', limit: 100 }],
        ["listTasks({ state: 'running', limit: 100 })", { state: 'running', limit: 100 }],
        ["listTasks({ state: 'deleted', limit: 100 })", { state: 'deleted', limit: 100 }],
        ['listTasks({ limit: 100 })', { limit: 100 }],
        ['listTasks({ limit: 1000 })', { limit: 1000 }],
      ];
      for (const [name, query] of pages) {
        row(`${name}, first page`, round(await medianMs(page(query), runs), 2), 'ms', `median of ${runs}`);
      }
      const second = await store.listTasks({ outcome: 'failed', limit: 100 });
      const deepCursor = { outcome: 'failed', limit: 100, cursor: second.nextCursor } as const;
      row(
        "listTasks({ outcome: 'failed', limit: 100 }), second page",
        round(await medianMs(page(deepCursor), runs), 2),
        'ms',
        `median of ${runs}`,
      );
      row(
        `listOpenTasks() (${open} open tasks)`,
        round(await medianMs(() => store.listOpenTasks(), runs), 2),
        'ms',
        `median of ${runs}`,
      );
      started = performance.now();
      const failed = await fullScan(store, (r) => r.state === 'deleted' && r.outcome === 'failed', 100);
      row('full scan + filter: first 100 failed', round(performance.now() - started), 'ms', 'one run, as before v3');
      started = performance.now();
      const running = await fullScan(store, (r) => r.state === 'running', 100);
      row('full scan + filter: first 100 running', round(performance.now() - started), 'ms', 'one run, as before v3');
      if (failed.length !== 100 || running.length !== Math.min(100, Math.ceil(open / 2))) {
        throw new Error('the full scan did not find what the store holds');
      }
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const finished = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  for (const { name, value, unit, note } of await runStoreListBench(finished === undefined ? {} : { finished })) {
    console.log(`${name.padEnd(60)} ${String(value).padStart(10)} ${unit}${note ? `  (${note})` : ''}`);
  }
}
