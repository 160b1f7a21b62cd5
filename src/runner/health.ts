import type { WatchHealth } from '../ports/job-observer.js';

/**
 * The runner's overall health:
 * - `down`: the runner is closed (shut down, or stopped after a fatal error), a store write failed,
 *   or the shared watch is stopped or has not been connected for longer than `watch.stallGraceMs`;
 * - `degraded`: the watch is reconnecting, for less than `watch.stallGraceMs` so far (a stream
 *   restarting, a blip), or the queue is full (`addTask` rejects with `QueueFullError`);
 * - `ok`: otherwise.
 */
export type HealthStatus = 'ok' | 'degraded' | 'down';

/**
 * What `runner.health()` returns: plain JSON (times as ISO strings), cheap to compute, meant for
 * readiness and liveness probes (see docs/deploy.md).
 *
 * @example
 * ```ts
 * const health = runner.health();
 * const ready = health.status !== 'down' && health.watch.state === 'connected';
 * ```
 */
export interface RunnerHealth {
  status: HealthStatus;
  /** The shared watch of Jobs and Pods. */
  watch: {
    /**
     * `connected`: both streams (Jobs, Pods) are open; `reconnecting`: one of them ended, failed
     * or was abandoned as stalled and is being restarted; `stopped`: the runner is closed.
     */
    state: 'connected' | 'reconnecting' | 'stopped';
    /** Since when the watch is in `state` (ISO 8601). */
    since: string;
    /** When the API server last sent a watch event or bookmark (ISO 8601), if ever. */
    lastEventAt?: string;
  };
  /** The store, as the runner's writes find it. */
  store: {
    /**
     * False once a write failed (fatal: the runner then stops). Not changed by a shutdown, so a
     * liveness probe on it does not fail while the runner drains.
     */
    writable: boolean;
    /** When the last write succeeded (ISO 8601). */
    lastWriteAt?: string;
    /** Why a write failed (its message). */
    lastError?: string;
  };
  /** Queued tasks (`depth`) and `queueSize` (`capacity`). */
  queue: { depth: number; capacity: number };
  /** Tasks started and not yet cleaned up (creating, running, finished, deleting). */
  active: number;
  maxConcurrentJobs: number;
  /** Several replicas (`leaderElection`) only: this replica's part in the election. */
  leader?: LeaderHealth;
}

/** `RunnerHealth.leader`. */
export interface LeaderHealth {
  /** This replica's identity (the Lease's holder while it leads). */
  identity: string;
  /** Whether this replica leads (runs the tasks) now. */
  leading: boolean;
  /** The Lease's holder as last seen (`''`: none). */
  holder: string;
}

/** What `healthOf` reads: the parts' own reports, in their own units (epoch ms). */
export interface HealthSources {
  closed: boolean;
  watch: WatchHealth;
  /** `watch.stallGraceMs`: how long the watch may be reconnecting before the runner is `down`. */
  stallGraceMs: number;
  store: { writable: boolean; lastWriteAt?: number; lastError?: string };
  queue: { depth: number; capacity: number };
  active: number;
  maxConcurrentJobs: number;
  now: number;
  leader?: LeaderHealth;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Puts the parts' reports together into a `RunnerHealth`, deciding its `status`. */
export function healthOf(sources: HealthSources): RunnerHealth {
  const { watch, store, queue, now } = sources;
  const watchDown =
    watch.state === 'stopped' || (watch.state === 'reconnecting' && now - watch.since > sources.stallGraceMs);
  const status: HealthStatus =
    sources.closed || !store.writable || watchDown
      ? 'down'
      : watch.state !== 'connected' || queue.depth >= queue.capacity
        ? 'degraded'
        : 'ok';
  return {
    status,
    watch: {
      state: watch.state,
      since: iso(watch.since),
      ...(watch.lastEventAt !== undefined ? { lastEventAt: iso(watch.lastEventAt) } : {}),
    },
    store: {
      writable: store.writable,
      ...(store.lastWriteAt !== undefined ? { lastWriteAt: iso(store.lastWriteAt) } : {}),
      ...(store.lastError !== undefined ? { lastError: store.lastError } : {}),
    },
    queue: { depth: queue.depth, capacity: queue.capacity },
    active: sources.active,
    maxConcurrentJobs: sources.maxConcurrentJobs,
    ...(sources.leader ? { leader: sources.leader } : {}),
  };
}
