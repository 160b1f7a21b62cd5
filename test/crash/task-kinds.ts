import type { CrashTask } from './protocol.js';

/*
 * The kinds of task a crash run is made of: each with its container's scripted behaviour and the
 * outcome that behaviour implies.
 */

/** A task that exits 0 after `durationMs`. */
export const succeeds = (id: string, durationMs = 100): CrashTask => ({
  id,
  behaviour: { durationMs, logs: [`${id} working`, `${id} done`] },
  expect: 'succeeded',
});
/** A task that exits `exitCode` after `durationMs`. */
export const exits = (id: string, exitCode: number, durationMs = 60): CrashTask => ({
  id,
  behaviour: { durationMs, exitCode, logs: [`${id} exiting ${exitCode}`] },
  expect: 'failed',
});
/** A task OOM-killed. */
export const oom = (id: string): CrashTask => ({
  id,
  behaviour: { durationMs: 60, oomKilled: true, logs: [`${id} allocating`] },
  expect: 'failed',
});
// 2 s, not 1: Kubernetes measures activeDeadlineSeconds from status.startTime, which has
// one-second resolution, so a 1 s deadline can pass before the container ever runs.
export const timesOut = (id: string): CrashTask => ({
  id,
  timeout: 2,
  behaviour: { durationMs: -1, logs: [`${id} never ends`] },
  expect: 'timedOut',
});
/** A task whose image does not exist (a permanent pull error). */
export const unpullable = (id: string): CrashTask => ({
  id,
  image: `registry.example/missing/${id}:1`,
  behaviour: { pull: 'notFound' },
  expect: 'failed',
});
/** A task that runs until the child cancels it. */
export const cancelled = (id: string): CrashTask => ({
  id,
  cancelWhenRunning: true,
  behaviour: { durationMs: -1, logs: [`${id} waiting`] },
  expect: 'cancelled',
});
