/**
 * The process the crash suite kills: a real runner on a SQLite file, against the simulated cluster
 * living in the test process. Run bundled (`test/helpers/test-entries.ts`) as `node <bundle>
 * <config.json>` (see `protocol.ts` for the config and the JSON lines it prints).
 *
 * Kill points are found here without touching library code: the `@keyv/sqlite` adapter's `query`
 * is wrapped, so the child sees each batch the store writes, and when the configured point is
 * reached it blocks its own event loop (`Atomics.wait`) so that nothing more happens — no request,
 * no write — until the parent's SIGKILL lands.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import KeyvPostgres from '@keyv/postgres';
import KeyvSqlite from '@keyv/sqlite';
import { KubeConfig } from '@kubernetes/client-node';
import Keyv from 'keyv';
import { createRunner } from '../../src/runner/create-runner.js';
import type { Runner } from '../../src/runner/runner-api.js';
import { behaviourAnnotation } from '../../src/sim/runtime-scripted.js';
import { storeNamespace } from '../../src/store/layout.js';
import { parsePostgresUrl } from '../../src/store/postgres-adapter.js';
import { recordStalls } from '../soak/request-rate.js';
import {
  stuckPendingBudgetMs,
  type ChildConfig,
  type ChildMessage,
  type CrashTask,
  type FreezePoint,
} from './protocol.js';

/** Stuck graces over one second (pod timestamps have one-second resolution), as the engine tests use. */
const stuck = {
  pendingBudgetMs: stuckPendingBudgetMs,
  imagePullGraceMs: 1200,
  createContainerConfigGraceMs: 1200,
  crashLoopBackOffGraceMs: 1200,
};

/**
 * Reports each event-loop stall of 5 ms or more as it ends, from before the runner is created: the
 * fault soak widens the windows of its rate check that the stall ends in (a request let through by
 * the rate limiter during a stall leaves with later ones). The boot's stalls count too: parsing
 * the first LISTs, and the relist after a `410`, while the boot's requests use up the burst.
 */
function reportEachStall(): void {
  recordStalls((stall) => say({ event: 'stalled', ...stall }));
}

/**
 * Reports the longest event-loop stall since the runner was ready whenever it grows: the least
 * slack of every window of this launch. Started after the boot, whose module loading would widen
 * them all.
 */
function reportLongestStall(): void {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let reportedMs = 0;
  setInterval(() => {
    const maxMs = Math.ceil(loop.max / 1e6);
    if (maxMs <= reportedMs) return;
    reportedMs = maxMs;
    say({ event: 'stall', maxMs });
  }, 100).unref();
}

