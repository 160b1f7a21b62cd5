import { Subject, type Observable } from 'rxjs';
import { decide, fastRenewal, isHolder, nextTryMs, observe, releaseRecord, type Observation } from './decide.js';
import { jitterFactor, type LeaderElectionConfig } from './options.js';
import type { LeaseLock, LeaseRecord } from './record.js';

/** What a `LeaderElector` tells, in order. `at` is the local time (ms since the epoch). */
export type LeaderEvent =
  /** This replica acquired the Lease: leader-only work may start. */
  | { type: 'leading'; identity: string; at: number }
  /**
   * This replica stopped leading: leader-only work must stop now. `renewDeadline`: no renewal
   * succeeded within renewDeadlineSeconds (or the Lease was found held by another); `stopped`:
   * `stop()` was called (emitted before the Lease is released).
   */
  | { type: 'lost'; identity: string; at: number; reason: 'renewDeadline' | 'stopped' }
  /** The observed holder changed (`''`: nobody holds it), as client-go's `OnNewLeader`. */
  | { type: 'leader'; identity: string; at: number }
  /** One try failed (the loop goes on): an API error, a 409 lost to another writer, a timeout. */
  | { type: 'attemptFailed'; phase: 'acquire' | 'renew' | 'release'; error: unknown; at: number };

/** Injected for tests and for a runner's own clock. */
export interface ElectorDeps {
  /** Local time in ms. @default Date.now */
  now?: () => number;
  /** [0, 1). @default Math.random */
  random?: () => number;
}

/** What `stop()` resolves to. */
export interface StopResult {
  /** The Lease was released (holder emptied) by this stop. */
  released: boolean;
  /** Why the release failed, when it was attempted and failed (others then wait out the lease). */
  releaseError?: unknown;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Leader election on client-go's algorithm over one Lease: followers try every retryPeriod
 * (jittered) and take a Lease that is empty or has not changed for its duration, by local
 * time; the leader renews every retryPeriod, and if no renewal succeeds within renewDeadline
 * (measured from the start of the last successful one) it emits `lost` at that instant and goes
 * back to following. Since renewDeadline < leaseDuration, `lost` comes before any follower can
 * see the Lease expire. `stop()` emits `lost` first, then releases the Lease (empty holder,
 * duration 1 s), so a follower takes over at its next try.
 *
 * Differences from client-go, both on the safe side: the renew deadline runs from the last
 * successful renewal rather than from the start of the failing round (client-go's can end up to
 * one retryPeriod later), and a renewal that finds another holder stops leading at once.
 *
 * @example
 * ```ts
 * const elector = new LeaderElector(resolveLeaderElectionOptions({ leaseName: 'my-app' }), lock);
 * elector.events$.subscribe((event) => console.log(event.type, event.identity));
 * elector.start();
 * // ... on shutdown:
 * await elector.stop();
 * ```
 */
export class LeaderElector {
  readonly #config: LeaderElectionConfig;
  readonly #lock: LeaseLock;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #events = new Subject<LeaderEvent>();
  readonly #stop = new AbortController();
  #observed: Observation | undefined;
  #reportedLeader = '';
  #leading = false;
  #loop: Promise<void> | undefined;
  #stopping: Promise<StopResult> | undefined;

  /** Every event, synchronously as it happens; completes after `stop()`. */
  readonly events$: Observable<LeaderEvent> = this.#events.asObservable();

  constructor(config: LeaderElectionConfig, lock: LeaseLock, deps: ElectorDeps = {}) {
    this.#config = config;
    this.#lock = lock;
    this.#now = deps.now ?? Date.now;
    this.#random = deps.random ?? Math.random;
  }

  /** This replica's identity (the Lease's `holderIdentity` while it leads). */
  get identity(): string {
    return this.#config.identity;
  }

  /** Whether this replica leads right now (false from the instant `lost` is emitted). */
  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder last observed (`''`: none, or nothing observed yet). */
  leader(): string {
    return this.#observed?.record.holderIdentity ?? '';
  }

