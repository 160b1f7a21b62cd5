/**
 * What `k8s-jobs status` says about a leader-election Lease, decided from its record and the time
 * of the read: pure, so the command only reads and prints.
 */
import type { LeaseLockRecord } from '../kube/lease-lock.js';
import { taskStates, type TaskState } from '../types.js';

/** The Lease as `status --json` prints it; `found: false` when there is no Lease of that name. */
export interface LeaseStatus {
  namespace: string;
  name: string;
  found: boolean;
  /** Who holds it; `''` when it was released (a leader's graceful shutdown empties it). */
  holderIdentity?: string;
  /** MicroTime text, as in the Lease. */
  acquireTime?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
  /** Seconds since `renewTime` (else `acquireTime`) by this machine's clock, when either is set. */
  ageSeconds?: number;
  /**
   * `renewTime` (else `acquireTime`) + `leaseDurationSeconds` is past, by this machine's clock:
   * the holder stopped renewing (or the clocks disagree; the replicas themselves never compare
   * clocks, they time the Lease from when they saw it change). True when there is no time at all.
   */
  expired?: boolean;
}

/** The whole `status --json` document. */
export interface StatusReport {
  /** The replica leading now: the holder of an unexpired Lease; `null` when none does. */
  leader: string | null;
  lease: LeaseStatus;
  /** With `--store`: the open tasks (not yet deleted) by state. */
  queue?: { open: number; byState: Partial<Record<TaskState, number>> };
}

/** The status of the Lease `namespace/name` given its record (undefined: no such Lease) at `now` (epoch ms). */
export function leaseStatus(
  target: { namespace: string; name: string },
  record: LeaseLockRecord | undefined,
  now: number,
): LeaseStatus {
  if (record === undefined) return { ...target, found: false };
  const last = record.renewTime ?? record.acquireTime;
  const lastMs = last === undefined ? Number.NaN : Date.parse(last);
  const known = Number.isFinite(lastMs);
  return {
    ...target,
    found: true,
    holderIdentity: record.holderIdentity,
    ...(record.acquireTime !== undefined ? { acquireTime: record.acquireTime } : {}),
    ...(record.renewTime !== undefined ? { renewTime: record.renewTime } : {}),
    leaseDurationSeconds: record.leaseDurationSeconds,
    leaseTransitions: record.leaseTransitions,
    ...(known ? { ageSeconds: Math.max(0, now - lastMs) / 1000 } : {}),
    expired: !known || now > lastMs + record.leaseDurationSeconds * 1000,
  };
}

/** Who leads according to `lease`: its holder, unless it is missing, released or expired. */
export function leaderOf(lease: LeaseStatus): string | null {
  return lease.found && lease.holderIdentity && lease.expired === false ? lease.holderIdentity : null;
}

/** The open tasks of a store by state, in lifecycle order (states with none left out). */
export function queueCounts(states: readonly TaskState[]): NonNullable<StatusReport['queue']> {
  const byState: Partial<Record<TaskState, number>> = {};
  for (const state of taskStates) {
    const count = states.filter((s) => s === state).length;
    if (count > 0) byState[state] = count;
  }
  return { open: states.length, byState };
}
