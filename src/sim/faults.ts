import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimContext } from './context.js';
import type { Controller } from './controller.js';
import { disruptPod, type DisruptPodOptions } from './eviction.js';
import { writeExpiredWatch, writeInjectedError, type InjectedError, type InjectedStatus } from './fault-responses.js';
import { seededRandom } from './seeded-random.js';
import type { RequestAttributes, RequestHook } from './server.js';
import type { KubeObject } from './types.js';
import type { OpenWatch } from './watch.js';

/** Which requests a fault applies to. Every field left out matches everything. */
export interface FaultMatch {
  /** RBAC verbs: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`. */
  verbs?: RequestAttributes['verb'][];
  /** `jobs`, `pods`, `events`, or a subresource as `pods/log`, `jobs/status`; `*` matches all. */
  resources?: string[];
  namespace?: string;
  /** The object named in the path (so never a list, watch or create). */
  name?: string;
  /** Requests carrying this bearer token: one client among several (e.g. one replica of many). */
  token?: string;
}

/** How often a rule fires. */
export interface FaultFrequency {
  /** Probability that a matching request is hit, drawn from the seeded source. @default 1 */
  rate?: number;
  /** Hit at most this many requests, then the rule is spent. @default unlimited */
  times?: number;
}

/**
 * Answer matching requests with an error instead of serving them.
 *
 * @example
 * ```ts
 * // Half of the Job creates (seeded draw) are throttled as APF does it.
 * cluster.faults.failRequests({
 *   verbs: ['create'],
 *   resources: ['jobs'],
 *   status: 429,
 *   retryAfterSeconds: 2,
 *   rate: 0.5,
 * });
 * ```
 */
export interface ErrorFault extends FaultMatch, FaultFrequency, InjectedError {
  /**
   * `'after'`: serve the request (its write is applied) and then answer with the error instead of
   * the real response, as when the apiserver times out on a write etcd did commit. Never matches
   * watches. @default 'before'
   */
  phase?: 'before' | 'after';
}

/** Added latency before matching requests are served, in real (unscaled) ms. */
export interface LatencyFault extends FaultMatch, FaultFrequency {
  /** A fixed delay, or `[min, max]` drawn uniformly from the seeded source. */
  ms: number | readonly [min: number, max: number];
}

/** Matching requests lose their connection (the client sees a reset / socket hang up). */
export interface ResetFault extends FaultMatch, FaultFrequency {
  /**
   * `'before'`: the request never reaches the API. `'after'`: it is served (a create creates) and
   * the connection dies before the response is written. Never matches watches. @default 'before'
   */
  phase?: 'before' | 'after';
}

/** Which watches a watch fault hits. */
export interface WatchMatch {
  /** `jobs`, `pods`, ...; left out = every resource. */
  resources?: string[];
}

/** Faults active from the start (`startSimulatedCluster({ faults })`); all of them can be changed later. */
export interface FaultOptions {
  /** Seed of the random source that decides `rate`s and latency ranges. @default 1 */
  seed?: number;
  errors?: ErrorFault[];
  latency?: LatencyFault[];
  resets?: ResetFault[];
  /** Drop every open watch stream this often (real ms). */
  dropWatchesEveryMs?: number;
  /** Answer this many of the next resuming watches with `ERROR 410 Expired`. */
  expireNextWatches?: number;
  /** Force a `410 Expired` on every open watch this often (real ms): see `expireWatchesEvery`. */
  expireWatchesEveryMs?: number;
  /** Hold this many of the next watches open in silence (see `stallNextWatches`). */
  stallNextWatches?: number;
}

/** A rule added at run time: how often it fired, and a way to take it out. */
export interface FaultHandle {
  /** Requests this rule has hit so far. */
  readonly hits: number;
  /** Stops the rule (idempotent). */
  remove(): void;
}

/** Kinds of injected fault, as counted. */
export type FaultKind =
  'error' | 'latency' | 'reset' | 'watchDropped' | 'watchExpired' | 'watchStalled' | 'logStreamDropped';

/** One injected fault, for assertions. */
export interface InjectedFault {
  at: number;
  kind: FaultKind;
  /** The HTTP status of an `error`. */
  status?: InjectedStatus;
  phase?: 'before' | 'after';
  /** Added delay of a `latency`, in ms. */
  delayMs?: number;
  /** `verb resource` of the request hit (`watch jobs` for watch faults). */
  request: string;
  namespace?: string;
  name?: string;
}

