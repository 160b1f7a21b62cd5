import type { InspectionEvent } from 'xstate';
import type { TaskContext } from '../machines/task/contract.js';
import type { TaskSnapshotLike } from '../machines/task/record.js';
import type { TaskRecord, TaskState, Transition } from '../types.js';

/** A change of one task's record, derived from its actor's snapshot. */
export interface RecordChange {
  record: TaskRecord;
  /** What a restart needs beyond the record (the machine's context without the task's identity). */
  context: Record<string, unknown>;
  /** Present when the state changed. */
  transition?: Transition;
}

/**
 * Turns XState inspection events into record changes: for every (micro)step of a task actor, the
 * record is recomputed and compared with the last one known; a new state is a transition.
 * Inspection events arrive synchronously while the actor processes the event, i.e. before the
 * effects of the new state can have done any I/O — which is what makes write-ahead possible.
 */
export function createTaskObserver(options: {
  toRecord: (snapshot: TaskSnapshotLike) => TaskRecord;
  current: (taskId: string) => TaskRecord | undefined;
  onChange: (change: RecordChange) => void;
  now: () => number;
}): (event: InspectionEvent) => void {
  const lastJson = new Map<string, string>();
  return (event) => {
    // Microsteps too: one event can pass through several states (queued → cancelled → deleted),
    // and each one is a transition of the task's history.
    if (event.type !== '@xstate.snapshot' && event.type !== '@xstate.microstep') return;
    const systemId = (event.actorRef as { systemId?: string }).systemId;
    if (!systemId?.startsWith('task:')) return;
    const snapshot = event.snapshot as unknown as TaskSnapshotLike;
    const record = options.toRecord(snapshot);
    // The flags a restart needs count as a change too; `lastEventAt` and deadlines alone do not
    // (a restart recomputes deadlines from the cluster), or every observation would be a write.
    const { jobMayExist, jobFinished, slotHeld, cancelRequested } = snapshot.context;
    const recordJson = JSON.stringify(record);
    const json = recordJson + JSON.stringify([jobMayExist, jobFinished, slotHeld, cancelRequested]);
    const known = lastJson.get(record.id);
    if (known === json) return;
    const previous = options.current(record.id);
    if (record.state === 'deleted') lastJson.delete(record.id);
    else lastJson.set(record.id, json);
    // A new (or resumed) actor's first snapshot repeats the record the runner already stored.
    if (known === undefined && previous && JSON.stringify(previous) === recordJson) return;
    const from: TaskState | null = previous?.state ?? null;
    const transition: Transition | undefined =
      from === record.state
        ? undefined
        : {
            taskId: record.id,
            from,
            to: record.state,
            event: event.event.type,
            at: new Date(options.now()).toISOString(),
            ...(record.outcome ? { outcome: record.outcome } : {}),
          };
    options.onChange({ record, context: resumableContext(snapshot.context), transition });
  };
}

/** The context without what the machine's input provides again on restore (identity, settings). */
function resumableContext(ctx: TaskContext): Record<string, unknown> {
  const {
    taskId: _taskId,
    spec: _spec,
    jobName: _jobName,
    fingerprint: _fingerprint,
    config: _config,
    createdAt: _createdAt,
    ...rest
  } = ctx;
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}
