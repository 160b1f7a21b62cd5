import type { SimContext } from './context.js';
import type { Controller } from './controller.js';
import { recordEvent } from './events.js';
import { podMatchesNode } from './node-affinity.js';
import { podRequests, type ResourceAmounts } from './pod-resources.js';
import type { KubeObject, StoreEvent } from './types.js';
import { WorkQueue } from './work-queue.js';

/** The scheduler's name in `spec.schedulerName`, event sources and messages. */
export const defaultSchedulerName = 'default-scheduler';

/**
 * How long an unschedulable pod waits before a retry without any cluster change (podMaxInUnschedulablePodsDuration).
 */
const unschedulableRetryMs = 5 * 60_000;

/** The one node the scheduler places pods on. */
export interface SchedulerOptions {
  nodeName: string;
  /** The node's labels, for `nodeSelector` and node affinity. */
  labels: Record<string, string>;
  /** Node allocatable in integer units (cpu in millicores, memory in bytes, `pods` a count). */
  allocatable: ResourceAmounts;
}

function podKey(pod: KubeObject): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name}`;
}

function isTerminal(pod: KubeObject): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** A pod this scheduler must place: unbound, ours by name, alive. */
function wantsScheduling(pod: KubeObject): boolean {
  return (
    !pod.spec?.nodeName &&
    (pod.spec?.schedulerName ?? defaultSchedulerName) === defaultSchedulerName &&
    !pod.metadata.deletionTimestamp &&
    !isTerminal(pod)
  );
}

function hasSchedulingGates(pod: KubeObject): boolean {
  return Array.isArray(pod.spec?.schedulingGates) && pod.spec.schedulingGates.length > 0;
}

/** Replaces (or appends) the PodScheduled condition, keeping lastTransitionTime when the status is unchanged. */
function setScheduledCondition(pod: KubeObject, condition: Record<string, unknown>, now: string): void {
  pod.status ??= {};
  const conditions: Record<string, unknown>[] = Array.isArray(pod.status.conditions) ? pod.status.conditions : [];
  const index = conditions.findIndex((c) => c['type'] === 'PodScheduled');
  const previous = index >= 0 ? conditions[index] : undefined;
  const next = {
    type: 'PodScheduled',
    ...condition,
    lastProbeTime: null,
    lastTransitionTime: previous?.['status'] === condition['status'] ? (previous?.['lastTransitionTime'] ?? now) : now,
  };
  if (index >= 0) conditions[index] = next;
  else conditions.push(next);
  pod.status.conditions = conditions;
}

/**
 * kube-scheduler for the one simulated node: binds pending pods whose requests fit the node's
 * free allocatable (NodeResourcesFit, pod count), else marks them `PodScheduled=False`
 * `Unschedulable` with the scheduler's own message and a FailedScheduling event, and retries
 * them when capacity frees (a pod on the node finished or went away) or after five minutes.
 *
 * Usage is tracked incrementally from store events (pods bound here and not terminal), so a
 * scheduling attempt never scans the pods.
 */
export class Scheduler implements Controller {
  readonly #ctx: SimContext;
  readonly #options: SchedulerOptions;
  readonly #queue: WorkQueue;
  /** Requests of the pods bound to the node and not terminal, by uid. */
  readonly #assigned = new Map<string, ResourceAmounts>();
  readonly #requested: ResourceAmounts = {};
  /** Pods that did not fit, by key: their requests and the timer of their periodic retry. */
  readonly #unschedulable = new Map<string, { requests: ResourceAmounts; cancel: () => void }>();
  /** FailedScheduling events recorded per pod key, for the events library's series semantics. */
  readonly #failureEvents = new Map<string, { message: string; count: number }>();
  readonly #unsubscribe: () => void;

  constructor(ctx: SimContext, options: SchedulerOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#queue = new WorkQueue({
      clock: ctx.clock,
      handle: (key) => this.#schedule(key),
      onError: (key, err) =>
        process.emitWarning(`scheduler: scheduling ${key} failed: ${err instanceof Error ? err.stack : String(err)}`),
    });
    for (const pod of ctx.store.list('pods')) this.#observe(pod, 'ADDED');
    this.#unsubscribe = ctx.store.subscribe((event) => this.#onEvent(event));
  }

  stop(): void {
    this.#unsubscribe();
    this.#queue.stop();
    for (const { cancel } of this.#unschedulable.values()) cancel();
    this.#unschedulable.clear();
  }

  #onEvent(event: StoreEvent): void {
    if (event.resource !== 'pods') return;
    if (event.type === 'DELETED') {
      this.#forget(podKey(event.object));
      this.#failureEvents.delete(podKey(event.object));
      this.#release(event.object.metadata.uid);
      return;
    }
    this.#observe(event.object, event.type, event.previous);
  }

  #observe(pod: KubeObject, type: 'ADDED' | 'MODIFIED', previous?: KubeObject): void {
    if (pod.spec?.nodeName === this.#options.nodeName) {
      if (isTerminal(pod)) this.#release(pod.metadata.uid);
      else this.#account(pod);
      return;
    }
    if (!wantsScheduling(pod)) {
      this.#forget(podKey(pod));
      return;
    }
    // Status-only changes (our own conditions) do not make a pod schedulable; new pods and
    // spec changes (scheduling gates removed) do.
    if (type === 'ADDED' || JSON.stringify(pod.spec) !== JSON.stringify(previous?.spec)) {
      this.#forget(podKey(pod));
      this.#queue.add(podKey(pod));
    }
  }

  #account(pod: KubeObject): void {
    if (this.#assigned.has(pod.metadata.uid)) return;
    const requests = podRequests(pod);
    this.#assigned.set(pod.metadata.uid, requests);
    for (const [name, amount] of Object.entries(requests))
      this.#requested[name] = (this.#requested[name] ?? 0) + amount;
  }

  #release(uid: string): void {
    const requests = this.#assigned.get(uid);
    if (!requests) return;
    this.#assigned.delete(uid);
    for (const [name, amount] of Object.entries(requests))
      this.#requested[name] = (this.#requested[name] ?? 0) - amount;
    // The scheduling queue's "assigned pod deleted" move request, with NodeResourcesFit's
    // queueing hint: only pods that fit what is free now are worth another attempt.
    for (const [key, entry] of this.#unschedulable) {
      if (!this.#fitsNow(entry.requests)) continue;
      entry.cancel();
      this.#unschedulable.delete(key);
      this.#queue.add(key);
    }
  }

  #fitsNow(requests: ResourceAmounts): boolean {
    const allocatable = this.#options.allocatable;
    if (this.#assigned.size + 1 > (allocatable['pods'] ?? 0)) return false;
    return Object.entries(requests).every(
      ([name, amount]) =>
        name === 'pods' || amount <= 0 || amount <= (allocatable[name] ?? 0) - (this.#requested[name] ?? 0),
    );
  }

  #forget(key: string): void {
    this.#unschedulable.get(key)?.cancel();
    this.#unschedulable.delete(key);
  }

  /**
   * The filters (NodeAffinity, NodeResourcesFit, the pod count): the reasons the node refuses
   * `pod`, and whether preemption could not help (a mismatch, or more than the node has at all).
   */
  #fit(pod: KubeObject): { reasons: string[]; unresolvable: boolean } {
    // NodeAffinity rejects before any resource is counted, and nothing can change its mind.
    if (!podMatchesNode(pod, this.#options.nodeName, this.#options.labels))
      return { reasons: ["node(s) didn't match Pod's node affinity/selector"], unresolvable: true };
    const reasons: string[] = [];
    let unresolvable = false;
    const allocatable = this.#options.allocatable;
    if (this.#assigned.size + 1 > (allocatable['pods'] ?? 0)) reasons.push('Too many pods');
    for (const [name, amount] of Object.entries(podRequests(pod))) {
      if (amount <= 0 || name === 'pods') continue;
      const capacity = allocatable[name] ?? 0;
      if (amount > capacity - (this.#requested[name] ?? 0)) {
        reasons.push(`Insufficient ${name}`);
        if (amount > capacity) unresolvable = true;
      }
    }
    return { reasons, unresolvable };
  }

  #schedule(key: string): void {
    const [namespace = '', name = ''] = key.split('/', 2);
    const pod = this.#ctx.store.read('pods', namespace, name);
    if (!pod || !wantsScheduling(pod)) return;
    const now = this.#ctx.clock.timestamp();
    if (hasSchedulingGates(pod)) {
      this.#ctx.store.mutate('pods', namespace, name, (p) => {
        setScheduledCondition(
          p,
          {
            status: 'False',
            reason: 'SchedulingGated',
            message: 'Scheduling is blocked due to non-empty scheduling gates',
          },
          now,
        );
      });
      return;
    }
    const { reasons, unresolvable } = this.#fit(pod);
    if (reasons.length > 0) {
      this.#markUnschedulable(pod, reasons, unresolvable, now);
      return;
    }
    this.#failureEvents.delete(key);
    const bound = this.#ctx.store.mutate('pods', namespace, name, (p) => {
      if (p.metadata.uid !== pod.metadata.uid || !wantsScheduling(p)) return false;
      p.spec.nodeName = this.#options.nodeName;
      setScheduledCondition(p, { status: 'True' }, now);
    });
    if (!bound?.spec?.nodeName) return;
    this.#account(bound);
    recordEvent(
      this.#ctx,
      { kind: 'Pod', apiVersion: 'v1', ...bound },
      'Normal',
      'Scheduled',
      `Successfully assigned ${key} to ${this.#options.nodeName}`,
      { component: defaultSchedulerName },
    );
  }

  #markUnschedulable(pod: KubeObject, reasons: string[], unresolvable: boolean, now: string): void {
    const key = podKey(pod);
    const nodes = '0/1 nodes are available';
    const filter = reasons
      .map((reason) => `1 ${reason}`)
      .sort()
      .join(', ');
    const preemption =
      pod.spec?.preemptionPolicy === 'Never'
        ? 'preemption: not eligible due to preemptionPolicy=Never'
        : `preemption: ${nodes}: 1 ${unresolvable ? 'Preemption is not helpful for scheduling' : 'No preemption victims found for incoming pod'}`;
    const message = `${nodes}: ${filter}. ${preemption}.`;
    const updated = this.#ctx.store.mutate('pods', pod.metadata.namespace, pod.metadata.name, (p) => {
      if (p.metadata.uid !== pod.metadata.uid) return false;
      setScheduledCondition(p, { status: 'False', reason: 'Unschedulable', message }, now);
    });
    // events.k8s.io series: the first event, then its series at count 2; later repeats only
    // bump an in-memory count (the recorder writes them on a 30-minute heartbeat).
    const previous = this.#failureEvents.get(key);
    const count = previous?.message === message ? previous.count + 1 : 1;
    this.#failureEvents.set(key, { message, count });
    if (count <= 2)
      recordEvent(
        this.#ctx,
        { kind: 'Pod', apiVersion: 'v1', ...(updated ?? pod) },
        'Warning',
        'FailedScheduling',
        message,
        { component: defaultSchedulerName },
      );
    this.#forget(key);
    const cancel = this.#ctx.clock.afterScaled(unschedulableRetryMs, () => {
      this.#unschedulable.delete(key);
      this.#queue.add(key);
    });
    this.#unschedulable.set(key, { requests: podRequests(pod), cancel });
  }
}
