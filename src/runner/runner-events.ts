import type { TaskOutcome } from '../types.js';

/** Something the runner reports besides transitions, on `runner.events$`. Discriminated by `kind`. */
export type RunnerEvent =
  /**
   * A Job of ours (by label) that no task accounts for, found at start or by the periodic scan
   * (`orphanScanIntervalMs`, once per Job); `action` says what the runner did with it (the
   * `orphans` option).
   */
  | {
      kind: 'orphanJob';
      name: string;
      uid: string;
      /** The annotation's task id; with `action: 'adopted'`, the id of the task it became. */
      taskId?: string;
      action: 'reported' | 'deleted' | 'adopted';
      /** Who found it: the start (`'start'`) or the periodic scan (`'scan'`). */
      phase: 'start' | 'scan';
      /** Why `'delete'` or `'adopt'` failed (the Job is then left as it is). */
      error?: string;
    }
  /**
   * A watch stream of the shared watch ended and is started again after `delayMs`. Without
   * `error` it ended cleanly (the server's watch timeout, every `watch.timeoutSeconds`); with it,
   * the connection failed or dropped, and the delay grows with each failure in a row.
   */
  | {
      kind: 'watchReconnect';
      resource: 'jobs' | 'pods';
      /** The wait before the next watch (0 after a clean end). */
      delayMs: number;
      /** Why the stream ended, when it failed (the API error's message). */
      error?: string;
    }
  /**
   * The watch's resourceVersion is too old (410 Gone): the runner lists the resource again and
   * reports Jobs missing from the fresh list as gone.
   */
  | { kind: 'watchExpired'; resource: 'jobs' | 'pods' }
  /**
   * A watch stream stayed silent longer than `watch.timeoutSeconds + watch.stallGraceMs` and was
   * abandoned (a `watchReconnect` follows).
   */
  | { kind: 'watchStalled'; resource: 'jobs' | 'pods' }
  /**
   * The client-side rate limit (`rateLimit`) held requests back. Coalesced: at most one per
   * second, with the requests delayed and their total wait over that second.
   */
  | {
      kind: 'throttled';
      /** Requests that had to wait for a token. */
      requests: number;
      /** Their waits, summed (ms). */
      waitedMs: number;
    }
  /**
   * A Kubernetes API request failed transiently (5xx, 429, network, timeout) and is retried after
   * `delayMs`. `resource` is a type (`jobs`, `pods/log`...), not an object's name.
   */
  | {
      kind: 'apiRetry';
      verb: string;
      resource: string;
      /** The attempt that failed (1 = the first). */
      attempt: number;
      /** The back-off before the next attempt. */
      delayMs: number;
      /** HTTP status; 0 for a network error or a per-attempt timeout. */
      statusCode: number;
      /** The error's message. */
      error: string;
    }
  /**
   * A task was queued again, its slot released and its Job deleted: a ResourceQuota had no room
   * for it (`waitingFor: 'quota'`), or it is retried (`retry` policy: the reason is the last of the
   * record's `retries`). It may start again from `until` (its back-off), when a slot is free.
   */
  | {
      kind: 'taskWaiting';
      taskId: string;
      /** ISO 8601. */
      until: string;
      waitingFor?: 'quota';
    }
  /**
   * A task's final logs could not be read: the read was retried with back-off, the Job kept,
   * until `logs.harvestRetryLimitMs` after its outcome passed. The record carries the same
   * `logs: { lost: true, reason }`; the outcome is unchanged and cleanup goes on.
   */
  | {
      kind: 'logsLost';
      taskId: string;
      jobName: string;
      /** The task's outcome, as it stands. */
      outcome?: TaskOutcome;
      /** Why (the last read's error). */
      reason: string;
    }
  /**
   * `shutdown({ mode: 'drain' | 'cancel' })` stopped waiting before every active task was deleted
   * and detached instead: the `remaining` tasks keep their Jobs and their stored state, and the
   * next runner on the store re-attaches to them. `reason`: the `timeoutMs` was up (`'timeout'`),
   * or a `shutdown({ mode: 'detach' })` (e.g. a second signal) cut the wait short (`'detach'`).
   */
  | {
      kind: 'shutdownDetached';
      mode: 'drain' | 'cancel';
      reason: 'timeout' | 'detach';
      /** The shutdown's `timeoutMs`, if it had one. */
      timeoutMs?: number;
      /** Ids of the tasks still active (not yet `deleted`) when the wait ended. */
      remaining: string[];
    }
  /**
   * A round of the background purge (`retention`) failed on `outcome`'s tasks (the store could not
   * be read or written); it is tried again at the next `retention.intervalMs`.
   */
  | {
      kind: 'retentionFailed';
      outcome: TaskOutcome;
      /** The error's message. */
      error: string;
    }
  /**
   * Leader election (`leaderElection`): this replica started leading (`change: 'leading'`: it runs
   * the tasks from now on), stopped leading (`'stoppedLeading'`, with `reason`), or saw the Lease
   * pass to another holder (`'newLeader'`; `leader` is `''` when nobody holds it).
   */
  | {
      kind: 'leadership';
      /** This replica's identity. */
      identity: string;
      change: 'leading' | 'stoppedLeading' | 'newLeader';
      /** The Lease's holder as this replica last saw it. */
      leader: string;
      /** Why this replica stopped leading: no renewal within `renewDeadlineSeconds`, or its shutdown. */
      reason?: 'renewDeadline' | 'stopped';
    }
  /**
   * Replicas over one store: a step of their notifications failed (`listen`: the connection broke
   * or could not be made again, and is retried; `notify`: an announcement was not sent; `apply`:
   * one received could not be applied). The store stays the truth: the leader's periodic scan and
   * a resync after each reconnect make up for what was missed.
   */
  | {
      kind: 'replicationFailed';
      phase: 'listen' | 'notify' | 'apply';
      /** The error's message. */
      error: string;
    };

/** The `kind`s of `RunnerEvent`. */
export type RunnerEventKind = RunnerEvent['kind'];
