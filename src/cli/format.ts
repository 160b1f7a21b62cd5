/**
 * Small text formatters shared by the CLI's commands: durations, clock times, a failure's reason.
 */

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

/** Why a task ended, in a few words (shared with the dashboard). */
export { reasonOf } from '../failure-reasons.js';
