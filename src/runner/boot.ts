import type { AnyActorRef } from 'xstate';
import { taskSystemId } from '../machines/supervisor/contract.js';
import type { TaskEvent } from '../machines/task/contract.js';
import { planBoot, type BootPlan } from './boot-plan.js';
import type { RunnerParts } from './runner-parts.js';
import type { TaskSupervisor } from './task-supervisor.js';

/**
 * Reconciles the store with the cluster before anything runs: the open tasks of the store and our
 * Jobs (one LIST) give the plan (see `boot-plan.ts`); its records are known at once and the enqueue
 * sequence continues past the stored one.
 */
export async function loadBootPlan(parts: RunnerParts): Promise<BootPlan> {
  const open = await parts.store.listOpenTasks();
  const jobs = await parts.jobs.listJobs();
  const plan = planBoot(open, jobs, parts.taskConfig);
  parts.sequence.startAt(plan.nextSeq);
  for (const record of plan.records) parts.registry.update(record);
  return plan;
}

/**
 * Brings the planned tasks back, each into its stored state (active ones first, so their slots
 * count before a queued task may take one), and tells every running task whose Job vanished while
 * no runner ran that it is gone.
 */
export function resumeTasks(supervisor: TaskSupervisor, plan: BootPlan): void {
  for (const { input, priority } of plan.resumes) supervisor.send({ type: 'RESUME', task: input, priority });
  for (const id of plan.vanished) {
    const gone: TaskEvent = { type: 'CLUSTER.OBSERVED', observation: { job: null, pods: [], at: Date.now() } };
    const task = supervisor.system.get(taskSystemId(id)) as AnyActorRef | undefined;
    task?.send(gone);
  }
}
