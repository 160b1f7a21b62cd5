import { podQosClass } from './pod-resources.js';
import type { KubeObject } from './types.js';

/**
 * The kubelet's status generation (`generateAPIPodStatus`, `getPhase`, status/generate.go,
 * the status manager's merge): from what the node knows about a pod's containers to the
 * `status` object the API serves. Pure: the pod worker owns the state.
 */

/** `state.terminated` / `lastState.terminated`, as the API serializes it. */
export interface TerminatedState {
  exitCode: number;
  reason: string;
  message?: string;
  /** Absent for a container the kubelet lost track of (ContainerStatusUnknown). */
  startedAt?: string;
  finishedAt?: string;
  containerID?: string;
}

/** `state` of a container status: exactly one of waiting, running, terminated. */
export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: TerminatedState };

/** What the node knows about one container of a pod (init or regular). */
export interface ContainerRecord {
  name: string;
  init: boolean;
  /** The image as the spec names it. */
  specImage: string;
  /** Resolved by a pull: `docker.io/library/busybox:1.36` and its repository digest. */
  image?: string;
  imageID?: string;
  /** `containerd://…` of the latest instance (running, or the last one that ran). */
  containerID?: string;
  state: ContainerState;
  lastState?: TerminatedState;
  restartCount: number;
}

/** What the status generator needs: the pod as stored and what the node knows about it. */
export interface PodStatusInput {
  pod: KubeObject;
  containers: readonly ContainerRecord[];
  /** The pod sandbox exists with its network (PodReadyToStartContainers). */
  sandboxReady: boolean;
  hostIP: string;
  podIP?: string;
  startTime: string;
  /** The kubelet decided the pod is done (deleted, deadline): its phase must be terminal. */
  podIsTerminal: boolean;
  /** Pod-level reason and message (`DeadlineExceeded`). */
  reason?: string;
  message?: string;
  now: string;
}

type Condition = { type: string; status: 'True' | 'False'; reason?: string; message?: string };

/** Conditions the kubelet owns; the rest (DisruptionTarget, readiness gates) are kept from the stored status. */
const kubeletConditions = new Set([
  'PodReadyToStartContainers',
  'Initialized',
  'Ready',
  'ContainersReady',
  'PodScheduled',
]);

function isReady(record: ContainerRecord): boolean {
  if (record.init) return 'terminated' in record.state && record.state.terminated.exitCode === 0;
  return 'running' in record.state;
}

