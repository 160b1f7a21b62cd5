/**
 * Small formatters of the dashboard's pages: durations and the reason a task ended. The CLI has
 * its own (`src/cli/format.ts`), which the engine side may not import.
 */
import type { TaskRecord } from '../types.js';

/** `850ms`, `1.2s`, `2m05s`, `3h04m`; `—` when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const clamped = Math.max(0, ms);
  if (clamped < 1000) return `${Math.round(clamped)}ms`;
  if (clamped < 60_000) return `${(clamped / 1000).toFixed(1)}s`;
  if (clamped < 3_600_000) {
    const minutes = Math.floor(clamped / 60_000);
    return `${minutes}m${String(Math.floor((clamped % 60_000) / 1000)).padStart(2, '0')}s`;
  }
  const hours = Math.floor(clamped / 3_600_000);
  return `${hours}h${String(Math.floor((clamped % 3_600_000) / 60_000)).padStart(2, '0')}m`;
}

/** Milliseconds between two ISO 8601 times; undefined when either is missing. */
export function between(from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  return Date.parse(to) - Date.parse(from);
}

/** How long the task waited in the queue: created → started (or → now while still waiting). */
export function queueWait(record: TaskRecord, now: number): number | undefined {
  if (record.startedAt) return between(record.createdAt, record.startedAt);
  if (record.state === 'queued') return now - Date.parse(record.createdAt);
  return undefined;
}

/** How long the task ran: started → finished (or → now while it runs). */
export function runTime(record: TaskRecord, now: number): number | undefined {
  if (!record.startedAt) return undefined;
  if (record.finishedAt) return between(record.startedAt, record.finishedAt);
  return record.outcome ? undefined : now - Date.parse(record.startedAt);
}

/** Why a task ended, in a few words (shared with the CLI). */
export { reasonOf } from '../failure-reasons.js';

/**
 * What a queued task waits for, in a few words: `waiting for quota until 12:34:56 UTC`; undefined
 * for a task not waiting (a finished one shows nothing, even if its record still says it waited).
 */
export function waitingOf(record: Pick<TaskRecord, 'state' | 'waitingFor' | 'waitingUntil'>): string | undefined {
  if (record.state !== 'queued' || record.waitingFor === undefined) return undefined;
  const until = record.waitingUntil ? ` until ${record.waitingUntil.slice(11, 19)} UTC` : '';
  return `waiting for ${record.waitingFor}${until}`;
}
