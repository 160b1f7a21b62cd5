/**
 * The reads of `k8s-jobs status`: the leader-election Lease through client-node, and with a store
 * its open tasks. Loaded on use, so `--help` and the other commands do not load client-node.
 */
import { resolveNamespace } from '../kube/kube-client.js';
import { createLeaseLock } from '../kube/lease-lock.js';
import { loadKubeConfig } from './kube-config.js';
import { leaderOf, leaseStatus, queueCounts, type StatusReport } from './lease-status.js';
import { withStore } from './store-option.js';

/** What `status` reads. */
export interface StatusTarget {
  leaseName: string;
  /** Left out: the kubeconfig context's namespace, else the pod's, else `default` (as the runner resolves it). */
  namespace?: string;
  kubeconfig?: string;
  /** A store to count the open tasks of (opened read-only). */
  store?: string;
}

/** How long the Lease read may take before it fails: the API server is not answering. */
export const leaseReadTimeoutMs = 30_000;

/**
 * Reads the Lease `leaseName` (a 404 is "no Lease", any other failure rejects with the
 * `KubernetesApiError` naming `leases/<name>`) and, with `store`, counts its open tasks by state.
 */
export async function readStatus(target: StatusTarget): Promise<StatusReport> {
  const kubeConfig = loadKubeConfig(target.kubeconfig);
  const namespace = resolveNamespace(kubeConfig, target.namespace ?? '');
  const lease = { namespace, name: target.leaseName };
  const lock = createLeaseLock(kubeConfig, lease);
  const [read, queue] = await Promise.all([
    lock.get(AbortSignal.timeout(leaseReadTimeoutMs)),
    target.store === undefined
      ? undefined
      : withStore(target.store, async (store) => queueCounts((await store.listOpenTasks()).map((t) => t.record.state))),
  ]);
  // The time of the answer, not of the request: the age shown is never younger than the Lease.
  const status = leaseStatus(lease, read?.record, Date.now());
  return { leader: leaderOf(status), lease: status, ...(queue ? { queue } : {}) };
}
