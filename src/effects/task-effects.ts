import type { JobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import type { TaskStore } from '../store/contract.js';
import { sleep as realSleep, type Sleep } from '../time/sleep.js';
import { alarmEffect, type FreshReadRetry } from './alarm.js';
import { createJobEffect } from './create-job.js';
import { deleteJobEffect } from './delete-job.js';
import { harvestLogsEffect } from './harvest-logs.js';
import type { BeforeEffect, ReportEffectError } from './hooks.js';
import { SnapshotWrites } from './log-snapshots.js';
import { observeJobEffect } from './observe-job.js';
import { snapshotLogsEffect } from './snapshot-logs.js';

export interface TaskEffectsOptions {
  /** The Jobs of the runner's namespace, logs included. */
  jobs: JobsPort;
  /** The shared watch. */
  observer: JobObserver;
  /** Only log snapshots are written here; task records are the runner's. */
  store: Pick<TaskStore, 'putLogSnapshot' | 'getLogSnapshot'>;
  /** Epoch ms. @default Date.now */
  now?: () => number;
  /** Interval of log snapshots while a task runs. @default 30000 */
  logSnapshotIntervalMs?: number;
  /** Log lines kept for a failure record. @default 20 */
  lastLogLines?: number;
  /**
   * A failed final log read is retried (the Job kept) until this long after the task's outcome;
   * then the logs are declared lost. @default 300000
   */
  harvestRetryLimitMs?: number;
  /** Back-off between final log reads (full jitter, doubling). @default { baseDelayMs: 200, maxDelayMs: 30000 } */
  harvestBackoff?: { baseDelayMs: number; maxDelayMs: number };
  /**
   * While waiting for a deleted Job to go, a GET checks after this long (doubling) in case the
   * watch is behind. @default 2000
   */
  deleteCheckMs?: number;
  /**
   * At a deadline the Job is read fresh before it is decided; a failed read is retried with this
   * back-off until `limitMs` after the first failure, then the watch's view decides.
   * @default { baseDelayMs: 1000, maxDelayMs: 30000, limitMs: 330000 }
   */
  freshReadRetry?: FreshReadRetry;
  /** An Events LIST for a troubled observation may delay it this long at most. @default 5000 */
  eventsTimeoutMs?: number;
  /**
   * Awaited before `createJob`, `harvestLogs` and `deleteJob` touch anything: the runner's
   * write-ahead hook (the task's transition into the state that invoked the effect is durable first).
   */
  beforeEffect?: BeforeEffect;
  /** Failures that do not fail the task (a periodic snapshot, an Events lookup). @default process.emitWarning */
  onError?: ReportEffectError;
  sleep?: Sleep;
}

/** The default `onError`: a process warning. */
const warn: ReportEffectError = (error, where) =>
  process.emitWarning(`k8s-jobs: ${where.effect} of task "${where.taskId}" failed: ${String(error)}`);

/**
 * The task machine's invoked actors (names as in `contract.ts`), to be given to
 * `taskMachine.provide({ actors })`. Every promise actor passes its `signal` down to each request;
 * every callback actor sends nothing after its cleanup ran and releases its timers and
 * subscriptions there.
 *
 * @example
 * ```ts
 * const actors = createTaskEffects({ jobs, observer, store });
 * const machine = taskMachine.provide({ actors });
 * ```
 */
export function createTaskEffects(options: TaskEffectsOptions) {
  const { jobs, observer, store } = options;
  const now = options.now ?? Date.now;
  const beforeEffect = options.beforeEffect ?? (() => Promise.resolve());
  const report = options.onError ?? warn;
  const writes = new SnapshotWrites();
  const sleep = options.sleep ?? realSleep;
  return {
    createJob: createJobEffect({ jobs, observer, beforeEffect }),
    observeJob: observeJobEffect({ jobs, observer, eventsTimeoutMs: options.eventsTimeoutMs ?? 5000, report }),
    alarm: alarmEffect({
      now,
      jobs,
      report,
      ...(options.freshReadRetry ? { freshReadRetry: options.freshReadRetry } : {}),
    }),
    snapshotLogs: snapshotLogsEffect({
      jobs,
      observer,
      store,
      writes,
      intervalMs: options.logSnapshotIntervalMs ?? 30_000,
      now,
      report,
    }),
    harvestLogs: harvestLogsEffect({
      jobs,
      observer,
      store,
      writes,
      lineCount: options.lastLogLines ?? 20,
      retry: {
        limitMs: options.harvestRetryLimitMs ?? 300_000,
        ...(options.harvestBackoff ?? { baseDelayMs: 200, maxDelayMs: 30_000 }),
      },
      now,
      sleep,
      beforeEffect,
    }),
    deleteJob: deleteJobEffect({
      jobs,
      observer,
      now,
      sleep,
      deleteCheckMs: options.deleteCheckMs ?? 2000,
      beforeEffect,
    }),
  };
}

/** The actor logics `createTaskEffects` returns, keyed as the task machine's `setup({ actors })`. */
export type TaskEffects = ReturnType<typeof createTaskEffects>;
