import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { TaskContext, TaskMachineInput } from '../../src/machines/task/contract.js';
import { resumeHoldsSlot } from '../../src/machines/task/restore.js';
import type { TaskOutcome, TaskState } from '../../src/types.js';

const outcomeStates: readonly string[] = ['succeeded', 'failed', 'timedOut', 'cancelled'];
const beforeOutcome: readonly string[] = ['queued', 'creating', 'running', 'retrying'];

/** What a model sees of one task actor at one instant. */
export interface TaskInstant {
  value: TaskState;
  context: TaskContext;
  /** The actor's status: `active`, `done` (reached `deleted`), `error`, `stopped`. */
  status: string;
  /** `TASK.SLOT_RELEASED` events the task has sent its parent so far. */
  releases: number;
}

/**
 * The invariants of one task, checked at every instant a model sees (after every macrostep):
 *
 * - a slot is released at most once, only after it was taken (by `creating`, or by a restored
 *   state that holds one), and only once the Job finished or at `deleted`; by `deleted` it has
 *   been released exactly once if it was ever held;
 * - `deleted` is reached only with an outcome; no outcome before `succeeded | failed | timedOut |
 *   cancelled`, the outcome of the state in one, an outcome in `deleting`;
 * - the outcome is never lost: once set, it, its `finishedAt` and its failure's reason never
 *   change and are never cleared;
 * - the actor never fails, and is done exactly when it is `deleted`;
 * - its clock (`lastEventAt`) never goes back; it is not finished before it was created, nor
 *   deleted before it finished.
 *
 * Violations are collected as sentences (an observer must not throw into the actor).
 */
export function watchTask(input: TaskMachineInput) {
  const violations: string[] = [];
  const holdsAtStart = resumeHoldsSlot(input);
  // Slots taken: one at a restored state that holds one, one each time it enters `creating` from
  // `queued` (a retry or a quota wait queues it again, without its slot).
  let holds = holdsAtStart ? 1 : 0;
  let previous: TaskState | undefined;
  let lastEventAt = -Infinity;
  let kept: { outcome: TaskOutcome; finishedAt: string | undefined; reason: string | undefined } | undefined;
  const fail = (what: string, at: TaskInstant): void => {
    violations.push(`${input.taskId} in ${at.value} (${at.status}): ${what}`);
  };
  const expectedReleases = (): number => holds;

  return {
    violations,
    expectedReleases,
    check(at: TaskInstant): void {
      const { value, context: c, status, releases } = at;
      if (value === 'creating' && (previous === undefined || previous === 'queued') && !(holdsAtStart && !previous))
        holds++;
      previous = value;
      if (status === 'error') fail('the actor failed', at);
      if ((status === 'done') !== (value === 'deleted')) fail(`status ${status} in state ${value}`, at);
      // Each slot taken released exactly once.
      if (releases > holds) fail(`slot released ${releases} times, taken ${holds}`, at);
      if (releases < holds - 1) fail(`${holds - releases} slots held at once`, at);
      if (holds > 0 && releases === holds && c.slotHeld) fail('slot still marked held after its release', at);
      if (releases < holds && !c.slotHeld) fail('slot no longer held but never released', at);
      if (holds > 0 && releases === holds && value !== 'deleted' && value !== 'queued' && !c.jobFinished)
        fail('slot released before the Job finished', at);
      if (value === 'deleted' && releases !== expectedReleases())
        fail(`deleted with ${releases} releases, expected ${expectedReleases()}`, at);
      // `deleted` only after an outcome; the outcome matches the state.
      if (beforeOutcome.includes(value) && c.outcome !== undefined) fail(`outcome ${c.outcome} before one`, at);
      if (outcomeStates.includes(value) && c.outcome !== value) fail(`outcome ${String(c.outcome)}`, at);
      if ((value === 'deleting' || value === 'deleted') && c.outcome === undefined) fail('no outcome', at);
      if (c.outcome !== undefined && c.finishedAt === undefined) fail('an outcome without finishedAt', at);
      if (c.outcome === 'cancelled' && c.failure?.reason !== 'Cancelled')
        fail(`cancelled with failure ${String(c.failure?.reason)}`, at);
      if (c.deletedAt !== undefined && value !== 'deleted') fail('deletedAt before deleted', at);
      if (value === 'queued' && c.slotHeld) fail('a queued task holds a slot', at);
      if ((value === 'creating' || value === 'running' || value === 'retrying') && !c.slotHeld)
        fail('an active task without a slot', at);
      // Time only moves forward: the machine's clock is the newest event time it has seen.
      if (c.lastEventAt < lastEventAt) fail(`lastEventAt went back from ${lastEventAt} to ${c.lastEventAt}`, at);
      lastEventAt = c.lastEventAt;
      if (c.finishedAt !== undefined && c.finishedAt < c.createdAt) fail('finished before it was created', at);
      if (c.deletedAt !== undefined && c.finishedAt !== undefined && c.deletedAt < c.finishedAt)
        fail(`deleted (${c.deletedAt}) before it finished (${c.finishedAt})`, at);
      // The outcome never lost.
      if (kept) {
        if (c.outcome !== kept.outcome) fail(`outcome ${kept.outcome} became ${String(c.outcome)}`, at);
        if (c.finishedAt !== kept.finishedAt)
          fail(`finishedAt ${String(kept.finishedAt)} became ${String(c.finishedAt)}`, at);
        if (c.failure?.reason !== kept.reason)
          fail(`failure ${String(kept.reason)} became ${String(c.failure?.reason)}`, at);
      } else if (c.outcome !== undefined) {
        kept = { outcome: c.outcome, finishedAt: c.finishedAt, reason: c.failure?.reason };
      }
    },
  };
}

export type TaskWatch = ReturnType<typeof watchTask>;

/** A transition of a machine's definition, named `source | event | index` (index among that event's candidates). */
export type TransitionKey = string;

function keyOf(source: AnyStateNode, eventType: string, index: number): TransitionKey {
  return `${source.path.join('.')} | ${eventType || 'always'} | ${index}`;
}

/** Every transition of a machine's definition (guarded candidates counted apart, targetless ones too). */
export function allTransitions(machine: AnyStateMachine): Set<TransitionKey> {
  const keys = new Set<TransitionKey>();
  const visit = (node: AnyStateNode): void => {
    for (const [eventType, list] of node.transitions) list.forEach((_, i) => keys.add(keyOf(node, eventType, i)));
    (node.always ?? []).forEach((_, i) => keys.add(keyOf(node, '', i)));
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  return keys;
}

/** The key of a transition a microstep took (the `_transitions` of an `@xstate.microstep` inspection event). */
export function takenKey(t: { source: AnyStateNode; eventType: string }): TransitionKey {
  const always = t.eventType === '' ? t.source.always : undefined;
  const list = always ?? t.source.transitions.get(t.eventType) ?? [];
  return keyOf(t.source, t.eventType, list.indexOf(t as never));
}