/** How many faults were injected, by kind (and errors by status). */
export interface FaultCounts {
  total: number;
  errors: number;
  errorsByStatus: Record<InjectedStatus, number>;
  delayed: number;
  resets: number;
  watchesDropped: number;
  watchesExpired: number;
  watchesStalled: number;
  logStreamsDropped: number;
}

interface Rule<T> {
  fault: T;
  hits: number;
  removed: boolean;
}

interface WatchExpiry {
  remaining: number;
  match: WatchMatch;
}

const defaultSeed = 1;

function resourceKey(attrs: RequestAttributes): string {
  return attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
}

function matches(match: FaultMatch, attrs: RequestAttributes): boolean {
  if (match.verbs && !match.verbs.includes(attrs.verb)) return false;
  if (match.resources && !match.resources.includes('*') && !match.resources.includes(resourceKey(attrs))) return false;
  if (match.namespace !== undefined && match.namespace !== attrs.namespace) return false;
  if (match.name !== undefined && match.name !== attrs.name) return false;
  if (match.token !== undefined && match.token !== attrs.token) return false;
  return true;
}

function watchMatches(match: WatchMatch, resource: string): boolean {
  return !match.resources || match.resources.includes('*') || match.resources.includes(resource);
}

/**
 * Makes the simulated API server misbehave the way real ones do: error responses (500, 503, 429
 * as APF sends it), added latency, connection resets before or after a request is applied,
 * watch streams dropped on a timer, `410 Expired` for resuming watches (the next ones, or forced
 * on every open watch on a timer), and watches that go
 * silent. Decisions come from a seeded random source, so a test sees the same requests hit on
 * every run; every injected fault is counted (`counts()`) and listed (`injected()`). Injected
 * failures still show in the cluster's request log, with the status the client got (0 for a reset).
 *
 * It runs as a request hook before dispatch, after RBAC: a denied request is never "faulted".
 */
export class FaultInjector implements Controller {
  #random: () => number;
  #errors: Rule<ErrorFault>[] = [];
  #latency: Rule<LatencyFault>[] = [];
  #resets: Rule<ResetFault>[] = [];
  #expiries: WatchExpiry[] = [];
  #stalls: WatchExpiry[] = [];
  #stopDropping: (() => void) | undefined;
  #stopExpiring: (() => void) | undefined;
  readonly #log: InjectedFault[] = [];

  constructor(
    private readonly ctx: SimContext,
    options: FaultOptions = {},
  ) {
    this.#random = seededRandom(options.seed ?? defaultSeed);
    for (const fault of options.errors ?? []) this.failRequests(fault);
    for (const fault of options.latency ?? []) this.delayRequests(fault);
    for (const fault of options.resets ?? []) this.resetConnections(fault);
    if (options.dropWatchesEveryMs !== undefined) this.dropWatchesEvery(options.dropWatchesEveryMs);
    if (options.expireNextWatches) this.expireNextWatches(options.expireNextWatches);
    if (options.expireWatchesEveryMs !== undefined) this.expireWatchesEvery(options.expireWatchesEveryMs);
    if (options.stallNextWatches) this.stallNextWatches(options.stallNextWatches);
  }

  /** Answers matching requests with `status` (before or after serving them). */
  failRequests(fault: ErrorFault): FaultHandle {
    return this.#add(this.#errors, fault);
  }

  /** Delays matching requests by `ms` (or a draw from `[min, max]`) before serving them. */
  delayRequests(fault: LatencyFault): FaultHandle {
    return this.#add(this.#latency, fault);
  }

  /** Destroys the connection of matching requests, before or after serving them. */
  resetConnections(fault: ResetFault): FaultHandle {
    return this.#add(this.#resets, fault);
  }

