import { DuplicateTaskError, messageOf } from '../errors.js';
import { fingerprintSpec } from '../jobs/fingerprint.js';
import type { TaskMachineInput } from '../machines/task/contract.js';
import type { OwnedJob } from '../ports/jobs-port.js';
import type { TaskRecord, Transition } from '../types.js';
import { parseTaskSpec } from '../validation/parse.js';
import type { RunnerEvent } from './runner-events.js';
import type { RunnerParts } from './runner-parts.js';
import type { TaskSupervisor } from './task-supervisor.js';

/**
 * A Job of ours with no open task: an orphan unless the store still has its task's record. Reports
 * it, or deletes or adopts it as the `orphans` option says; neither failing is fatal: the event
 * then says why the Job is still there. Resolves with the event, or undefined when it is no orphan.
 * `phase` says who found it: the start, or the periodic scan (`orphan-scan.ts`).
 */
export async function handleOrphan(
  parts: RunnerParts,
  supervisor: TaskSupervisor,
  orphan: OwnedJob,
  phase: 'start' | 'scan' = 'start',
): Promise<RunnerEvent | undefined> {
  if (orphan.taskId !== undefined && (await parts.store.getTask(orphan.taskId))) return undefined;
  const { name, uid } = orphan;
  let action: 'reported' | 'deleted' | 'adopted' = 'reported';
  let taskId = orphan.taskId;
  let error: string | undefined;
  try {
    if (parts.options.orphans === 'delete') {
      await parts.jobs.deleteJob(name, { uid });
      action = 'deleted';
    } else if (parts.options.orphans === 'adopt') {
      taskId = await adopt(parts, supervisor, orphan);
      action = 'adopted';
    }
  } catch (err) {
    error = messageOf(err);
  }
  return {
    kind: 'orphanJob',
    name,
    uid,
    ...(taskId !== undefined ? { taskId } : {}),
    action,
    phase,
    ...(error !== undefined ? { error } : {}),
  };
}

/**
 * Makes an orphan Job a task: its record is stored durably as `running` (with the Job's uid), then
 * the task resumes there like any re-attached one, so the watch decides its outcome, its logs are
 * harvested and the Job is cleaned up. Resolves with the task id.
 */
async function adopt(parts: RunnerParts, supervisor: TaskSupervisor, job: OwnedJob): Promise<string> {
  const { registry, store, journal } = parts;
  // Throws `ValidationError` when the Job's task is not a valid one (e.g. a container without an image).
  const spec = parseTaskSpec(job.taskInput);
  // The id may fall back to the Job's name, which another task's record may already use.
  if (registry.has(spec.id) || (await store.getTask(spec.id))) throw new DuplicateTaskError(spec.id);
  // The Job's own fingerprint, so that a re-run create adopts this very Job.
  const fingerprint = job.fingerprint ?? fingerprintSpec(spec);
  const priority = spec.priority ?? 0;
  const at = new Date().toISOString();
  const jobName = job.name;
  const jobUid = job.uid;
  const record: TaskRecord = { id: spec.id, spec, state: 'running', jobName, jobUid, createdAt: at };
  const transition: Transition = { taskId: spec.id, from: null, to: 'running', event: 'ADOPT', at };
  const context = { jobUid, jobMayExist: true, slotHeld: true };
  await journal.write(record, transition, { queue: { priority, seq: parts.sequence.take() }, context });
  registry.update(record);
  parts.transitions.next(transition);
  const input: TaskMachineInput = {
    taskId: spec.id,
    spec,
    jobName,
    fingerprint,
    createdAt: at,
    config: parts.taskConfig,
    resume: { state: 'running', context },
  };
  supervisor.send({ type: 'RESUME', task: input, priority });
  return spec.id;
}