function say(message: ChildMessage): void {
  // Writes to a pipe are synchronous on Linux: a line printed right before a freeze reaches the parent.
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Blocks the event loop for good: the process does nothing more until it is killed. */
function freeze(point: ChildMessage & { event: 'frozen' }): never {
  say(point);
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

interface Row {
  key: string;
  value: unknown;
}

/** The store's key without Keyv's namespace prefix. */
const unprefixed = (key: string): string =>
  key.startsWith(`${storeNamespace}:`) ? key.slice(storeNamespace.length + 1) : key;

/** `[key, value, key, value…]` of a multi-row upsert, decoded. */
function rowsOf(params: unknown): Row[] {
  if (!Array.isArray(params)) return [];
  const rows: Row[] = [];
  for (let i = 0; i + 1 < params.length; i += 2) {
    const raw = params[i + 1];
    rows.push({
      key: unprefixed(String(params[i])),
      value: typeof raw === 'string' ? (JSON.parse(raw) as { value?: unknown }).value : undefined,
    });
  }
  return rows;
}

/** The freeze checks of `point`: before a batch is sent (`burst`) and once it has committed. */
function freezeChecks(point: FreezePoint): {
  burst: (rows: Row[], inTransaction: boolean) => void;
  committed: (rows: Row[]) => void;
} {
  const burst = (rows: Row[], inTransaction: boolean): void => {
    if (point.at === 'burst' && rows.length >= point.minRows) {
      freeze({
        event: 'frozen',
        point: 'burst',
        detail: `${rows.length} rows ${inTransaction ? 'inside an open transaction, before COMMIT' : 'before its one statement was sent'}`,
      });
    }
  };
  const committed = (rows: Row[]): void => {
    for (const { key, value } of rows) {
      if (point.at === 'state-persisted' && key === `task:${point.taskId}`) {
        const state = (value as { record?: { state?: string } } | undefined)?.record?.state;
        if (state === point.state) freeze({ event: 'frozen', point: point.at, detail: `${point.taskId} ${state}` });
      }
      if (point.at === 'final-log-persisted' && key === `logs:${point.taskId}`) {
        const snapshot = (value as { snapshot?: { final?: boolean; text?: string } } | undefined)?.snapshot;
        if (snapshot?.final)
          freeze({
            event: 'frozen',
            point: point.at,
            detail: `${point.taskId} ${JSON.stringify(snapshot.text ?? '')}`,
          });
      }
    }
  };
  return { burst, committed };
}

/**
 * PostgreSQL: the task store writes a batch as one statement (`WITH removed AS (DELETE …) INSERT …
 * UNNEST($1, $2)`, see `src/store/postgres-access.ts`), its keys and values as two array parameters.
 */
function observePostgresWrites(adapter: KeyvPostgres, config: ChildConfig): void {
  const point = config.freeze;
  if (!point) return;
  const { burst, committed } = freezeChecks(point);
  const original = adapter.query;
  adapter.query = async (sql: string, values?: unknown) => {
    if (!sql.startsWith('WITH removed AS')) return original(sql, values);
    const [keys, serialized] = values as [string[], string[]];
    const rows = keys.flatMap((key, i) => rowsOf([key, serialized[i]]));
    burst(rows, false);
    const result = await original(sql, values);
    committed(rows);
    return result;
  };
}

/**
 * Wraps the adapter's `query` so every committed batch is checked against the freeze point.
 * The task store writes a batch either as one INSERT (its own transaction) or as
 * BEGIN IMMEDIATE … COMMIT (see `src/store/sqlite-upsert.ts`).
 */
function observeWrites(sqlite: KeyvSqlite, config: ChildConfig): void {
  const point = config.freeze;
  if (!point) return;
  const original = sqlite.query;
  let transaction: Row[] | undefined;
  const { burst, committed } = freezeChecks(point);
  sqlite.query = async (sql: string, ...params: unknown[]) => {
    const verb = sql.trimStart().slice(0, 8).toUpperCase();
    if (verb.startsWith('BEGIN')) {
      const result = await original(sql, ...params);
      transaction = [];
      return result;
    }
    if (verb.startsWith('INSERT')) {
      const rows = rowsOf(params[0]);
      if (transaction) {
        transaction.push(...rows);
        return original(sql, ...params);
      }
      burst(rows, false);
      const result = await original(sql, ...params);
      committed(rows);
      return result;
    }
    if (verb.startsWith('COMMIT')) {
      const rows = transaction ?? [];
      transaction = undefined;
      burst(rows, true);
      const result = await original(sql, ...params);
      committed(rows);
      return result;
    }
    if (verb.startsWith('ROLLBACK')) transaction = undefined;
    return original(sql, ...params);
  };
}

function taskInput(task: CrashTask) {
  return {
    id: task.id,
    image: task.image ?? 'busybox',
    ...(task.timeout !== undefined ? { timeout: task.timeout } : {}),
    podTemplate: { metadata: { annotations: { [behaviourAnnotation]: JSON.stringify(task.behaviour) } } },
  };
}

/** Cancels each `cancelWhenRunning` task once it is `running` (resumed running, or a live transition). */
function cancelWhenRunning(runner: Runner, tasks: readonly CrashTask[]): void {
  const pending = new Set(tasks.filter((t) => t.cancelWhenRunning).map((t) => t.id));
  const cancel = (id: string): void => {
    if (!pending.delete(id)) return;
    runner.cancel(id).catch((err: unknown) => say({ event: 'error', message: `cancel(${id}): ${String(err)}` }));
  };
  runner.transitions$.subscribe((t) => {
    say({ event: 'transition', id: t.taskId, from: t.from, to: t.to });
    if (t.to === 'running') cancel(t.taskId);
  });
  for (const id of [...pending]) {
    runner.getTask(id).then(
      (record) => {
        if (record.state === 'running') cancel(id);
      },
      // Not stored yet: it will be added, and its transition to running will be seen.
      () => undefined,
    );
  }
}

/** The adapter the child's Keyv runs on, its `query` observed: SQLite on the file, or PostgreSQL. */
async function openAdapter(config: ChildConfig): Promise<KeyvSqlite | KeyvPostgres> {
  if (config.storeUrl) {
    const { connectionString, schema } = parsePostgresUrl(config.storeUrl);
    const adapter = new KeyvPostgres({ uri: connectionString, schema, keySize: 1024 });
    observePostgresWrites(adapter, config);
    return adapter;
  }
  const sqlite = new KeyvSqlite({ uri: `sqlite://${config.storePath}`, busyTimeout: 5000 });
  await sqlite.query('PRAGMA journal_mode=WAL');
  await sqlite.query('PRAGMA synchronous=NORMAL');
  observeWrites(sqlite, config);
  return sqlite;
}

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) throw new Error('usage: child-runner.ts <config.json>');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as ChildConfig;
  reportEachStall();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(config.kubeconfigPath);
  const store = new Keyv({ store: await openAdapter(config), namespace: storeNamespace, throwOnErrors: true });
  const runner = await createRunner({
    kubeConfig,
    namespace: 'default',
    store,
    maxConcurrentJobs: config.maxConcurrentJobs,
    queueSize: config.queueSize,
    clientTimeoutGraceMs: 1000,
    rateLimit: config.rateLimit ?? { qps: 1000, burst: 100 },
    logs: { snapshotIntervalMs: 200 },
    stuck: { ...stuck, pendingBudgetMs: config.pendingBudgetMs ?? stuck.pendingBudgetMs },
  });
  say({ event: 'ready', pid: process.pid });
  reportLongestStall();
  cancelWhenRunning(runner, config.tasks);
  const byId = new Map(config.tasks.map((t) => [t.id, t]));
  const add = async (id: string): Promise<void> => {
    const task = byId.get(id);
    if (!task) throw new Error(`add: unknown task ${id}`);
    await runner.addTask(taskInput(task));
    say({ event: 'added', id });
    if (config.freeze?.at === 'added' && config.freeze.taskId === id)
      freeze({ event: 'frozen', point: 'added', detail: id });
  };
  if (config.addConcurrently) await Promise.all(config.add.map(add));
  else for (const id of config.add) await add(id);
  for (const task of config.tasks) {
    // `waitFor` only resolves for tasks the runner has in memory: check the stored state first.
    const record = await runner.getTask(task.id);
    if (record.state !== 'deleted') await runner.waitFor(task.id);
  }
  say({ event: 'done', deleted: config.tasks.length });
  await runner.shutdown();
  await store.disconnect();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say({ event: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    process.exit(1);
  },
);
