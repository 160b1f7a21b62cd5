import type { LeaderElectionConfig } from './options.js';
import { rawRecord, toMicroTime, type LeaseRecord, type ObservedLease } from './record.js';

/*
 * client-go's `tryAcquireOrRenew` (tools/leaderelection/leaderelection.go) as pure functions of
 * the last observation, the Lease just read, the config and the local time. A Lease's expiry is
 * judged only by LOCAL time: `observedAt` is when this process last saw the record change, and
 * the holder's `renewTime` is never compared with the local clock, so clock skew between
 * replicas does not matter (a new candidate always waits a full lease duration).
 */

/** The last record seen, and the local time (ms) at which it was first seen as it is. */
export interface Observation extends ObservedLease {
  observedAt: number;
}

/** `setObservedRecord`: a record written or read, stamped with the local time. */
export function observe(record: LeaseRecord, now: number): Observation {
  return { record, raw: rawRecord(record), observedAt: now };
}

/** `isLeaseValid`: the observed record has not yet lasted its own duration since it was observed. */
export function isLeaseValid(observed: Observation | undefined, now: number): boolean {
  return observed !== undefined && observed.observedAt + observed.record.leaseDurationSeconds * 1000 > now;
}

/** `IsLeader`: the last observed record names this identity. */
export function isHolder(observed: Observation | undefined, identity: string): boolean {
  return observed !== undefined && observed.record.holderIdentity === identity;
}

/** The record a try writes: this identity, the configured duration, acquired and renewed now. */
export function desiredRecord(config: LeaderElectionConfig, now: number): LeaseRecord {
  const time = toMicroTime(now);
  return {
    holderIdentity: config.identity,
    leaseDurationSeconds: config.leaseDurationSeconds,
    acquireTime: time,
    renewTime: time,
    leaseTransitions: 0,
  };
}

/**
 * Step 1, the fast path: a holder whose observation is still valid renews optimistically from
 * what it observed (keeping `acquireTime` and `leaseTransitions`), without reading first.
 * Undefined when the slow path must run.
 */
export function fastRenewal(
  observed: Observation | undefined,
  config: LeaderElectionConfig,
  now: number,
): LeaseRecord | undefined {
  if (!observed || !isHolder(observed, config.identity) || !isLeaseValid(observed, now)) return undefined;
  return {
    ...desiredRecord(config, now),
    acquireTime: observed.record.acquireTime,
    leaseTransitions: observed.record.leaseTransitions,
  };
}

/** What the slow path does after reading the Lease. */
export type Decision =
  /** No Lease yet: create it holding it. */
  | { action: 'create'; record: LeaseRecord }
  /** Write this record (a renewal, or a takeover with `leaseTransitions` + 1). */
  | { action: 'update'; record: LeaseRecord }
  /** Someone else holds a Lease that is still valid: try again later. */
  | { action: 'wait'; holder: string };

/**
 * Steps 2–4 of `tryAcquireOrRenew`, given the Lease just read (undefined: it does not exist).
 * Returns the new observation (the read record, re-stamped only when it changed) and the
 * decision. An empty holder (a released Lease) is taken at once, whatever its duration.
 */
export function decide(
  observed: Observation | undefined,
  current: ObservedLease | undefined,
  config: LeaderElectionConfig,
  now: number,
): { observed: Observation | undefined; decision: Decision } {
  const desired = desiredRecord(config, now);
  if (!current) return { observed, decision: { action: 'create', record: desired } };
  const next = observed?.raw === current.raw ? observed : { ...current, observedAt: now };
  const holder = next.record.holderIdentity;
  if (holder !== '' && holder !== config.identity && isLeaseValid(next, now)) {
    return { observed: next, decision: { action: 'wait', holder } };
  }
  const record: LeaseRecord =
    holder === config.identity
      ? { ...desired, acquireTime: next.record.acquireTime, leaseTransitions: next.record.leaseTransitions }
      : { ...desired, leaseTransitions: next.record.leaseTransitions + 1 };
  return { observed: next, decision: { action: 'update', record } };
}

/**
 * `release` (ReleaseOnCancel): the record a holder writes when it stops, with an empty holder and
 * a one-second duration, so another candidate takes over at its next try instead of waiting
 * out the lease. Undefined when the last observation does not name this identity.
 */
export function releaseRecord(
  observed: Observation | undefined,
  config: LeaderElectionConfig,
  now: number,
): LeaseRecord | undefined {
  if (!observed || !isHolder(observed, config.identity)) return undefined;
  const time = toMicroTime(now);
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: time,
    renewTime: time,
    leaseTransitions: observed.record.leaseTransitions,
  };
}

/** The acquire loop's wait: `wait.JitterUntil(retryPeriod, 1.2)`, i.e. retryPeriod × [1, 2.2). */
export function jitteredRetryMs(config: LeaderElectionConfig, random: number, factor: number): number {
  return config.retryPeriodMs * (1 + random * factor);
}

/**
 * How long a follower waits before its next try: client-go's jittered retry period, cut short
 * to the instant the observed Lease expires (plus `marginMs`) when that comes first. The expiry
 * is still judged from this candidate's own observation, as client-go judges it, so the
 * takeover is no earlier than client-go's; it is only not delayed by up to a further
 * `retryPeriod × 2.2` of jitter after the expiry.
 */
export function nextTryMs(
  config: LeaderElectionConfig,
  observed: Observation | undefined,
  now: number,
  random: number,
  factor: number,
  marginMs = 5,
): number {
  const jittered = jitteredRetryMs(config, random, factor);
  if (!observed || observed.record.holderIdentity === '' || !isLeaseValid(observed, now)) return jittered;
  const expiresIn = observed.observedAt + observed.record.leaseDurationSeconds * 1000 - now + marginMs;
  return Math.min(jittered, Math.max(marginMs, expiresIn));
}