  /**
   * Drops every open watch stream (matching `match`) every `everyMs` real ms, as a flaky network
   * or an apiserver restart would; `undefined` stops it.
   */
  dropWatchesEvery(everyMs: number | undefined, match: WatchMatch = {}): void {
    this.#stopDropping?.();
    this.#stopDropping = undefined;
    if (everyMs === undefined) return;
    if (!(everyMs > 0)) throw new RangeError(`dropWatchesEvery: everyMs must be > 0, got ${everyMs}`);
    const tick = (): void => {
      this.dropWatches(match);
      this.#stopDropping = this.ctx.clock.afterReal(everyMs, tick);
    };
    this.#stopDropping = this.ctx.clock.afterReal(everyMs, tick);
  }

  /** Drops every open watch stream (matching `match`) now; returns how many. */
  dropWatches(match: WatchMatch = {}): number {
    let dropped = 0;
    for (const watch of [...this.ctx.openWatches]) {
      if (!watchMatches(match, watch.resource)) continue;
      watch.drop();
      dropped++;
      this.#record({ kind: 'watchDropped', request: `watch ${watch.resource}` });
    }
    return dropped;
  }

  /**
   * Cuts every pod log being followed (`follow=true`) now, as a flaky network or an apiserver
   * restart would: the client sees the stream end without the chunked terminator. Returns how many.
   */
  dropLogStreams(): number {
    let dropped = 0;
    for (const follow of [...this.ctx.openLogStreams]) {
      follow.drop();
      dropped++;
      this.#record({ kind: 'logStreamDropped', request: 'get pods/log' });
    }
    return dropped;
  }

  /**
   * Answers the next `count` watches that resume from a resourceVersion with `ERROR 410 Expired`,
   * as after an etcd compaction. A watch without a resourceVersion (or `0`) starts from the current
   * state and cannot be too old, so it is served normally and does not use up the count.
   */
  expireNextWatches(count = 1, match: WatchMatch = {}): void {
    if (count > 0) this.#expiries.push({ remaining: count, match });
  }

  /**
   * Every `everyMs` real ms, forces a `410 Expired` on every open watch (matching `match`), as an
   * etcd compaction under a lagging watch cache does: the stream is cut and its resume from the
   * last resourceVersion it saw is answered `ERROR 410 Expired` (one expiry per cut watch, counted
   * as `watchExpired` when served), so the client must relist. A tick that finds no matching watch
   * open (its client restarting, or its stream just dropped) leaves one expiry for the next
   * resuming watch instead: one at most waits, however many such ticks pass. `undefined` stops the
   * ticks; expiries left by earlier ones stay for the next resuming watches (`clear()` removes them).
   */
  expireWatchesEvery(everyMs: number | undefined, match: WatchMatch = {}): void {
    this.#stopExpiring?.();
    this.#stopExpiring = undefined;
    if (everyMs === undefined) return;
    if (!(everyMs > 0)) throw new RangeError(`expireWatchesEvery: everyMs must be > 0, got ${everyMs}`);
    /** This timer's own expiry for the next resume, while it waits (told apart by identity). */
    const unwatched: WatchExpiry = { remaining: 1, match };
    const tick = (): void => {
      let cut = 0;
      for (const watch of [...this.ctx.openWatches]) {
        if (!watchMatches(match, watch.resource)) continue;
        // Queued before the cut, so the resume cannot slip in ahead of its expiry.
        this.expireNextWatches(1, { resources: [watch.resource] });
        watch.drop();
        cut++;
      }
      if (cut === 0 && !this.#expiries.includes(unwatched)) {
        unwatched.remaining = 1;
        this.#expiries.push(unwatched);
      }
      this.#stopExpiring = this.ctx.clock.afterReal(everyMs, tick);
    };
    this.#stopExpiring = this.ctx.clock.afterReal(everyMs, tick);
  }

  /**
   * Holds the next `count` matching watches open in silence: the headers are sent, then nothing —
   * no events, no bookmarks, no end at `timeoutSeconds` — until the client gives up or the cluster
   * closes, as with a half-open connection or a wedged apiserver. Only a client-side watchdog
   * gets out of it. (Combine with `dropWatches()` to send a watching client into one.)
   */
  stallNextWatches(count = 1, match: WatchMatch = {}): void {
    if (count > 0) this.#stalls.push({ remaining: count, match });
  }