/** kubelet `getPhase` (no restartable init containers). */
export function podPhase(
  restartPolicy: string,
  containers: readonly ContainerRecord[],
  podIsTerminal: boolean,
): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  let pendingInitialization = 0;
  let failedInitialization = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of containers) {
    const state = c.state;
    if (c.init) {
      if ('running' in state) pendingInitialization++;
      else if ('terminated' in state) {
        if (state.terminated.exitCode !== 0) failedInitialization++;
      } else if (c.lastState) {
        if (c.lastState.exitCode !== 0) failedInitialization++;
      } else pendingInitialization++;
      continue;
    }
    if ('running' in state) running++;
    else if ('terminated' in state) {
      stopped++;
      if (state.terminated.exitCode === 0) succeeded++;
    } else if (c.lastState) stopped++;
    else waiting++;
  }
  const anyRegularStarted = containers.some((c) => !c.init && !('waiting' in c.state && !c.lastState));
  if (failedInitialization > 0 && restartPolicy === 'Never') return 'Failed';
  if ((pendingInitialization > 0 && !anyRegularStarted) || waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function list(names: string[]): string {
  return `[${names.join(' ')}]`;
}

function containersReady(containers: readonly ContainerRecord[], phase: string): Condition {
  if (phase === 'Succeeded') return { type: 'ContainersReady', status: 'False', reason: 'PodCompleted' };
  if (phase === 'Failed') return { type: 'ContainersReady', status: 'False', reason: 'PodFailed' };
  const unready = containers.filter((c) => !c.init && !isReady(c)).map((c) => c.name);
  if (unready.length > 0)
    return {
      type: 'ContainersReady',
      status: 'False',
      reason: 'ContainersNotReady',
      message: `containers with unready status: ${list(unready)}`,
    };
  return { type: 'ContainersReady', status: 'True' };
}

function initialized(containers: readonly ContainerRecord[], phase: string): Condition {
  if (phase === 'Succeeded') return { type: 'Initialized', status: 'True', reason: 'PodCompleted' };
  const anyRegularStarted = containers.some(
    (c) => !c.init && ('running' in c.state || 'terminated' in c.state || c.lastState),
  );
  const incomplete = containers.filter((c) => c.init && !isReady(c)).map((c) => c.name);
  if (anyRegularStarted || incomplete.length === 0) return { type: 'Initialized', status: 'True' };
  return {
    type: 'Initialized',
    status: 'False',
    reason: 'ContainersNotInitialized',
    message: `containers with incomplete status: ${list(incomplete)}`,
  };
}

function containerStatus(record: ContainerRecord): Record<string, unknown> {
  const status: Record<string, unknown> = {
    name: record.name,
    state: record.state,
    lastState: record.lastState ? { terminated: record.lastState } : {},
    ready: isReady(record),
    restartCount: record.restartCount,
    image: record.image ?? record.specImage,
    imageID: record.imageID ?? '',
  };
  // The latest instance's ID, also while a restart waits (CrashLoopBackOff).
  if (record.containerID) status['containerID'] = record.containerID;
  status['started'] = 'running' in record.state;
  return status;
}

/** The `status` the kubelet writes for `input.pod`, merged with the stored one. */
export function generatePodStatus(input: PodStatusInput): Record<string, unknown> {
  const { pod, containers } = input;
  const previous = (pod.status ?? {}) as Record<string, unknown>;
  const previousPhase = String(previous['phase'] ?? '');
  let phase: string = podPhase(String(pod.spec?.restartPolicy ?? 'Always'), containers, input.podIsTerminal);
  // A pod-level reason (DeadlineExceeded) is a kubelet-decided failure.
  if (input.reason) phase = 'Failed';
  // Terminal phases are sticky.
  if (previousPhase === 'Succeeded' || previousPhase === 'Failed') phase = previousPhase;
  const ready = containersReady(containers, phase);
  const generated: Condition[] = [
    { type: 'PodReadyToStartContainers', status: input.sandboxReady ? 'True' : 'False' },
    initialized(containers, phase),
    { ...ready, type: 'Ready' },
    ready,
    { type: 'PodScheduled', status: 'True' },
  ];
  const oldConditions = (Array.isArray(previous['conditions']) ? previous['conditions'] : []) as Record<
    string,
    unknown
  >[];
  const conditions = [
    ...oldConditions.filter((c) => !kubeletConditions.has(String(c['type']))),
    ...generated.map((c) => {
      const old = oldConditions.find((o) => o['type'] === c.type);
      const lastTransitionTime =
        old && old['status'] === c.status ? (old['lastTransitionTime'] ?? input.now) : input.now;
      return {
        type: c.type,
        status: c.status,
        lastProbeTime: null,
        lastTransitionTime,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.message ? { message: c.message } : {}),
      };
    }),
  ];
  const status: Record<string, unknown> = {
    ...previous,
    phase,
    conditions,
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    startTime: input.startTime,
    qosClass: previous['qosClass'] ?? podQosClass(pod),
  };
  if (input.podIP) {
    status['podIP'] = input.podIP;
    status['podIPs'] = [{ ip: input.podIP }];
  }
  if (input.reason) status['reason'] = input.reason;
  if (input.message) status['message'] = input.message;
  const inits = containers.filter((c) => c.init);
  if (inits.length > 0) status['initContainerStatuses'] = inits.map(containerStatus);
  status['containerStatuses'] = containers.filter((c) => !c.init).map(containerStatus);
  return status;
}
