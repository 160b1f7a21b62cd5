/**
 * The queue's numbers: tasks per state and per outcome, and the last hour minute by minute
 * (started, finished, failed, queue depth). Read through `listTasks` pages only (an index read
 * each), each count capped at `countCap` so a page of the dashboard costs the same on a store of a
 * million tasks; a capped count is shown as "≥ cap".
 */
import { taskStates, type TaskOutcome, type TaskRecord, type TaskState } from '../types.js';
import type { DashboardSource } from './source.js';

/** Largest count read per state or outcome (one `listTasks` page of at most 1,000). */
export const countCap = 1000;

/** Records read at most for the last hour's chart. */
export const chartReadCap = 5000;

export const outcomes: readonly TaskOutcome[] = ['succeeded', 'failed', 'timedOut', 'cancelled'];

/** A count that may be capped. */
export interface Count {
  n: number;
  capped: boolean;
}

export interface QueueCounts {
  byState: Map<TaskState, Count>;
  byOutcome: Map<TaskOutcome, Count>;
}

/** One minute of the last hour. */
export interface MinuteBucket {
  /** Epoch ms of the minute's start. */
  start: number;
  started: number;
  finished: number;
  failed: number;
  /** Tasks waiting in the queue at the minute's end. */
  queued: number;
}

async function count(source: DashboardSource, query: { state?: TaskState; outcome?: TaskOutcome }): Promise<Count> {
  const page = await source.listTasks({ ...query, limit: countCap });
  return { n: page.items.length, capped: page.nextCursor !== undefined };
}

/** Tasks per state (the open ones and `deleted`) and finished ones per outcome. */
export async function queueCounts(source: DashboardSource): Promise<QueueCounts> {
  const [states, outs] = await Promise.all([
    Promise.all(taskStates.map((state) => count(source, { state }))),
    Promise.all(outcomes.map((outcome) => count(source, { state: 'deleted', outcome }))),
  ]);
  return {
    byState: new Map(taskStates.map((s, i) => [s, states[i] ?? { n: 0, capped: false }])),
    byOutcome: new Map(outcomes.map((o, i) => [o, outs[i] ?? { n: 0, capped: false }])),
  };
}

/**
 * The tasks that matter for the last hour: those created in it (newest first, until older) and
 * those still queued (created earlier, they are part of the depth).
 */
async function recentTasks(source: DashboardSource, since: number): Promise<TaskRecord[]> {
  const byId = new Map<string, TaskRecord>();
  let cursor: string | undefined;
  do {
    const page = await source.listTasks({ limit: countCap, ...(cursor ? { cursor } : {}) });
    let older = false;
    for (const record of page.items) {
      if (Date.parse(record.createdAt) < since) older = true;
      else byId.set(record.id, record);
    }
    cursor = older ? undefined : page.nextCursor;
  } while (cursor !== undefined && byId.size < chartReadCap);
  for (const record of (await source.listTasks({ state: 'queued', limit: countCap })).items)
    byId.set(record.id, record);
  return [...byId.values()];
}

const failedOutcomes = new Set<TaskOutcome | undefined>(['failed', 'timedOut']);

/** The last hour in 60 one-minute buckets, oldest first, ending with the minute of `now`. */
export async function lastHour(source: DashboardSource, now: number): Promise<MinuteBucket[]> {
  const first = Math.floor(now / 60_000) * 60_000 - 59 * 60_000;
  const buckets: MinuteBucket[] = Array.from({ length: 60 }, (_, i) => ({
    start: first + i * 60_000,
    started: 0,
    finished: 0,
    failed: 0,
    queued: 0,
  }));
  const at = (iso: string | undefined): MinuteBucket | undefined =>
    iso === undefined ? undefined : buckets[Math.floor((Date.parse(iso) - first) / 60_000)];
  for (const record of await recentTasks(source, first)) {
    const started = at(record.startedAt);
    if (started) started.started++;
    const finished = at(record.finishedAt);
    if (finished) finished[failedOutcomes.has(record.outcome) ? 'failed' : 'finished']++;
    // Queued from its creation until it started (or, never started, until it finished or now).
    const from = Date.parse(record.createdAt);
    const until = Date.parse(record.startedAt ?? record.finishedAt ?? record.deletedAt ?? '') || Infinity;
    for (const bucket of buckets) {
      const end = bucket.start + 60_000;
      if (from < end && until >= end) bucket.queued++;
    }
  }
  return buckets;
}