  /**
   * Disrupts a pod as Kubernetes does: `DisruptionTarget` (reason `EvictionByEvictionAPI`,
   * `PreemptionByScheduler` or `DeletionByTaintManager`) is added to its status, then it is
   * deleted gracefully; its Job sees it fail with that condition. Throws 404 for a missing pod.
   *
   * @example
   * ```ts
   * cluster.faults.evictPod('work-x7k2p', { reason: 'Preempted' });
   * ```
   */
  evictPod(name: string, options: DisruptPodOptions = {}): KubeObject {
    return disruptPod(this.ctx, name, options);
  }

  /** Forgets the watch history, so every resume from an earlier resourceVersion gets 410 from now on. */
  compactHistory(): void {
    this.ctx.store.compact();
  }

  /** Removes every fault (rules, timed watch drops and expiries, pending expiries and stalls). Counts are kept. */
  clear(): void {
    for (const rule of [...this.#errors, ...this.#latency, ...this.#resets]) rule.removed = true;
    this.#errors = [];
    this.#latency = [];
    this.#resets = [];
    this.#expiries = [];
    this.#stalls = [];
    this.dropWatchesEvery(undefined);
    this.expireWatchesEvery(undefined);
  }

  /** Restarts the random source from `seed`. */
  reseed(seed: number): void {
    this.#random = seededRandom(seed);
  }

  /** Faults injected so far, by kind. */
  counts(): FaultCounts {
    const counts: FaultCounts = {
      total: 0,
      errors: 0,
      errorsByStatus: { 429: 0, 500: 0, 503: 0 },
      delayed: 0,
      resets: 0,
      watchesDropped: 0,
      watchesExpired: 0,
      watchesStalled: 0,
      logStreamsDropped: 0,
    };
    for (const fault of this.#log) {
      counts.total++;
      if (fault.kind === 'error') {
        counts.errors++;
        if (fault.status !== undefined) counts.errorsByStatus[fault.status]++;
      } else if (fault.kind === 'latency') counts.delayed++;
      else if (fault.kind === 'reset') counts.resets++;
      else if (fault.kind === 'watchDropped') counts.watchesDropped++;
      else if (fault.kind === 'watchStalled') counts.watchesStalled++;
      else if (fault.kind === 'logStreamDropped') counts.logStreamsDropped++;
      else counts.watchesExpired++;
    }
    return counts;
  }

  /** Every fault injected so far, in order. */
  injected(): readonly InjectedFault[] {
    return this.#log;
  }

  /**
   * The request hook the API server runs before dispatch.
   * @internal
   */
  readonly hook: RequestHook = async (attrs, req, res) => {
    const latency = this.#take(this.#latency, attrs);
    if (latency) {
      const delayMs = this.#delayOf(latency.fault.ms);
      this.#record({ kind: 'latency', delayMs, ...this.#about(attrs) });
      await new Promise<void>((resolve) => this.ctx.clock.afterReal(delayMs, resolve));
      // The client may have given up meanwhile: nothing left to serve.
      if (req.destroyed || res.destroyed) return true;
    }
    const streaming = attrs.verb === 'watch';
    const reset = this.#take(this.#resets, attrs, (f) => !(streaming && f.phase === 'after'));
    if (reset) {
      const phase = reset.fault.phase ?? 'before';
      this.#record({ kind: 'reset', phase, ...this.#about(attrs) });
      if (phase === 'before') {
        req.socket.destroy();
        return true;
      }
      replaceResponse(res, () => req.socket.destroy());
      return false;
    }
    const error = this.#take(this.#errors, attrs, (f) => !(streaming && f.phase === 'after'));
    if (error) {
      const phase = error.fault.phase ?? 'before';
      this.#record({ kind: 'error', status: error.fault.status, phase, ...this.#about(attrs) });
      if (phase === 'before') {
        writeInjectedError(res, error.fault);
        return true;
      }
      replaceResponse(res, () => writeInjectedError(res, error.fault));
      return false;
    }
    if (streaming) return this.#stallWatch(attrs, res) || this.#expireWatch(attrs, req, res);
    return false;
  };

  /** Part of cluster close: no fault timer may outlive the cluster. */
  stop(): void {
    this.dropWatchesEvery(undefined);
    this.expireWatchesEvery(undefined);
  }

  #stallWatch(attrs: RequestAttributes, res: ServerResponse): boolean {
    const stall = this.#stalls.find((s) => s.remaining > 0 && watchMatches(s.match, attrs.resource));
    if (!stall) return false;
    stall.remaining--;
    this.#stalls = this.#stalls.filter((s) => s.remaining > 0);
    this.#record({ kind: 'watchStalled', ...this.#about(attrs) });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
    });
    res.flushHeaders();
    // An open watch like any other: counted in stats, cut by dropWatches and by cluster close.
    const open: OpenWatch = { resource: attrs.resource, drop: () => res.destroy() };
    this.ctx.openWatches.add(open);
    res.on('close', () => this.ctx.openWatches.delete(open));
    return true;
  }

  #expireWatch(attrs: RequestAttributes, req: IncomingMessage, res: ServerResponse): boolean {
    const requested = new URL(req.url ?? '/', 'http://localhost').searchParams.get('resourceVersion') ?? '';
    if (requested === '' || requested === '0') return false;
    const expiry = this.#expiries.find((e) => e.remaining > 0 && watchMatches(e.match, attrs.resource));
    if (!expiry) return false;
    expiry.remaining--;
    this.#expiries = this.#expiries.filter((e) => e.remaining > 0);
    this.#record({ kind: 'watchExpired', ...this.#about(attrs) });
    writeExpiredWatch(res, requested, this.ctx.store.resourceVersion);
    return true;
  }

  #add<T extends FaultMatch & FaultFrequency>(rules: Rule<T>[], fault: T): FaultHandle {
    if (fault.rate !== undefined && !(fault.rate >= 0 && fault.rate <= 1))
      throw new RangeError(`fault rate must be within [0, 1], got ${fault.rate}`);
    const rule: Rule<T> = { fault: { ...fault }, hits: 0, removed: false };
    rules.push(rule);
    return {
      get hits() {
        return rule.hits;
      },
      remove: () => {
        rule.removed = true;
      },
    };
  }

  /** The first live rule that matches and fires for this request (a rate draws from the seeded source). */
  #take<T extends FaultMatch & FaultFrequency>(
    rules: Rule<T>[],
    attrs: RequestAttributes,
    applies: (fault: T) => boolean = () => true,
  ): Rule<T> | undefined {
    for (const rule of rules) {
      const { fault } = rule;
      if (rule.removed || (fault.times !== undefined && rule.hits >= fault.times)) continue;
      if (!matches(fault, attrs) || !applies(fault)) continue;
      const rate = fault.rate ?? 1;
      // Only a fractional rate draws, so adding an always-on rule does not shift other rules' draws.
      if (rate < 1 && !(rate > 0 && this.#random() < rate)) continue;
      rule.hits++;
      return rule;
    }
    return undefined;
  }

  #delayOf(ms: LatencyFault['ms']): number {
    if (typeof ms === 'number') return ms;
    const [min, max] = ms;
    return min + (max - min) * this.#random();
  }

  #about(attrs: RequestAttributes): Pick<InjectedFault, 'request' | 'namespace' | 'name'> {
    return { request: `${attrs.verb} ${resourceKey(attrs)}`, namespace: attrs.namespace, name: attrs.name };
  }

  #record(fault: Omit<InjectedFault, 'at'>): void {
    this.#log.push({ at: Date.now(), ...fault });
  }
}

/**
 * Lets the request be served, then swaps its response for `replacement` at the moment the
 * handler starts writing it: the first `writeHead`, `write` or `end` runs `replacement` on the
 * real methods instead, and everything the handler writes after that is discarded.
 */
function replaceResponse(res: ServerResponse, replacement: () => void): void {
  // Kept only to be put back on `res` (Object.assign below), so they run with `this` = res.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const real = { writeHead: res.writeHead, write: res.write, end: res.end };
  let replaced = false;
  const replaceOnce = (): void => {
    if (replaced) return;
    replaced = true;
    Object.assign(res, real);
    replacement();
    res.writeHead = () => res;
    res.write = (() => true) as typeof res.write;
    res.end = (() => res) as typeof res.end;
  };
  res.writeHead = () => {
    replaceOnce();
    return res;
  };
  res.write = (() => {
    replaceOnce();
    return true;
  }) as typeof res.write;
  res.end = (() => {
    replaceOnce();
    return res;
  }) as typeof res.end;
}
