import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { toKubernetesApiError } from './api-errors.js';
import { withSignal } from './kube-call.js';

/*
 * client-go's `resourcelock.LeaseLock` over client-node's CoordinationV1Api: get caches the whole
 * Lease, update writes the record into that cached object and PUTs it with the resourceVersion
 * last seen (a 409 means another writer won), create POSTs a new one. The record's shape is the
 * one `src/leader/` works with; it is declared again here so the adapter does not import the
 * leader folder (the runner puts the two together).
 */

/** The election record in a Lease's spec (the same fields as `LeaseRecord` in `src/leader/record.ts`). */
export interface LeaseLockRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** MicroTime text, six fractional digits. */
  acquireTime: string | undefined;
  renewTime: string | undefined;
  leaseTransitions: number;
}

/** One Lease as a lock (structurally the `LeaseLock` of `src/leader/record.ts`). */
export interface KubeLeaseLock {
  readonly description: string;
  get(signal: AbortSignal): Promise<{ record: LeaseLockRecord; raw: string } | undefined>;
  create(record: LeaseLockRecord, signal: AbortSignal): Promise<void>;
  update(record: LeaseLockRecord, signal: AbortSignal): Promise<void>;
}

/** A MicroTime field as client-node hands it over: the wire string (it has no model for the type), or a Date. */
function timeText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return new V1MicroTime(value.getTime()).toISOString();
  return undefined;
}

/** A MicroTime for client-node to send: `V1MicroTime` serializes with six fractional digits. */
function microTime(text: string | undefined): V1MicroTime | undefined {
  return text === undefined ? undefined : new V1MicroTime(Date.parse(text));
}

function recordOf(lease: V1Lease): LeaseLockRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: timeText(spec.acquireTime),
    renewTime: timeText(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

function specOf(record: LeaseLockRecord): V1Lease['spec'] {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: microTime(record.acquireTime),
    renewTime: microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

/** The canonical text of a record (the same as `rawRecord` in `src/leader/record.ts`). */
function rawOf(record: LeaseLockRecord): string {
  return JSON.stringify([
    record.holderIdentity,
    record.leaseDurationSeconds,
    record.acquireTime ?? null,
    record.renewTime ?? null,
    record.leaseTransitions,
  ]);
}

/**
 * A lock on the Lease `name` in `namespace`. One lock per elector: it caches the Lease it last
 * read or wrote. No retries here: the elector's loop tries again every retryPeriod, as
 * client-go's does; every failure rejects with a `KubernetesApiError` naming `leases/<name>`.
 *
 * @example
 * ```ts
 * const lock = createLeaseLock(kubeConfig, { namespace: 'default', name: 'my-app' });
 * ```
 */
export function createLeaseLock(kubeConfig: KubeConfig, target: { namespace: string; name: string }): KubeLeaseLock {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const { namespace, name } = target;
  const resource = `leases/${name}`;
  let cached: V1Lease | undefined;
  const call = async <T>(verb: string, request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (err) {
      throw toKubernetesApiError(err, verb, resource);
    }
  };
  return {
    description: `${namespace}/${name}`,
    async get(signal) {
      try {
        cached = await api.readNamespacedLease({ name, namespace }, withSignal(signal));
      } catch (err) {
        const error = toKubernetesApiError(err, 'get', resource);
        if (error.statusCode === 404) return undefined;
        throw error;
      }
      const record = recordOf(cached);
      return { record, raw: rawOf(record) };
    },
    async create(record, signal) {
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: specOf(record),
      };
      cached = await call('create', () => api.createNamespacedLease({ namespace, body }, withSignal(signal)));
    },
    async update(record, signal) {
      // The elector always reads or creates before it updates; a lock used otherwise reads first.
      const base =
        cached ?? (await call('get', () => api.readNamespacedLease({ name, namespace }, withSignal(signal))));
      const body: V1Lease = { ...base, spec: specOf(record) };
      cached = await call('update', () => api.replaceNamespacedLease({ name, namespace, body }, withSignal(signal)));
    },
  };
}
