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

/** The record of a task in `state` with this context. */
export function recordFromContext(ctx: TaskContext, state: TaskState): TaskRecord {
  const record: TaskRecord = { id: ctx.taskId, spec: ctx.spec, state, jobName: ctx.jobName, createdAt: ctx.createdAt };
  if (ctx.outcome !== undefined) record.outcome = ctx.outcome;
  if (ctx.failure !== undefined) record.failure = ctx.failure;
  if (ctx.jobUid !== undefined) record.jobUid = ctx.jobUid;
  if (ctx.startedAt !== undefined) record.startedAt = ctx.startedAt;
  if (ctx.finishedAt !== undefined) record.finishedAt = ctx.finishedAt;
  if (ctx.deletedAt !== undefined) record.deletedAt = ctx.deletedAt;
  if (ctx.cleanupError !== undefined) record.cleanupError = ctx.cleanupError;
  return record;
}
