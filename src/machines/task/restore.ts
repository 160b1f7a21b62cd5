import type { TaskState } from '../../types.js';
import { fingerprintSpec } from '../../jobs/fingerprint.js';
import { attemptJobName } from '../../jobs/job-name.js';
import type { TaskContext, TaskMachineInput } from './contract.js';

/** The states that hold a slot by definition (the others hold one only until the Job finished). */
const alwaysHoldSlot: ReadonlySet<TaskState> = new Set(['creating', 'running', 'retrying']);

/**
 * The task machine's initial context: a new task, or one restored into `input.resume.state`.
 *
 * The identity and settings of the task come from `input` (the runner's current options win over
 * stored ones). Stored flags are kept, and where a stored context lacks one it is derived from the
 * state, erring on the side of never deleting a Job that may not be ours: `jobMayExist` defaults to
 * "we know the Job's uid". The supervisor counts a restored task's slot with the same function
 * ({@link resumeHoldsSlot}), so the task's one `TASK.SLOT_RELEASED` always matches.
 */
export function initialTaskContext(input: TaskMachineInput): TaskContext {
  const { taskId, spec, jobName, config, createdAt } = input;
  const identity = {
    taskId,
    spec,
    jobName,
    fingerprint: input.fingerprint ?? fingerprintSpec(spec),
    config,
    createdAt,
  };
  const created = Date.parse(createdAt);
  // A task that has not started: nothing of a Job, a slot or a cancel is known yet.
  const fresh = (lastEventAt: number): TaskContext => ({
    ...identity,
    jobMayExist: false,
    jobFinished: false,
    slotHeld: false,
    cancelRequested: false,
    lastEventAt,
  });
  if (!input.resume) return fresh(created);
  const { state, context: stored } = input.resume;
  // A later attempt runs under its own Job name (see `attemptJobName`).
  const attempt = stored.attempt ?? 1;
  const restored: TaskContext = {
    ...stored,
    ...identity,
    ...(attempt > 1 ? { jobName: attemptJobName(taskId, attempt) } : {}),
    jobMayExist: stored.jobMayExist ?? stored.jobUid !== undefined,
    jobFinished: stored.jobFinished ?? false,
    slotHeld: false,
    cancelRequested: stored.cancelRequested ?? false,
    lastEventAt: Math.max(created, stored.lastEventAt ?? created),
  };
  switch (state) {
    case 'queued': {
      // Queued again after a retry or a quota wait: its attempt, history and back-off carry over.
      const { jobName, attempt, retries, retryCounts, memory, waitingFor, notBefore } = restored;
      const carried = { attempt, retries, retryCounts, memory, waitingFor, notBefore };
      const kept = Object.fromEntries(Object.entries(carried).filter(([, v]) => v !== undefined));
      return { ...fresh(restored.lastEventAt), jobName, ...kept };
    }
    case 'creating':
    case 'running':
    case 'retrying':
      // A running task has no outcome yet; observations recompute every deadline from the cluster.
      return {
        ...restored,
        jobMayExist: true,
        jobFinished: false,
        slotHeld: alwaysHoldSlot.has(state),
        outcome: undefined,
        failure: undefined,
        finishedAt: undefined,
      };
    case 'deleted':
      return restored;
    default:
      return { ...restored, slotHeld: stored.slotHeld ?? !restored.jobFinished };
  }
}

/** Whether a task restored from `input` holds a slot (the supervisor counts it on `RESUME`). */
export function resumeHoldsSlot(input: TaskMachineInput): boolean {
  return input.resume !== undefined && initialTaskContext(input).slotHeld;
}
