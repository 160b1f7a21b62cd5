import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { assign, createActor, enqueueActions, fromTransition, type AnyEventObject, type InspectionEvent } from 'xstate';
import type { TaskMachineInput } from '../../src/machines/task/contract.js';
import { taskMachine } from '../../src/machines/task/task-machine.js';
import { T0, iso, resumed, sec } from './fixtures.js';
import { startTask } from './harness.js';
import {
  actIn,
  answer,
  buildObservation,
  numRuns,
  taskMachineInput,
  taskStep,
  viewChoice,
  type TaskStep,
} from './model-arbitraries.js';
import { controlledEffects, promiseEffects, settleDown } from './model-effects.js';
import { allTransitions, takenKey, watchTask, type TransitionKey } from './model-invariants.js';

/*
 * Model-based tests of the task machine: fast-check generates a task (new, or restored from a
 * record in any state, with any settings) and a sequence of what the world can do to it — START,
 * CANCEL, ALARM, cluster observations (every Job condition, every pod state the machine tells
 * apart, our Job or another, the Job gone, watch or fresh views), effects answering (with each
 * answer and each class of error) or breaking — runs them against the real machine with stub
 * effects, and checks the invariants of `watchTask` after every macrostep. Then it ends the task,
 * by a CANCEL or by the Job completing, and checks it reaches `deleted`. Failures shrink to a
 * minimal sequence. `FC_NUM_RUNS=5000 npx vitest run test/machines/task-model.test.ts` runs more.
 */

/** Every transition taken in any run, to check the generator reaches them all. */
const taken = new Map<TransitionKey, number>();

/** The most effect answers a draining task needs (create, harvest, delete, and a re-create or two). */
const drainLimit = 30;

async function runTask(
  input: TaskMachineInput,
  steps: TaskStep[],
  ending: Ending,
  machine: typeof taskMachine = taskMachine,
): Promise<string[]> {
  const effects = controlledEffects();
  const watch = watchTask(input);
  const restoredDeleting = input.resume?.state === 'deleting';
  const parentEvents: AnyEventObject[] = [];
  // The task's parent records what it is sent (what the supervisor would receive); inspection sits on the system.
  const parent = createActor(
    fromTransition((n: number, event: AnyEventObject) => (parentEvents.push(event), n + 1), 0),
    {
      inspect: (event: InspectionEvent) => {
        if (event.type === '@xstate.microstep')
          for (const t of event._transitions) taken.set(takenKey(t), (taken.get(takenKey(t)) ?? 0) + 1);
      },
    },
  ).start();
  const actor = createActor(machine.provide({ actors: effects.actors }), { input, parent });
  const releases = (): number => parentEvents.filter((e) => e.type === 'TASK.SLOT_RELEASED').length;
  const check = (): void => {
    const s = actor.getSnapshot();
    watch.check({ value: s.value, context: s.context, status: s.status, releases: releases() });
    // A Job that may not be ours (a conflict, another uid) is never deleted. Known exception, left
    // out here and pinned by its own test below: a task restored straight into `deleting`.
    if (!restoredDeleting && !s.context.jobMayExist && effects.livePromises('deleteJob').length > 0)
      watch.violations.push(`deleting a Job that may not be ours, in ${String(s.value)}`);
  };
  actor.subscribe({ next: check, error: (err) => watch.violations.push(`actor error: ${String(err)}`) });
  actor.start();
  check();
  const done = (): boolean => actor.getSnapshot().status !== 'active';
  /** A CANCEL that arrives before the outcome always wins: the task ends `cancelled`. */
  let cancelledBeforeOutcome = false;

  const apply = async (step: TaskStep): Promise<void> => {
    if (step.kind === 'act') step = actIn(actor.getSnapshot().value, step);
    switch (step.kind) {
      case 'act':
        break;
      case 'start':
        actor.send({ type: 'START', at: step.at });
        break;
      case 'cancel':
        if (actor.getSnapshot().context.outcome === undefined) cancelledBeforeOutcome = true;
        actor.send({ type: 'CANCEL', at: step.at });
        break;
      case 'alarm':
        actor.send({ type: 'ALARM', at: step.at });
        break;
      case 'observe':
        actor.send({ type: 'CLUSTER.OBSERVED', observation: buildObservation(step.view, actor.getSnapshot().context) });
        break;
      case 'settle':
        effects.settle(step.effect, step.pick, step.answer);
        break;
      case 'fail':
        effects.fail(step.effect, step.pick);
        break;
    }
    // An effect's answer reaches the machine on promise callbacks; events are taken synchronously.
    if (step.kind === 'settle' || step.kind === 'fail') await settleDown();
    check();
  };

  for (const step of steps) {
    if (done()) break;
    await apply(step);
  }

  // The ending: the task must reach `deleted` on effect answers alone (after a CANCEL), or once its Job completes.
  if (!done() && ending.kind === 'cancel') await apply({ kind: 'cancel', at: T0 + sec(5000) });
  for (let i = 0; i < drainLimit && !done(); i++) {
    const value = actor.getSnapshot().value;
    if (ending.kind === 'complete' && value === 'queued') await apply({ kind: 'start', at: T0 + sec(5000) });
    else if (ending.kind === 'complete' && value === 'running')
      await apply({ kind: 'observe', view: { ...ending.view, job: 'ours', condition: 'Complete' } });
    else {
      const effect = promiseEffects.find((e) => effects.livePromises(e, input.taskId).length > 0);
      if (!effect) {
        watch.violations.push(`${ending.kind}: stuck in ${value}, no effect running`);
        break;
      }
      const chosen = ending.answers[i % ending.answers.length] ?? 0;
      // A quota that refused the create once has room the next time: the ending must end.
      const roomNow = effect === 'createJob' && (actor.getSnapshot().context.retryCounts?.quota ?? 0) > 0;
      await apply({ kind: 'settle', effect, pick: 0, answer: roomNow ? 0 : chosen });
    }
  }
  const end = actor.getSnapshot();
  if (end.value !== 'deleted') watch.violations.push(`${ending.kind}: ended in ${end.value}, not deleted`);
  if (cancelledBeforeOutcome && end.context.outcome !== 'cancelled')
    watch.violations.push(`cancelled before an outcome, but the outcome is ${String(end.context.outcome)}`);
  if (done() && effects.liveCallbacks('observeJob').length + effects.livePromises('deleteJob').length > 0)
    watch.violations.push('an effect still runs after deleted');
  if (done() && releases() !== watch.expectedReleases())
    watch.violations.push(`released ${releases()} times, expected ${watch.expectedReleases()}`);
  parent.stop();
  return watch.violations;
}

