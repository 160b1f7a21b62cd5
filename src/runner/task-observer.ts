import type { InspectionEvent } from 'xstate';
import type { TaskContext } from '../machines/task/contract.js';
import type { TaskSnapshotLike } from '../machines/task/record.js';
import type { TaskRecord, TaskRetry, TaskState, Transition } from '../types.js';

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
  /** Per live task, what was last reported: the record and the flags a restart needs. */
  const last = new Map<string, Reported>();
  return (event) => {
    // Microsteps too: one event can pass through several states (queued → cancelled → deleted),
    // and each one is a transition of the task's history.
    if (event.type !== '@xstate.snapshot' && event.type !== '@xstate.microstep') return;
    const systemId = (event.actorRef as { systemId?: string }).systemId;
    if (!systemId?.startsWith('task:')) return;
    const snapshot = event.snapshot as unknown as TaskSnapshotLike;
    const known = last.get(systemId.slice('task:'.length));
    // Most events change nothing the record holds (an observation moves only `lastEventAt` and
    // deadlines): the same context object, or the same fields, is answered without building anything.
    if (known?.context === snapshot.context && known.value === snapshot.value) return;
    const record = options.toRecord(snapshot);
    // The flags a restart needs count as a change too; `lastEventAt` and deadlines alone do not
    // (a restart recomputes deadlines from the cluster), or every observation would be a write.
    const { jobMayExist, jobFinished, slotHeld, cancelRequested } = snapshot.context;
    const flags: Flags = [jobMayExist, jobFinished, slotHeld, cancelRequested];
    const reported: Reported = { record, flags, context: snapshot.context, value: snapshot.value };
    if (known && sameFlags(known.flags, flags) && sameRecord(known.record, record)) {
      // Same record: remember this context so the next event with it is answered at once.
      last.set(record.id, { ...known, context: snapshot.context, value: snapshot.value });
      return;
    }
    const previous = options.current(record.id);
    const from: TaskState | null = previous?.state ?? null;
    // A retry that needs a new Job is decided in one microstep and leaves `running` in the next
    // (its `always` transition, same macrostep): it is reported once, with that change of state.
    if (from === 'running' && record.state === 'running' && snapshot.context.pendingRetry !== undefined) return;
    if (record.state === 'deleted') last.delete(record.id);
    else last.set(record.id, reported);
    // A new (or resumed) actor's first snapshot repeats the record the runner already stored.
    if (known === undefined && previous && sameRecord(previous, record)) return;
    // A retry recorded with this step is a step of the task's history even within one state (a
    // disrupted pod the Job replaced): it is published as a transition carrying the retry.
    const retry = newRetry(previous, record);
    const transition: Transition | undefined =
      from === record.state && !retry
        ? undefined
        : {
            taskId: record.id,
            from,
            to: record.state,
            event: event.event.type,
            at: new Date(options.now()).toISOString(),
            ...(record.outcome ? { outcome: record.outcome } : {}),
            ...(retry ? { retry } : {}),
          };
    options.onChange({ record, context: resumableContext(snapshot.context), transition });
  };
}

type Flags = [boolean | undefined, boolean | undefined, boolean | undefined, boolean | undefined];

interface Reported {
  record: TaskRecord;
  flags: Flags;
  /** The snapshot's context and value it was derived from (XState makes a new context on every `assign`). */
  context: TaskContext;
  value: unknown;
}

function sameFlags(a: Flags, b: Flags): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/**
 * Whether two records hold the same JSON. The record's fields are the context's own values, shared
 * from one snapshot to the next until an `assign` replaces them: compared by reference first, and
 * only a field that was replaced is compared as JSON (an equal value assigned again is no change).
 */
export function sameRecord(a: TaskRecord, b: TaskRecord): boolean {
  const keysA = Object.keys(a) as (keyof TaskRecord)[];
  if (keysA.length !== Object.keys(b).length) return false;
  for (const key of keysA) {
    const x = a[key];
    const y = b[key];
    if (x === y) continue;
    if (!(key in b) || typeof x !== 'object' || typeof y !== 'object') return false;
    if (JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}

/** The retry `record` holds and `previous` did not (the newest one), if any. */
function newRetry(previous: TaskRecord | undefined, record: TaskRecord): TaskRetry | undefined {
  const last = record.retries?.at(-1);
  const before = previous?.retries?.at(-1);
  if (!last || (before && before.at === last.at && before.reason === last.reason && before.podName === last.podName))
    return undefined;
  return last;
}

/** What the machine's input provides again on restore (identity, settings): left out of the stored context. */
const fromInput: ReadonlySet<string> = new Set(['taskId', 'spec', 'jobName', 'fingerprint', 'config', 'createdAt']);

/**
 * The context without what the machine's input provides again on restore, nor `undefined` fields.
 * A shallow copy: XState replaces context values on `assign` and never changes them in place, and
 * the store serializes the copy when it writes it. One loop over the keys: this runs on every
 * change of every task (destructuring the rest, then copying it, showed in a runner profile).
 */
function resumableContext(ctx: TaskContext): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in ctx) {
    const value = (ctx as unknown as Record<string, unknown>)[key];
    if (value !== undefined && !fromInput.has(key)) copy[key] = value;
  }
  return copy;
}
