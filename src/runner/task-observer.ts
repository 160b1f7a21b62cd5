import type { InspectionEvent } from 'xstate';
import type { TaskSnapshotLike } from '../machines/task/record.js';
import type { TaskRecord, TaskState, Transition } from '../types.js';

/** A change of one task's record, derived from its actor's snapshot. */
export interface RecordChange {
  record: TaskRecord;
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
    const record = options.toRecord(event.snapshot as unknown as TaskSnapshotLike);
    const json = JSON.stringify(record);
    if (lastJson.get(record.id) === json) return;
    const previous = options.current(record.id);
    if (record.state === 'deleted') lastJson.delete(record.id);
    else lastJson.set(record.id, json);
    if (previous && JSON.stringify(previous) === json) return;
    const from: TaskState | null = previous?.state ?? null;
    const transition: Transition | undefined =
      from === record.state
        ? undefined
        : { taskId: record.id, from, to: record.state, event: event.event.type, at: new Date(options.now()).toISOString(), ...(record.outcome ? { outcome: record.outcome } : {}) };
    options.onChange({ record, transition });
  };
}
