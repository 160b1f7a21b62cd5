/**
 * The edges of the task machine (`src/machines/task/task-machine.ts`), written out by hand so the
 * crash suite checks stored histories against the machine as designed, not against whatever the
 * code emits.
 */
import type { TaskOutcome, TaskState, Transition } from '../../src/types.js';

/** From each state (`null` = not yet stored), the states one transition may reach. */
export const taskEdges: Readonly<Record<TaskState | 'null', readonly TaskState[]>> = {
  null: ['queued'],
  // START, or CANCEL of a queued task.
  queued: ['creating', 'cancelled'],
  // createJob done (→ running, or → cancelled if a CANCEL came meanwhile), failed, or refused for quota (→ queued).
  creating: ['running', 'cancelled', 'failed', 'queued'],
  // Job conditions, stuck pods, the alarm, CANCEL; a retry or a quota wait (→ retrying).
  running: ['succeeded', 'failed', 'timedOut', 'cancelled', 'retrying'],
  // The attempt's Job deleted → queued again; the delete failed for good → failed; CANCEL.
  retrying: ['queued', 'failed', 'cancelled'],
  // Logs harvested → deleting; no Job to clean → deleted at once.
  succeeded: ['deleting', 'deleted'],
  failed: ['deleting', 'deleted'],
  timedOut: ['deleting', 'deleted'],
  cancelled: ['deleting', 'deleted'],
  deleting: ['deleted'],
  deleted: [],
};

const outcomes: ReadonlySet<TaskState> = new Set<TaskState>(['succeeded', 'failed', 'timedOut', 'cancelled']);

/**
 * What is wrong with a task's stored history, as sentences ([] when it is a valid path from
 * `null` to `deleted` through exactly one outcome state, `expected`). A restart may resume a task
 * into the state it was in, so a repeated state is not a transition; every other step must be
 * an edge, and each transition's `from` must be the state the previous one reached.
 */
export function historyProblems(taskId: string, history: readonly Transition[], expected: TaskOutcome): string[] {
  const problems: string[] = [];
  const path: TaskState[] = [];
  let current: TaskState | null = null;
  history.forEach((t, i) => {
    if (t.from !== current)
      problems.push(`${taskId}: transition #${i} says from ${t.from} but the task was ${current}`);
    if (t.to === current) return;
    if (!taskEdges[current ?? 'null'].includes(t.to))
      problems.push(`${taskId}: ${current} → ${t.to} (#${i}, event ${t.event}) is not an edge of the task machine`);
    current = t.to;
    path.push(t.to);
  });
  const reached = path.filter((s) => outcomes.has(s));
  if (current !== 'deleted')
    problems.push(`${taskId}: history ends in ${current}, not deleted (path ${path.join(' → ')})`);
  if (reached.length !== 1)
    problems.push(`${taskId}: ${reached.length} outcome states on the path (${path.join(' → ')})`);
  else if (reached[0] !== expected)
    problems.push(`${taskId}: outcome state ${reached[0]} on the path, expected ${expected}`);
  return problems;
}
