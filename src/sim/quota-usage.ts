import { addLists, addQuantity, readList, type Quantity, type QuantityList } from './quota-quantity.js';
import type { ResourceInfo } from './types.js';
import type { KubeObject } from './types.js';

/*
 * What an object costs against a ResourceQuota: the evaluators of kubernetes
 * `pkg/quota/v1/evaluator/core/pods.go` (pods and their compute) and the generic object-count
 * evaluator (`count/<resource>[.<group>]`, e.g. `count/jobs.batch`). Quota scopes are not
 * simulated: every quota covers every object of its namespace.
 */

const one: Quantity = { milli: 1000, format: 'DecimalSI' };

/** `ObjectCountQuotaResourceNameFor`: `count/pods`, `count/jobs.batch`. */
export function objectCountName(info: Pick<ResourceInfo, 'group' | 'resource'>): string {
  return info.group ? `count/${info.resource}.${info.group}` : `count/${info.resource}`;
}

/** Pod compute resources that require every container to state a value (`validationSet`). */
export const computeConstrained = [
  'cpu',
  'limits.cpu',
  'limits.memory',
  'memory',
  'requests.cpu',
  'requests.memory',
] as const;

/** The resources the pod evaluator tracks (`podResources` and the compute names). */
const podResources = new Set<string>(['pods', 'count/pods', ...computeConstrained]);

/** `MatchingResources`: which of a quota's hard names the evaluator for `info` charges. */
export function matchingResources(info: Pick<ResourceInfo, 'group' | 'resource'>, names: Iterable<string>): string[] {
  const count = objectCountName(info);
  const isPod = info.resource === 'pods' && !info.group;
  return [...names].filter((name) => name === count || (isPod && podResources.has(name))).sort();
}

/** `QuotaV1Pod`: a pod stops being charged once terminal, or once its deletion grace has passed. */
export function isChargedPod(pod: KubeObject, now: number): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const deletion = pod.metadata.deletionTimestamp;
  if (deletion !== undefined) {
    const grace = (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
    if (now > Date.parse(deletion) + grace) return false;
  }
  return true;
}

interface ContainerResources {
  name?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

function containersOf(pod: KubeObject, field: 'containers' | 'initContainers'): ContainerResources[] {
  const list = pod.spec?.[field];
  return Array.isArray(list) ? (list as ContainerResources[]) : [];
}

/** Requests default to limits (SetDefaults_Pod), repeated for pods stored without defaults. */
function containerRequests(c: ContainerResources): QuantityList {
  return readList({ ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) });
}

function containerLimits(c: ContainerResources): QuantityList {
  return readList(c.resources?.limits ?? {});
}

/** `resourcehelper.PodRequests`/`PodLimits`: containers summed, at least the largest init container, plus overhead. */
function podTotal(pod: KubeObject, of: (c: ContainerResources) => QuantityList, overhead: boolean): QuantityList {
  let total: QuantityList = {};
  for (const c of containersOf(pod, 'containers')) total = addLists(total, of(c));
  for (const c of containersOf(pod, 'initContainers')) {
    for (const [name, q] of Object.entries(of(c))) if (!total[name] || q.milli > total[name].milli) total[name] = q;
  }
  if (overhead) total = addLists(total, readList(pod.spec?.overhead));
  return total;
}

/** `podComputeUsageHelper`: quota names for a set of requests and limits. */
function computeUsage(requests: QuantityList, limits: QuantityList): QuantityList {
  const out: QuantityList = {};
  if (requests['cpu']) out['cpu'] = out['requests.cpu'] = requests['cpu'];
  if (requests['memory']) out['memory'] = out['requests.memory'] = requests['memory'];
  if (limits['cpu']) out['limits.cpu'] = limits['cpu'];
  if (limits['memory']) out['limits.memory'] = limits['memory'];
  return out;
}

/** `PodUsageFunc`: `count/pods` always; `pods` and compute only while the pod is charged. */
export function podUsage(pod: KubeObject, now: number): QuantityList {
  const usage: QuantityList = { 'count/pods': one };
  if (!isChargedPod(pod, now)) return usage;
  usage['pods'] = one;
  const requests = podTotal(pod, containerRequests, true);
  const limits = podTotal(pod, containerLimits, true);
  return addLists(usage, computeUsage(requests, limits));
}

/** What one object of `info` costs: pods by `podUsage`, anything else one `count/…`. */
export function objectUsage(
  info: Pick<ResourceInfo, 'group' | 'resource'>,
  obj: KubeObject,
  now: number,
): QuantityList {
  if (info.resource === 'pods' && !info.group) return podUsage(obj, now);
  return { [objectCountName(info)]: one };
}

/**
 * `podEvaluator.Constraints`: when a quota constrains cpu or memory, every container and init
 * container must state it (after LimitRange defaulting). Undefined when all do, else the
 * `must specify R for: c1,c2; …` text.
 */
export function podConstraintViolation(pod: KubeObject, required: readonly string[]): string | undefined {
  const requiredSet = required.filter((r) => (computeConstrained as readonly string[]).includes(r));
  if (requiredSet.length === 0) return undefined;
  const missing = new Map<string, Set<string>>();
  for (const c of [...containersOf(pod, 'containers'), ...containersOf(pod, 'initContainers')]) {
    const has = computeUsage(containerRequests(c), containerLimits(c));
    for (const r of requiredSet) {
      if (has[r]) continue;
      const names = missing.get(r) ?? new Set<string>();
      names.add(String(c.name ?? ''));
      missing.set(r, names);
    }
  }
  if (missing.size === 0) return undefined;
  const parts = [...missing.keys()].sort().map((r) => `${r} for: ${[...missing.get(r)!].sort().join(',')}`);
  return `must specify ${parts.join('; ')}`;
}

/** Sums usages into `names`, each starting at zero (`UsageStats` zero-initialises what it tracks). */
export function sumUsage(usages: Iterable<QuantityList>, names: readonly string[]): QuantityList {
  const out: QuantityList = Object.fromEntries(names.map((n) => [n, { milli: 0, format: 'DecimalSI' }]));
  for (const usage of usages) {
    for (const name of names) if (usage[name]) out[name] = addQuantity(out[name]!, usage[name]);
  }
  return out;
}