  /** Starts following (and leading when elected). Idempotent; a stopped elector does not restart. */
  start(): void {
    if (this.#loop || this.#stop.signal.aborted) return;
    this.#loop = this.#run();
  }

  /**
   * Stops: a leader emits `lost` (reason `stopped`) first, then the Lease is released if the last
   * observation names this replica (bounded by renewDeadline), then `events$` completes.
   */
  stop(): Promise<StopResult> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<StopResult> {
    if (this.#leading) this.#lose('stopped');
    this.#stop.abort();
    await this.#loop;
    const result = await this.#release();
    this.#events.complete();
    return result;
  }

  /**
   * One release, bounded by renewDeadline. A write that fails is followed by one read: a renewal
   * applied by the server but never answered (a connection cut, or the stop aborting it in
   * flight) leaves the lock's resourceVersion stale, so the first write is a 409 although the
   * Lease still names this replica. Written again over what was read, it is released anyway.
   */
  async #release(): Promise<StopResult> {
    const record = releaseRecord(this.#observed, this.#config, this.#now());
    if (!record) return { released: false };
    const timeout = AbortSignal.timeout(this.#config.renewDeadlineMs);
    if ((await this.#writeRelease(record, timeout)) === undefined) return { released: true };
    try {
      const current = await this.#lock.get(timeout);
      if (current) this.#observed = observe(current.record, this.#now());
    } catch (error) {
      this.#emit({ type: 'attemptFailed', phase: 'release', error, at: this.#now() });
      return { released: false, releaseError: error };
    }
    this.#reportTransition();
    const again = releaseRecord(this.#observed, this.#config, this.#now());
    // Not ours any more: emptied (the first write was applied after all) or taken by another.
    if (!again) return { released: this.leader() === '' };
    const error = await this.#writeRelease(again, timeout);
    return error === undefined ? { released: true } : { released: false, releaseError: error };
  }

  /** One release write: undefined when it succeeded, else its error (emitted as a failed try). */
  async #writeRelease(record: LeaseRecord, signal: AbortSignal): Promise<unknown> {
    try {
      await this.#lock.update(record, signal);
    } catch (error) {
      this.#emit({ type: 'attemptFailed', phase: 'release', error, at: this.#now() });
      return error ?? new Error('the release write failed');
    }
    this.#observed = observe(record, this.#now());
    this.#reportTransition();
    return undefined;
  }

  #emit(event: LeaderEvent): void {
    this.#events.next(event);
  }

  async #run(): Promise<void> {
    const stopped = this.#stop.signal;
    while (!stopped.aborted) {
      const acquiredAt = await this.#acquire();
      if (acquiredAt === undefined) return;
      await this.#lead(acquiredAt);
    }
  }

  /** `acquire`: tries until a try succeeds (resolves with that try's start) or stop (undefined). */
  async #acquire(): Promise<number | undefined> {
    const stopped = this.#stop.signal;
    while (!stopped.aborted) {
      const startedAt = this.#now();
      // A try that hangs (a partitioned network) must not hold the loop: each gets renewDeadline.
      const attempt = AbortSignal.any([stopped, AbortSignal.timeout(this.#config.renewDeadlineMs)]);
      const acquired = await this.#tryAcquireOrRenew('acquire', attempt);
      this.#reportTransition();
      if (acquired && !stopped.aborted) return startedAt;
      await pause(nextTryMs(this.#config, this.#observed, this.#now(), this.#random(), jitterFactor), stopped);
    }
    return undefined;
  }

  /** `renew`: leads from `since` until a renewal misses the deadline or stop. */
  async #lead(since: number): Promise<void> {
    // Stopped between the winning try and now (a turn of the event loop): an 'abort' listener
    // added now would never run, and this replica would lead, and stop() wait, for good.
    if (this.#stop.signal.aborted) return;
    const term = new AbortController();
    const onStop = (): void => term.abort();
    this.#stop.signal.addEventListener('abort', onStop, { once: true });
    const lose = (): void => {
      if (this.#leading) this.#lose('renewDeadline');
      term.abort();
    };
    let deadline = setTimeout(lose, since + this.#config.renewDeadlineMs - this.#now());
    this.#leading = true;
    this.#emit({ type: 'leading', identity: this.identity, at: this.#now() });
    try {
      while (!term.signal.aborted) {
        await pause(this.#config.retryPeriodMs, term.signal);
        if (term.signal.aborted) break;
        const startedAt = this.#now();
        const renewed = await this.#tryAcquireOrRenew('renew', term.signal);
        this.#reportTransition();
        if (term.signal.aborted) break;
        if (renewed) {
          clearTimeout(deadline);
          deadline = setTimeout(lose, startedAt + this.#config.renewDeadlineMs - this.#now());
        } else if (this.#observed && !isHolder(this.#observed, this.identity)) {
          // Another replica holds it (we were deposed while unable to write): stop at once.
          lose();
        }
      }
    } finally {
      clearTimeout(deadline);
      this.#stop.signal.removeEventListener('abort', onStop);
    }
  }

  #lose(reason: 'renewDeadline' | 'stopped'): void {
    this.#leading = false;
    this.#emit({ type: 'lost', identity: this.identity, at: this.#now(), reason });
  }

  /** `maybeReportTransition`: `leader` when the observed holder differs from the last reported. */
  #reportTransition(): void {
    const holder = this.leader();
    if (holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    this.#emit({ type: 'leader', identity: holder, at: this.#now() });
  }

  /** One `tryAcquireOrRenew`: true when this replica holds the Lease after it. */
  async #tryAcquireOrRenew(phase: 'acquire' | 'renew', signal: AbortSignal): Promise<boolean> {
    const fast = fastRenewal(this.#observed, this.#config, this.#now());
    if (fast) {
      if (await this.#write(phase, 'update', fast, signal)) return true;
      if (signal.aborted) return false;
    }
    let current;
    try {
      current = await this.#lock.get(signal);
    } catch (error) {
      this.#failed(phase, error);
      return false;
    }
    const { observed, decision } = decide(this.#observed, current, this.#config, this.#now());
    this.#observed = observed;
    if (decision.action === 'wait') return false;
    return this.#write(phase, decision.action, decision.record, signal);
  }

  async #write(
    phase: 'acquire' | 'renew',
    verb: 'create' | 'update',
    record: LeaseRecord,
    signal: AbortSignal,
  ): Promise<boolean> {
    try {
      await (verb === 'create' ? this.#lock.create(record, signal) : this.#lock.update(record, signal));
    } catch (error) {
      this.#failed(phase, error);
      return false;
    }
    this.#observed = observe(record, this.#now());
    return true;
  }

  /**
   * A failed try is reported (timeouts included), except one our own stop cut short, or a
   * renewal cut short by the deadline that already emitted `lost`.
   */
  #failed(phase: 'acquire' | 'renew', error: unknown): void {
    if (this.#stop.signal.aborted || (phase === 'renew' && !this.#leading)) return;
    this.#emit({ type: 'attemptFailed', phase, error, at: this.#now() });
  }
}
