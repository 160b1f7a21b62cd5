import { parseQuantity } from '../validation/quantity.js';
import type { ContainerSpec } from './runtime.js';
import type { KubeObject } from './types.js';

/** Amounts of resources by name, in integer units: millicores for `cpu`, bytes or counts otherwise. */
export type ResourceAmounts = Record<string, number>;

/** A quantity in the integer unit of its resource (cpu in millicores), 0 when unparsable. */
export function resourceAmount(resource: string, quantity: unknown): number {
  const value = parseQuantity(String(quantity)) ?? 0;
  return resource === 'cpu' ? Math.ceil(value * 1000 - 1e-9) : Math.ceil(value - 1e-9);
}

function containerRequests(container: ContainerSpec): ResourceAmounts {
  const out: ResourceAmounts = {};
  // Requests default to limits (SetDefaults_Pod); repeat it for pods stored without defaults.
  const merged = { ...(container.resources?.limits ?? {}), ...(container.resources?.requests ?? {}) } as Record<
    string,
    unknown
  >;
  for (const [name, quantity] of Object.entries(merged)) out[name] = resourceAmount(name, quantity);
  return out;
}

/**
 * The scheduler's `PodRequests`: the sum over containers, at least the largest init container
 * (init containers run one at a time), plus the pod overhead.
 */
export function podRequests(pod: KubeObject): ResourceAmounts {
  const total: ResourceAmounts = {};
  for (const container of (pod.spec?.containers ?? []) as ContainerSpec[]) {
    for (const [name, amount] of Object.entries(containerRequests(container)))
      total[name] = (total[name] ?? 0) + amount;
  }
  for (const container of (pod.spec?.initContainers ?? []) as ContainerSpec[]) {
    for (const [name, amount] of Object.entries(containerRequests(container)))
      total[name] = Math.max(total[name] ?? 0, amount);
  }
  for (const [name, quantity] of Object.entries((pod.spec?.overhead ?? {}) as Record<string, unknown>)) {
    total[name] = (total[name] ?? 0) + resourceAmount(name, quantity);
  }
  return total;
}

/** `qos.ComputePodQOS`: Guaranteed, Burstable or BestEffort, from cpu/memory requests and limits. */
export function podQosClass(pod: KubeObject): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const requests: ResourceAmounts = {};
  const limits: ResourceAmounts = {};
  let guaranteed = true;
  const containers = [
    ...((pod.spec?.containers ?? []) as ContainerSpec[]),
    ...((pod.spec?.initContainers ?? []) as ContainerSpec[]),
  ];
  for (const container of containers) {
    for (const [name, quantity] of Object.entries((container.resources?.requests ?? {}) as Record<string, unknown>)) {
      if (name !== 'cpu' && name !== 'memory') continue;
      const amount = resourceAmount(name, quantity);
      if (amount > 0) requests[name] = (requests[name] ?? 0) + amount;
    }
    const found = new Set<string>();
    for (const [name, quantity] of Object.entries((container.resources?.limits ?? {}) as Record<string, unknown>)) {
      if (name !== 'cpu' && name !== 'memory') continue;
      const amount = resourceAmount(name, quantity);
      if (amount > 0) {
        found.add(name);
        limits[name] = (limits[name] ?? 0) + amount;
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (Object.keys(requests).length === 0 && Object.keys(limits).length === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, amount] of Object.entries(requests)) {
      if (limits[name] !== amount) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && Object.keys(requests).length === Object.keys(limits).length ? 'Guaranteed' : 'Burstable';
}
