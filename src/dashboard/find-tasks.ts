/**
 * The queue page's task list: one `listTasks` page as is, or, with a reason or an id search (which
 * the store's index does not serve), pages read and filtered until a page's worth is found or
 * `scanCap` records were read — a bound, so a search never reads the whole store.
 */
import { taskStates, type TaskOutcome, type TaskRecord, type TaskState } from '../types.js';
import { outcomes } from './queue-stats.js';
import type { DashboardSource } from './source.js';

/** Records read at most by one filtered search. */
export const scanCap = 5000;

/** The queue page's filters, from its query string. */
export interface TaskFilters {
  state?: TaskState;
  outcome?: TaskOutcome;
  /** A `TaskFailure.reason`. */
  reason?: string;
  /** Part of a task id (an exact id is found wherever it is). */
  q?: string;
  cursor?: string;
}

export interface FoundTasks {
  items: TaskRecord[];
  nextCursor?: string;
  /** Set when a search stopped at `scanCap` records. */
  scanned?: number;
}

function matches(record: TaskRecord, filters: TaskFilters): boolean {
  if (filters.reason && record.failure?.reason !== filters.reason) return false;
  if (filters.q && !record.id.includes(filters.q)) return false;
  return true;
}

/** One page of tasks under `filters`, newest first. */
export async function findTasks(source: DashboardSource, filters: TaskFilters, limit: number): Promise<FoundTasks> {
  const base = {
    ...(filters.state ? { state: filters.state } : {}),
    ...(filters.outcome ? { outcome: filters.outcome } : {}),
  };
  if (!filters.reason && !filters.q) {
    return source.listTasks({ ...base, limit, ...(filters.cursor ? { cursor: filters.cursor } : {}) });
  }
  const items: TaskRecord[] = [];
  let exactId: string | undefined;
  // An exact id first, wherever it sorts: the search most people make.
  if (filters.q && !filters.cursor) {
    const exact = await source.getTask(filters.q);
    if (exact && matches(exact, filters) && (!base.state || exact.state === base.state)) {
      items.push(exact);
      exactId = exact.id;
    }
  }
  let cursor = filters.cursor;
  let scanned = 0;
  // Whole pages only: the cursor is opaque, so a search resumes at a page boundary (a page may hold
  // up to twice `limit` matches rather than skip some).
  do {
    const page = await source.listTasks({ ...base, limit, ...(cursor ? { cursor } : {}) });
    scanned += page.items.length;
    for (const record of page.items) if (matches(record, filters) && record.id !== exactId) items.push(record);
    cursor = page.nextCursor;
  } while (cursor !== undefined && items.length < limit && scanned < scanCap);
  return { items, ...(cursor ? { nextCursor: cursor } : {}), ...(scanned >= scanCap ? { scanned } : {}) };
}

/** The filters of a queue page's query string (unknown states and outcomes are ignored). */
export function filtersFrom(params: URLSearchParams): TaskFilters {
  const state = params.get('state') ?? '';
  const outcome = params.get('outcome') ?? '';
  const pick = (k: string): string | undefined => params.get(k) || undefined;
  return {
    ...((taskStates as readonly string[]).includes(state) ? { state: state as TaskState } : {}),
    ...((outcomes as readonly string[]).includes(outcome) ? { outcome: outcome as TaskOutcome } : {}),
    ...(pick('reason') ? { reason: pick('reason') } : {}),
    ...(pick('q') ? { q: pick('q') } : {}),
    ...(pick('cursor') ? { cursor: pick('cursor') } : {}),
  };
}
