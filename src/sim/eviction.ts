import { notFound } from './api-error.js';
import { strategyFor, type SimContext } from './context.js';
import { deleteObject } from './rest.js';
import type { KubeObject } from './types.js';

/*
 * Disruptions as Kubernetes causes them (PodDisruptionConditions, GA in 1.31): whoever ends the
 * pod first writes a `DisruptionTarget` condition to its status, then deletes it; the kubelet
 * stops its containers within the grace period and the pod ends `Failed`, so the Job controller
 * sees a failed pod carrying the condition (a `podFailurePolicy` rule can Ignore it). No
 * PodDisruptionBudget is consulted.
 */

/** What ended the pod. */
export type DisruptionReason = 'Evicted' | 'Preempted' | 'NodeLost';

/** The condition each disruptor writes: reason and message as in kubernetes' sources. */
const disruptionConditions: Record<DisruptionReason, { reason: string; message: string }> = {
  // pkg/registry/core/pod/storage/eviction.go
  Evicted: { reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' },
  // pkg/scheduler/framework/preemption/preemption.go
  Preempted: {
    reason: 'PreemptionByScheduler',
    message: 'default-scheduler: preempting to accommodate a higher priority pod',
  },
  // pkg/controller/tainteviction: the node went unreachable (NoExecute taint) and the pod was deleted
  NodeLost: { reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' },
};

/** How `disruptPod` ends a pod. */
export interface DisruptPodOptions {
  /** @default 'default' */
  namespace?: string;
  /** Who ends it: the Eviction API, scheduler preemption, or the taint manager for a lost node. @default 'Evicted' */
  reason?: DisruptionReason;
  /** The delete's grace period; undefined uses the pod's `terminationGracePeriodSeconds`. */
  gracePeriodSeconds?: number;
}

/**
 * Adds `DisruptionTarget` (status True, the disruptor's reason) to the pod's conditions, then
 * deletes it gracefully. Returns the pod as it was after the condition was written. Throws the
 * API's 404 when the pod does not exist.
 */
export function disruptPod(ctx: SimContext, name: string, options: DisruptPodOptions = {}): KubeObject {
  const namespace = options.namespace ?? 'default';
  const strategy = strategyFor(ctx, 'pods');
  const { reason, message } = disruptionConditions[options.reason ?? 'Evicted'];
  const condition = {
    type: 'DisruptionTarget',
    status: 'True',
    reason,
    message,
    lastProbeTime: null,
    lastTransitionTime: ctx.clock.timestamp(),
  };
  const updated = ctx.store.mutate('pods', namespace, name, (pod) => {
    const status = (pod.status ??= {});
    const conditions = Array.isArray(status.conditions) ? (status.conditions as { type?: string }[]) : [];
    status.conditions = [...conditions.filter((c) => c.type !== 'DisruptionTarget'), condition];
  });
  if (!updated) throw notFound(strategy.info, name);
  deleteObject(ctx, strategy, namespace, name, { gracePeriodSeconds: options.gracePeriodSeconds });
  return updated;
}
