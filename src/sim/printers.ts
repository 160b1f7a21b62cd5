import type { TableColumn } from './strategy.js';
import { ageColumn, humanDuration, nameColumn } from './table.js';
import type { KubeObject } from './types.js';

/*
 * Server-side printing of Pods and Namespaces for `kubectl get` (Jobs print from job-strategy.ts),
 * ported from kubernetes `pkg/printers/internalversion/printers.go` (1.31/1.32): the same columns,
 * descriptions, priorities and cell values. The apiserver always fills every cell; kubectl hides
 * priority-1 columns unless `-o wide`.
 */

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
}

/** printers.go `hasPodReadyCondition` & co.: the first condition of that type decides. */
function hasCondition(conditions: Condition[] | undefined, type: string): boolean {
  const found = (conditions ?? []).find((c) => c.type === type);
  return found?.status === 'True';
}

/** `translateTimestampSince`: `<unknown>` for an unset time. */
function since(timestamp: string | undefined, now: number): string {
  return timestamp ? humanDuration(now - Date.parse(timestamp)) : '<unknown>';
}

/** AGE: `translateTimestampSince(creationTimestamp)`. */
const age: TableColumn = { ...ageColumn, cell: (obj, now) => since(obj.metadata.creationTimestamp, now) };

const wideColumn = (name: string, description: string, cell: TableColumn['cell']): TableColumn => ({
  name,
  type: 'string',
  description,
  priority: 1,
  cell,
});

interface ContainerState {
  waiting?: { reason?: string };
  running?: Record<string, unknown>;
  terminated?: { reason?: string; exitCode?: number; signal?: number; finishedAt?: string };
}

interface ContainerStatus {
  name: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

/** The cells printers.go `printPod` computes together: READY, STATUS, RESTARTS. */
export function podSummary(pod: KubeObject, now: number): { ready: string; status: string; restarts: string } {
  const spec = pod.spec ?? {};
  const status = pod.status ?? {};
  const conditions = (status.conditions ?? []) as Condition[];
  const initSpecs = (spec.initContainers ?? []) as { name: string; restartPolicy?: string }[];
  const sidecar = (name: string) => initSpecs.find((c) => c.name === name)?.restartPolicy === 'Always';
  let restarts = 0;
  let sidecarRestarts = 0;
  let readyContainers = 0;
  const totalContainers = (spec.containers ?? []).length + initSpecs.filter((c) => c.restartPolicy === 'Always').length;
  let lastRestart = 0;
  let lastSidecarRestart = 0;
  const phase = String(status.phase ?? '');
  let reason = status.reason ? String(status.reason) : phase;
  if (conditions.some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';
  const finishedAt = (s: ContainerStatus) =>
    s.lastState?.terminated?.finishedAt ? Date.parse(s.lastState.terminated.finishedAt) : 0;

  let initializing = false;
  const initStatuses = (status.initContainerStatuses ?? []) as ContainerStatus[];
  for (const [i, container] of initStatuses.entries()) {
    restarts += container.restartCount ?? 0;
    lastRestart = Math.max(lastRestart, finishedAt(container));
    if (sidecar(container.name)) {
      sidecarRestarts += container.restartCount ?? 0;
      lastSidecarRestart = Math.max(lastSidecarRestart, finishedAt(container));
    }
    const terminated = container.state?.terminated;
    const waiting = container.state?.waiting;
    if (terminated && (terminated.exitCode ?? 0) === 0) continue;
    if (sidecar(container.name) && container.started) {
      if (container.ready) readyContainers++;
      continue;
    }
    if (terminated) {
      reason = terminated.reason
        ? `Init:${terminated.reason}`
        : terminated.signal
          ? `Init:Signal:${terminated.signal}`
          : `Init:ExitCode:${terminated.exitCode ?? 0}`;
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || hasCondition(conditions, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = (status.containerStatuses ?? []) as ContainerStatus[];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const container = statuses[i]!;
      restarts += container.restartCount ?? 0;
      lastRestart = Math.max(lastRestart, finishedAt(container));
      const { waiting, terminated, running } = container.state ?? {};
      if (waiting?.reason) reason = waiting.reason;
      else if (terminated?.reason) reason = terminated.reason;
      else if (terminated)
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`;
      else if (container.ready && running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A pod with a container still running is Running (or NotReady), not Completed.
    if (reason === 'Completed' && hasRunning) reason = hasCondition(conditions, 'Ready') ? 'Running' : 'NotReady';
  }

  if (pod.metadata.deletionTimestamp && status.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  const restartsCell =
    restarts !== 0 && lastRestart !== 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts: restartsCell };
}

function orNone(value: unknown): string {
  return value === undefined || value === null || value === '' ? '<none>' : String(value);
}

/** core/v1 Pods: NAME READY STATUS RESTARTS AGE [IP NODE NOMINATED NODE READINESS GATES]. */
export const podColumns: TableColumn[] = [
  nameColumn,
  {
    name: 'Ready',
    type: 'string',
    description: 'The aggregate readiness state of this pod for accepting traffic.',
    priority: 0,
    cell: (pod, now) => podSummary(pod, now).ready,
  },
  {
    name: 'Status',
    type: 'string',
    description: 'The aggregate status of the containers in this pod.',
    priority: 0,
    cell: (pod, now) => podSummary(pod, now).status,
  },
  {
    name: 'Restarts',
    type: 'string',
    description:
      'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
    priority: 0,
    cell: (pod, now) => podSummary(pod, now).restarts,
  },
  age,
  wideColumn(
    'IP',
    'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
    (pod) => orNone((pod.status?.podIPs as { ip?: string }[] | undefined)?.[0]?.ip),
  ),
  wideColumn(
    'Node',
    'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename',
    (pod) => orNone(pod.spec?.nodeName),
  ),
  wideColumn(
    'Nominated Node',
    'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.',
    (pod) => orNone(pod.status?.nominatedNodeName),
  ),
  wideColumn(
    'Readiness Gates',
    'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
    (pod) => {
      const gates = (pod.spec?.readinessGates ?? []) as { conditionType: string }[];
      if (gates.length === 0) return '<none>';
      const conditions = (pod.status?.conditions ?? []) as Condition[];
      const met = gates.filter(
        (gate) => conditions.find((c) => c.type === gate.conditionType)?.status === 'True',
      ).length;
      return `${met}/${gates.length}`;
    },
  ),
];

/** core/v1 Namespaces: NAME STATUS AGE. */
export const namespaceColumns: TableColumn[] = [
  nameColumn,
  {
    name: 'Status',
    type: 'string',
    description: 'The status of the namespace',
    priority: 0,
    cell: (ns) => String(ns.status?.phase ?? ''),
  },
  age,
];
