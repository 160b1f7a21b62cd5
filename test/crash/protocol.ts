/**
 * What the crash test and its child runner tell each other: the child's configuration (a JSON
 * file whose path is the child's only argument) and the JSON lines it prints on stdout.
 */
import type { ContainerBehaviour } from '../../src/sim/index.js';
import type { TaskOutcome, TaskState } from '../../src/types.js';

/** The child runner's pending budget (`stuck.pendingBudgetMs`): short, so stuck pods resolve in seconds. */
export const stuckPendingBudgetMs = 2500;

/** One task of a crash run: its container's scripted behaviour and what it must end as. */
export interface CrashTask {
  id: string;
  behaviour: ContainerBehaviour;
  /** @default 'busybox' */
  image?: string;
  /** Seconds (the task's `timeout`). */
  timeout?: number;
  /** The child cancels the task once it is `running` (once per process). */
  cancelWhenRunning?: boolean;
  /** The outcome the behaviour implies. */
  expect: TaskOutcome;
}

/**
 * Where the child stops everything (blocks its event loop with `Atomics.wait`) until the parent's
 * SIGKILL lands. Detected by observing the SQLite adapter's statements, never in library code.
 */
export type FreezePoint =
  /** `addTask(taskId)` resolved (the task is durable and acknowledged). */
  | { at: 'added'; taskId: string }
  /** A record of `taskId` in `state` has committed (e.g. `creating`: before the create request leaves). */
  | { at: 'state-persisted'; taskId: string; state: TaskState }
  /** A log snapshot of `taskId` with `final: true` has committed (before the delete request leaves). */
  | { at: 'final-log-persisted'; taskId: string }
  /**
   * A batch of at least `minRows` rows is being written: inside its transaction before COMMIT when
   * the batch spans several statements, else right before its one statement is sent.
   */
  | { at: 'burst'; minRows: number };

/** The child's configuration. */
export interface ChildConfig {
  kubeconfigPath: string;
  storePath: string;
  maxConcurrentJobs: number;
  queueSize: number;
  /** Every task of the run: the child waits until each is `deleted`. */
  tasks: CrashTask[];
  /** Ids to `addTask` in this process, in order (the others are expected to be in the store). */
  add: string[];
  /** Add them all at once (`Promise.all`) rather than one after the other. */
  addConcurrently?: boolean;
  /** The child's `stuck.pendingBudgetMs`. @default stuckPendingBudgetMs */
  pendingBudgetMs?: number;
  /** The child's `rateLimit` (the fault soak checks its ceiling). @default { qps: 1000, burst: 100 } */
  rateLimit?: { qps: number; burst: number };
  freeze?: FreezePoint;
  /** A `postgres://` store (Keyv over `@keyv/postgres`) instead of the SQLite file (K8S_JOBS_TEST_STORE=postgres). */
  storeUrl?: string;
}

/** A line the child prints. */
export type ChildMessage =
  | { event: 'ready'; pid: number }
  | { event: 'added'; id: string }
  | { event: 'transition'; id: string; from: TaskState | null; to: TaskState }
  | { event: 'frozen'; point: FreezePoint['at']; detail: string }
  | { event: 'done'; deleted: number }
  /** The longest event-loop stall of the child since it was ready (ms), each time it grows. */
  | { event: 'stall'; maxMs: number }
  /** One event-loop stall of 5 ms or more, as it ends (`recordStalls` of test/soak/request-rate.ts). */
  | { event: 'stalled'; endAt: number; ms: number }
  | { event: 'error'; message: string };