type Ending =
  | { kind: 'cancel'; answers: number[] }
  | { kind: 'complete'; answers: number[]; view: Parameters<typeof buildObservation>[0] };

const ending: fc.Arbitrary<Ending> = fc.oneof(
  fc.record({ kind: fc.constant('cancel' as const), answers: fc.array(answer, { minLength: 1, maxLength: 4 }) }),
  fc.record({
    kind: fc.constant('complete' as const),
    answers: fc.array(answer, { minLength: 1, maxLength: 4 }),
    view: viewChoice,
  }),
);

/** The property: a generated task and life, ended one way or the other, with no violation. */
const lives = (machine: typeof taskMachine) =>
  fc.asyncProperty(
    taskMachineInput('t1'),
    fc.array(taskStep, { maxLength: 30, size: 'medium' }),
    ending,
    async (input, steps, end) => {
      const violations = await runTask(input, steps, end, machine);
      if (violations.length > 0) throw new Error(`invariants broken:\n${violations.join('\n')}`);
    },
  );

/**
 * Broken variants of the machine (an action or a guard replaced with `.provide`, the machine
 * itself untouched): the model must catch each, or its invariants prove nothing.
 */
const mutants: [string, typeof taskMachine][] = [
  [
    'a slot released at every release point',
    taskMachine.provide({
      actions: {
        releaseSlot: enqueueActions(({ context, enqueue }) => {
          enqueue.sendParent({ type: 'TASK.SLOT_RELEASED', taskId: context.taskId, at: context.lastEventAt });
        }) as never,
      },
    }),
  ],
  [
    'the outcome cleared when the Job is deleted',
    taskMachine.provide({ actions: { noteDeleted: assign({ outcome: undefined }) as never } }),
  ],
  ['a CANCEL during the create forgotten', taskMachine.provide({ guards: { cancelRequested: () => false } })],
  ['a Job that is not ours deleted', taskMachine.provide({ guards: { noJobToClean: () => false } })],
  ['an outcome decided but never acted on', taskMachine.provide({ guards: { decided: () => false } })],
  [
    'the failure dropped with the last log lines',
    taskMachine.provide({ actions: { keepLastLogLines: assign({ failure: undefined }) as never } }),
  ],
];

describe('task machine, model-based: generated lives checked against invariants', () => {
  test('every invariant holds after every step, and every task ends deleted', async () => {
    await fc.assert(lives(taskMachine), { numRuns: numRuns(300) });
    // The generator reaches every transition of the machine (each guarded candidate on its own):
    // a few rare ones (a failed final log read in a given outcome state) may need more runs, which
    // are made, in batches, until every transition has been taken.
    const all = [...allTransitions(taskMachine)];
    const missing = (): TransitionKey[] => all.filter((key) => !taken.has(key));
    for (let extra = 0; missing().length > 0 && extra < 2000; extra += 100) {
      await fc.assert(lives(taskMachine), { numRuns: 100 });
    }
    if (process.env.MODEL_COVERAGE) console.log([...taken].sort((a, b) => a[1] - b[1]).slice(0, 8));
    expect(missing()).toEqual([]);
  });

  test.each(mutants)('the model catches a broken machine: %s', async (_, mutant) => {
    const result = await fc.check(lives(mutant), { numRuns: numRuns(400), endOnFailure: true });
    if (process.env.MODEL_COVERAGE) console.log(String(result.errorInstance).slice(0, 400));
    expect(result.failed).toBe(true);
  });

  /*
   * Found by the model (shrunk): a record in `deleting` without a Job uid and without stored flags
   * (a store from before contexts were persisted; the create had failed transiently) is restored
   * with `jobMayExist: false` — `initialTaskContext`'s conservative default, which makes a restored
   * outcome state skip the harvest and the delete — yet `deleting` has no `noJobToClean` guard and
   * deletes the Job by name, without a uid precondition. Reported, not fixed here: the fix adds a
   * transition (and so redraws the README's diagram). `test.fails` keeps this honest: it starts
   * failing the day the machine skips that delete, and should then become a plain `test`.
   */
  test.fails('known: a task restored into deleting, not knowing its Job is ours, still deletes it', async () => {
    const t = startTask(resumed('deleting', { outcome: 'succeeded', finishedAt: iso(T0), lastEventAt: T0 }));
    await t.reach('deleted');
    // One assertion, so that any change to this path (the default, or the delete) ends the expected failure.
    expect(t.context().jobMayExist === false && t.log.deleted.length > 0).toBe(false);
  });
});
