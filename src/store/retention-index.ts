/**
 * The retention index (layout v4): one key per finished (`deleted`) task, by outcome and finish
 * time, oldest first, so that a purge finds its candidates with one range read of at most one
 * batch of keys — the tasks finished before a time, or those past the newest `maxCount` — instead of
 * a scan of every task.
 *
 * - `fin:<outcome>:<finished, epoch ms, 16 digits>:<id>` → `1`, written in the batch of the task's
 *   `deleted` record (`deleted` is final: the key never moves) and removed with the task.
 *
 * The finish time is the record's `deletedAt` (when the task left the cluster), else its
 * `finishedAt`, else its `createdAt`: a task is kept `maxAgeSeconds` after it was cleaned up.
 */
import type { TaskOutcome, TaskRecord } from '../types.js';

/** Prefix of every retention index key. */
export const finishedPrefix = 'fin:';

/** The outcomes a finished task can have, each with its own part of the index. */
export const finishedOutcomes = [
  'succeeded',
  'failed',
  'timedOut',
  'cancelled',
] as const satisfies readonly TaskOutcome[];

const timeDigits = 16;

/** The prefix of the finished tasks of one outcome. */
export const finishedOutcomePrefix = (outcome: TaskOutcome): string => `${finishedPrefix}${outcome}:`;

/** When the task finished, for retention (epoch ms; 0 when no time parses). */
export function finishedAtOf(record: TaskRecord): number {
  for (const iso of [record.deletedAt, record.finishedAt, record.createdAt]) {
    const ms = iso === undefined ? Number.NaN : Date.parse(iso);
    if (Number.isFinite(ms)) return Math.max(ms, 0);
  }
  return 0;
}

const paddedTime = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(timeDigits, '0');

/** The record's retention key: only a `deleted` record with an outcome has one. */
export function finishedKey(record: TaskRecord): string | undefined {
  if (record.state !== 'deleted' || !record.outcome) return undefined;
  return `${finishedOutcomePrefix(record.outcome)}${paddedTime(finishedAtOf(record))}:${record.id}`;
}

/** The task id of a retention key under `prefix`. */
export function finishedIdOf(key: string, prefix: string): string {
  return key.slice(prefix.length + timeDigits + 1);
}

/**
 * The first key under `prefix` of a task finished at or after `ms`: keys below it are of tasks
 * finished before `ms`.
 */
export function finishedBound(prefix: string, ms: number): string {
  return `${prefix}${paddedTime(ms)}`;
}
