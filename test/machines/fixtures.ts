import type {
  ClusterObservation,
  ConditionView,
  ContainerView,
  JobView,
  PodView,
  TaskConfig,
  TaskContext,
  TaskEvent,
  TaskMachineInput,
} from '../../src/machines/task/contract.js';
import { fingerprintSpec } from '../../src/jobs/fingerprint.js';
import type { TaskSpec, TaskState } from '../../src/types.js';

/** A fixed epoch for every test: times are data here, never the wall clock. */
export const T0 = Date.parse('2026-01-01T00:00:00.000Z');
export const iso = (ms: number): string => new Date(ms).toISOString();
export const sec = (s: number): number => s * 1000;

export const config: TaskConfig = {
  stuck: {
    pendingBudgetMs: 600_000,
    imagePullGraceMs: 300_000,
    createContainerConfigGraceMs: 120_000,
    crashLoopBackOffGraceMs: 300_000,
  },
  clientTimeoutGraceMs: 2000,
  keepJobs: false,
};

export function taskInput(
  id = 't1',
  spec: Partial<TaskSpec> = {},
  more: Partial<TaskMachineInput> = {},
): TaskMachineInput {
  return {
    taskId: id,
    spec: { id, image: 'busybox', command: ['echo', 'hi'], ...spec },
    jobName: `job-${id}`,
    fingerprint: `fp-${id}`,
    createdAt: iso(T0),
    config,
    ...more,
  };
}

export function resumed(
  state: TaskState,
  context: Partial<TaskContext>,
  id = 't1',
  spec: Partial<TaskSpec> = {},
): TaskMachineInput {
  return taskInput(id, spec, { resume: { state, context } });
}

export function jobView(more: Partial<JobView> = {}): JobView {
  return {
    name: 'job-t1',
    uid: 'uid-1',
    resourceVersion: '1',
    createdAt: iso(T0),
    startTime: iso(T0),
    active: 1,
    ready: 0,
    succeeded: 0,
    failed: 0,
    terminating: 0,
    conditions: [],
    ...more,
  };
}

export const condition = (type: string, reason?: string, message?: string): ConditionView => ({
  type,
  status: 'True',
  ...(reason ? { reason } : {}),
  ...(message ? { message } : {}),
});

export function container(more: Partial<ContainerView> = {}): ContainerView {
  return { name: 'task', restartCount: 0, ...more };
}

export function podView(more: Partial<PodView> = {}): PodView {
  return {
    name: 'job-t1-abcde',
    uid: 'pod-1',
    phase: 'Pending',
    createdAt: iso(T0),
    containers: [container()],
    ...more,
  };
}

export const waiting = (reason: string, message?: string): PodView =>
  podView({ containers: [container({ waiting: { reason, ...(message ? { message } : {}) } })] });
export const runningPod = (): PodView =>
  podView({ phase: 'Running', containers: [container({ running: { startedAt: iso(T0) } })] });

export function observation(
  at: number,
  job: JobView | null = jobView(),
  pods: PodView[] = [],
  events?: string[],
): ClusterObservation {
  return { job, pods, at, ...(events ? { events } : {}) };
}

export function observed(
  at: number,
  job: JobView | null = jobView(),
  pods: PodView[] = [],
  events?: string[],
): TaskEvent {
  return { type: 'CLUSTER.OBSERVED', observation: observation(at, job, pods, events) };
}

/** As `observed`, but a view read fresh from the API server (the alarm's read): it may decide a passed deadline. */
export function freshObserved(
  at: number,
  job: JobView | null = jobView(),
  pods: PodView[] = [],
  events?: string[],
): TaskEvent {
  return { type: 'CLUSTER.OBSERVED', observation: { ...observation(at, job, pods, events), fresh: true } };
}

/** A context as the machine has it while running (for pure classify/deadline tests). */
export function runningContext(more: Partial<TaskContext> = {}, spec: Partial<TaskSpec> = {}): TaskContext {
  const input = taskInput('t1', spec);
  return {
    taskId: input.taskId,
    spec: input.spec,
    jobName: input.jobName,
    fingerprint: input.fingerprint ?? fingerprintSpec(input.spec),
    config: input.config,
    createdAt: input.createdAt,
    jobUid: 'uid-1',
    jobMayExist: true,
    jobFinished: false,
    slotHeld: true,
    cancelRequested: false,
    lastEventAt: T0,
    ...more,
  };
}
