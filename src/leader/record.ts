/**
 * The election record a Lease's spec holds (client-go `resourcelock.LeaderElectionRecord`), and
 * the lock it is read and written through. The lock is implemented over client-node in
 * `src/kube/lease-lock.ts`; this folder never sees client-node.
 */
export interface LeaseRecord {
  /** `''` when nobody holds the Lease (released, or never taken). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** MicroTime strings (`2024-05-01T10:00:00.123000Z`), or undefined when the Lease has none. */
  acquireTime: string | undefined;
  renewTime: string | undefined;
  leaseTransitions: number;
}

/** A Lease as read: its record, and the record's canonical text (client-go compares raw bytes). */
export interface ObservedLease {
  record: LeaseRecord;
  raw: string;
}

/**
 * Get / create / update of one Lease. `update` writes into the Lease last read or written and
 * carries its `resourceVersion`, so a writer that lost a race gets a 409. Errors reject (the
 * caller decides); `get` resolves undefined when the Lease does not exist.
 */
export interface LeaseLock {
  /** `namespace/name`, for messages. */
  readonly description: string;
  get(signal: AbortSignal): Promise<ObservedLease | undefined>;
  create(record: LeaseRecord, signal: AbortSignal): Promise<void>;
  update(record: LeaseRecord, signal: AbortSignal): Promise<void>;
}

/** The canonical text of a record: what two reads are compared by. */
export function rawRecord(record: LeaseRecord): string {
  return JSON.stringify([
    record.holderIdentity,
    record.leaseDurationSeconds,
    record.acquireTime ?? null,
    record.renewTime ?? null,
    record.leaseTransitions,
  ]);
}

/**
 * A time as `metav1.MicroTime` serializes it: RFC 3339 with exactly six fractional digits, the
 * only form the apiserver decodes (a `Date#toISOString()`, three digits, is a 400).
 */
export function toMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
