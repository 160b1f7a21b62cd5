/**
 * The listing index (layout v3): one key per task and per list it belongs to, sorted newest first,
 * so that a page of `listTasks` is one range read of at most `limit + 1` keys plus its records by
 * key, whatever the size of the history.
 *
 * - `idx:all:<order>`: every task (written with each record; its key never changes)
 * - `idx:state:<state>:<order>`: the task's current state; when the state changes, the old key is
 *   removed in the same batch as the new record and its new key
 * - `idx:outcome:<outcome>:<order>`: a `deleted` task with its outcome (`deleted` is final)
 *
 * `<order>` is `<inverted createdAt, epoch ms, 16 digits>:<id>`: keys sort ascending, so the newest
 * task comes first, ties by id. Values are `1`: the record is read from `task:<id>`.
 */
import { ValidationError } from '../errors.js';
import {
  defaultTaskPageSize,
  maxTaskPageSize,
  taskStates,
  type TaskListQuery,
  type TaskOutcome,
  type TaskRecord,
  type TaskState,
} from '../types.js';
import { finishedKey } from './retention-index.js';

/** Prefix of every listing index key. */
export const indexPrefix = 'idx:';
const allPrefix = `${indexPrefix}all:`;
const statePrefix = (state: TaskState): string => `${indexPrefix}state:${state}:`;
const outcomePrefix = (outcome: TaskOutcome): string => `${indexPrefix}outcome:${outcome}:`;

const taskOutcomes = ['succeeded', 'failed', 'timedOut', 'cancelled'] as const satisfies readonly TaskOutcome[];

/** Above any epoch ms a `Date` holds (8.64e15) and still a safe integer: inverted times stay positive. */
const timeCeiling = 9e15;
const orderDigits = 16;

/** The task's position in every list: newest first (inverted `createdAt`), then id. */
export function orderOf(record: TaskRecord): string {
  const ms = Date.parse(record.createdAt);
  const inverted = timeCeiling - (Number.isFinite(ms) ? Math.max(ms, 0) : 0);
  return `${String(inverted).padStart(orderDigits, '0')}:${record.id}`;
}

/** The task id of an index key of the list at `prefix`. */
export function idOf(key: string, prefix: string): string {
  return key.slice(prefix.length + orderDigits + 1);
}

/**
 * The index keys the record belongs under, as it is now: the listing index's and, for a finished
 * task, its retention key (`retention-index.ts`). Written with the record, removed with it.
 */
export function indexKeys(record: TaskRecord): string[] {
  const order = orderOf(record);
  const keys = [allPrefix + order, statePrefix(record.state) + order];
  if (record.state === 'deleted' && record.outcome) keys.push(outcomePrefix(record.outcome) + order);
  const finished = finishedKey(record);
  if (finished !== undefined) keys.push(finished);
  return keys;
}

/**
 * The state keys the record may have left: the `previous` state's (none when unchanged), or every
 * other state's when the previous state is unknown (first save of the task in this process).
 */
export function staleIndexKeys(record: TaskRecord, previous: TaskState | undefined): string[] {
  const order = orderOf(record);
  if (previous === record.state) return [];
  const states = previous === undefined ? taskStates.filter((s) => s !== record.state) : [previous];
  return states.map((state) => statePrefix(state) + order);
}

/** A validated `listTasks` query: the index to read, the key to start after, the page size. */
export interface IndexRange {
  prefix: string;
  /** Keys up to and including this one were on earlier pages. */
  after?: string;
  limit: number;
}

const subject = 'listTasks query';
const invalid = (field: string, rule: string): ValidationError => new ValidationError([{ field, rule }], subject);
const shown = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** Checks a query (also from JavaScript callers) and turns it into the range to read. */
export function indexRange(query: TaskListQuery): IndexRange {
  const { state, outcome, limit = defaultTaskPageSize, cursor } = query;
  if (state !== undefined && !taskStates.includes(state)) {
    throw invalid('state', `must be one of ${taskStates.join(', ')}, got ${shown(state)}`);
  }
  if (outcome !== undefined && !taskOutcomes.includes(outcome)) {
    throw invalid('outcome', `must be one of ${taskOutcomes.join(', ')}, got ${shown(outcome)}`);
  }
  if (outcome !== undefined && state !== undefined && state !== 'deleted') {
    throw invalid('state', `must be "deleted" (or left out) with an outcome, got ${shown(state)}`);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > maxTaskPageSize) {
    throw invalid('limit', `must be an integer from 1 to ${maxTaskPageSize}, got ${shown(limit)}`);
  }
  const prefix = outcome ? outcomePrefix(outcome) : state ? statePrefix(state) : allPrefix;
  return { prefix, limit, ...(cursor === undefined ? {} : { after: decodeCursor(cursor, prefix) }) };
}

/** Whether the record (read after its index entry) still belongs to the list of `range`. */
export function inRange(record: TaskRecord, range: IndexRange): boolean {
  return indexKeys(record).some((key) => key.startsWith(range.prefix));
}

/** The opaque cursor of a page ending at `key` of the index at `prefix`. */
export function encodeCursor(prefix: string, key: string): string {
  return Buffer.from(JSON.stringify([prefix, key])).toString('base64url');
}

function decodeCursor(cursor: unknown, prefix: string): string {
  let decoded: unknown;
  try {
    decoded = typeof cursor === 'string' ? JSON.parse(Buffer.from(cursor, 'base64url').toString()) : undefined;
  } catch {
    decoded = undefined; // reported just below, with the value
  }
  if (!Array.isArray(decoded) || typeof decoded[0] !== 'string' || typeof decoded[1] !== 'string') {
    throw invalid('cursor', `must be the nextCursor of a previous page, got ${shown(cursor)}`);
  }
  const [from, key] = decoded as [string, string];
  if (from !== prefix || !key.startsWith(prefix)) {
    throw invalid('cursor', 'must come from a page with the same state and outcome');
  }
  return key;
}
