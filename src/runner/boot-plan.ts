/**
 * What a runner does with what it finds at start: the open tasks of its store and the Jobs of
 * ours in the cluster (one LIST). Pure: the runner carries the plan out.
 *
 * Machines are rebuilt from records plus the stored context rather than from persisted XState
 * snapshots (see docs/decisions/004-durable-store-layout-and-lock.md): every task resumes into its
 * stored state, and the state's invoked effects run again from the start — which is safe because
 * each one is idempotent (create adopts on 409, delete treats 404 as done, log reads are pure).
 * Stored deadlines are not restored. The cluster then decides the rest through the shared watch:
 * a Job that finished while we were down is seen finished at the first observation (outcome
 * recorded, logs harvested, then cleanup), a Job that is gone is reported `job: null`
 * (→ `JobVanished`, or re-created with `jobVanished: 'retry'`), deadlines are recomputed from the
 * Job's and pods' own timestamps (one already past fires at once).
 */
import type { TaskConfig, TaskContext, TaskMachineInput } from '../machines/task/contract.js';
import { contextFromRecord } from '../machines/task/record.js';
import type { OwnedJob } from '../ports/jobs-port.js';
import type { OpenTask } from '../store/contract.js';
import type { TaskRecord } from '../types.js';

/** One task to bring back: the supervisor's `RESUME`. */
export interface TaskResume {
  input: TaskMachineInput;
  priority: number;
}

/** What the runner does at start, in order. */
export interface BootPlan {
  /** Records to show at once (`getTask`, `listTasks`, `waitFor`). */
  records: TaskRecord[];
  /**
   * Active tasks first (so their slots are counted before any queued task may take one), then
   * the queued ones by (priority desc, enqueue sequence asc).
   */
  resumes: TaskResume[];
  /**
   * Running tasks whose Job is not in the LIST: deleted behind our back while no runner ran (no
   * runner could have created it since). The runner tells each at once that its Job is gone.
   */
  vanished: string[];
  /** Jobs of ours that no open task will handle; the runner still checks they have no record at all. */
  orphanCandidates: OwnedJob[];
  /** The next enqueue sequence number. */
  nextSeq: number;
}

/** Plans the restart from the open tasks (ordered as `listOpenTasks` returns them) and our Jobs. */
export function planBoot(open: readonly OpenTask[], jobs: readonly OwnedJob[], config: TaskConfig): BootPlan {
  const active: TaskResume[] = [];
  const queued: TaskResume[] = [];
  const jobNames = new Set<string>();
  const listed = new Set(jobs.map((job) => job.name));
  const vanished: string[] = [];
  let nextSeq = 0;
  for (const task of open) {
    const { record } = task;
    nextSeq = Math.max(nextSeq, task.seq + 1);
    jobNames.add(record.jobName);
    const input: TaskMachineInput = {
      taskId: record.id,
      spec: record.spec,
      jobName: record.jobName,
      createdAt: record.createdAt,
      config,
      resume: { state: record.state, context: restoredContext(task) },
    };
    (record.state === 'queued' ? queued : active).push({ input, priority: task.priority });
    if (record.state === 'running' && !listed.has(record.jobName)) vanished.push(record.id);
  }
  const orphanCandidates = jobs.filter((job) => job.name !== '' && !jobNames.has(job.name));
  const records = open.map((task) => task.record);
  return { records, resumes: [...active, ...queued], vanished, orphanCandidates, nextSeq };
}

/**
 * The stored context, with the record's fields on top (a store written before contexts were
 * persisted has only the record; `initialTaskContext` derives the missing flags conservatively).
 */
function restoredContext(task: OpenTask): Partial<TaskContext> {
  // Deadlines are dropped: they held as of the last observation before the stop, and the Job may
  // have finished since. The first observation recomputes them from the cluster's timestamps, so
  // the Job's own conditions decide before any deadline can fire (one already past fires then).
  const context = (task.context ?? {}) as Partial<TaskContext>;
  const { timeoutAt: _timeoutAt, stuckAt: _stuckAt, pendingUntil: _pendingUntil, ...stored } = context;
  return { ...stored, ...contextFromRecord(task.record) };
}
