import { taskStates, type TaskRecord, type TaskState } from '../../types.js';
import type { TaskContext } from './contract.js';

/** The part of a task actor's snapshot a record is made of (any task machine snapshot fits). */
export interface TaskSnapshotLike {
  value: unknown;
  context: TaskContext;
}

/**
 * The public record of a task, from its actor's snapshot: what the runner persists and streams.
 * Plain JSON: fields that are unknown are absent, never `undefined`.
 */
export function toTaskRecord(snapshot: TaskSnapshotLike): TaskRecord {
  return recordFromContext(snapshot.context, stateOf(snapshot.value));
}

/** The task state of a snapshot value (the machine is flat: its value is the state's name). */
export function stateOf(value: unknown): TaskState {
  if (typeof value === 'string' && (taskStates as readonly string[]).includes(value)) return value as TaskState;
  throw new Error(`not a task state: ${JSON.stringify(value)}`);
}

/** The optional fields a record and the task's context share: copied both ways, when defined. */
const sharedFields = [
  'outcome',
  'failure',
  'jobUid',
  'startedAt',
  'finishedAt',
  'deletedAt',
  'cleanupError',
  'logs',
  'attempt',
  'retries',
  'waitingFor',
] as const satisfies readonly (keyof TaskRecord & keyof TaskContext)[];

/** The fields of `sharedFields`, as both a record and a context hold them. */
type SharedPart = Partial<Pick<TaskRecord, (typeof sharedFields)[number]>>;

/** Copies the shared fields that are defined in `from` onto `to` (absent ones stay absent). */
function copySharedFields(from: SharedPart, to: SharedPart): void {
  for (const key of sharedFields) {
    const value = from[key];
    if (value !== undefined) (to as Record<string, unknown>)[key] = value;
  }
}

/** The record of a task in `state` with this context. */
export function recordFromContext(ctx: TaskContext, state: TaskState): TaskRecord {
  const record: TaskRecord = { id: ctx.taskId, spec: ctx.spec, state, jobName: ctx.jobName, createdAt: ctx.createdAt };
  copySharedFields(ctx, record);
  if (state === 'queued' && ctx.notBefore !== undefined) record.waitingUntil = new Date(ctx.notBefore).toISOString();
  return record;
}

/** What a record holds of its task's context (a restart puts it over the stored context). */
export function contextFromRecord(record: TaskRecord): Partial<TaskContext> {
  const context: Partial<TaskContext> = {};
  copySharedFields(record, context);
  if (record.waitingUntil !== undefined) context.notBefore = Date.parse(record.waitingUntil);
  return context;
}
