/**
 * Small text formatters shared by the CLI's commands: durations, clock times, a failure's reason.
 */
import type { TaskRecord } from '../types.js';

/** `1.2s`, `850ms`, `2m05s`; `—` when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const clamped = Math.max(0, ms);
  if (clamped < 1000) return `${Math.round(clamped)}ms`;
  if (clamped < 60_000) return `${(clamped / 1000).toFixed(1)}s`;
  const minutes = Math.floor(clamped / 60_000);
  const seconds = Math.floor((clamped % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** Milliseconds from `from` to `to` (ISO 8601 times); undefined when either is missing. */
export function between(from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  return Date.parse(to) - Date.parse(from);
}

/** `HH:MM:SS.mmm` of an ISO 8601 time, in UTC (what the store holds). */
export function clockTime(iso: string): string {
  return iso.slice(11, 23);
}

/**
 * Why a task ended as it did, in a few words: `exit code 3`, `OOMKilled (exit code 137)`,
 * `DeadlineExceeded`, `ImagePullBackOff`; empty for a success.
 */
export function reasonOf(record: Pick<TaskRecord, 'failure'>): string {
  const failure = record.failure;
  if (!failure) return '';
  if (failure.oomKilled) return `OOMKilled (exit code ${failure.exitCode ?? 137})`;
  if (failure.exitCode !== undefined && failure.exitCode !== 0)
    return `exit code ${failure.exitCode} (${failure.reason})`;
  return failure.reason;
}
