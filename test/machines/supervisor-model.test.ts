import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createActor, enqueueActions, type ActorRefFrom, type InspectionEvent, type SnapshotFrom } from 'xstate';
import type { SupervisorEmitted } from '../../src/machines/supervisor/contract.js';
import { taskSystemId } from '../../src/machines/supervisor/contract.js';
import { supervisorMachine } from '../../src/machines/supervisor/supervisor-machine.js';
import type { TaskMachineInput } from '../../src/machines/task/contract.js';
import { resumeHoldsSlot } from '../../src/machines/task/restore.js';
import { taskMachine } from '../../src/machines/task/task-machine.js';
import type { TaskOutcome } from '../../src/types.js';
import { T0, sec } from './fixtures.js';
import {
  actIn,
  at,
  buildInput,
  numRuns,
  taskParts,
  taskStep,
  buildObservation,
  type TaskParts,
  type ViewChoice,
  type TaskStep,
} from './model-arbitraries.js';
import { controlledEffects, settleDown } from './model-effects.js';
import { watchTask, type TaskWatch } from './model-invariants.js';

/*
 * Model-based tests of the supervisor over the real task machine (stub effects): fast-check
 * generates a cap N and an interleaving of ENQUEUE, RESUME (a task restored in any state, holding
 * a slot or not), CANCEL (of a queued, live, finished or unknown task), duplicates, and what the
 * world does to the live tasks (cluster observations, alarms, effects answering or breaking).
 * After every step the slots, the queue and every task are checked; at the end every task is
 * driven to completion and must have finished exactly once. `FC_NUM_RUNS=2000` runs more.
 */

type TaskRef = ActorRefFrom<typeof taskMachine>;

/** One step of the model: a command to the supervisor, or something that happens to one live task. */
type SupervisorStep =
  | { kind: 'enqueue'; parts: TaskParts; priority: number }
  | { kind: 'resume'; parts: TaskParts; priority: number | undefined }
  | { kind: 'duplicate'; pick: number; resume: boolean }
  | { kind: 'cancel'; pick: number; at: number }
  | { kind: 'task'; pick: number; step: TaskStep };

const priority = fc.integer({ min: 0, max: 2 });
const pick = fc.noBias(fc.nat({ max: 99 }));
const supervisorStep: fc.Arbitrary<SupervisorStep> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('enqueue' as const), parts: taskParts, priority }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('resume' as const),
      parts: taskParts,
      priority: fc.option(priority, { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick, resume: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick, at }) },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('task' as const), pick, step: taskStep }) },
);

/** What the cluster shows once a task's Job has completed. */
const completed: ViewChoice = {
  job: 'ours',
  condition: 'Complete',
  started: true,
  pod: 'exited0',
  at: T0 + sec(5000),
  fresh: false,
  events: false,
};

/** What is known of each task the supervisor accepted. */
interface Known {
  input: TaskMachineInput;
  watch: TaskWatch;
  /** Went through the queue (ENQUEUE, or RESUME of a queued record): it must be started, or cancelled while queued. */
  queuedOnce: boolean;
  /** Restored holding a slot: the only way slots held may exceed N. */
  resumedHolding: boolean;
  priority: number;
  /** Order of arrival in the queue (FIFO within a priority). */
  seq: number;
  releases: number;
  started: number;
  /** Times it was queued again (a quota wait or a retry): each one starts it once more. */
  requeued: number;
  finished: { outcome: TaskOutcome | undefined }[];
  /** CANCEL arrived while it was queued, or live without an outcome: it must end `cancelled`. */
  mustCancel: boolean;
  cancelledQueued: boolean;
}

/** What the runs went through, summed (printed with `MODEL_COVERAGE=1`, to judge the generator). */
const seen = {
  runs: 0,
  tasks: 0,
  started: 0,
  cancelledQueued: 0,
  cancelledLive: 0,
  rejected: 0,
  resumedHolding: 0,
  waitedForSlot: 0,
  overCap: 0,
};

/** The supervisor over the task machine, each as given, with the model's effects. */
const assemble = (
  supervisor: typeof supervisorMachine,
  task: typeof taskMachine,
  effects: ReturnType<typeof controlledEffects>,
) => supervisor.provide({ actors: { task: task.provide({ actors: effects.actors }) } });

async function runSupervisor(
  n: number,
  steps: SupervisorStep[],
  supervisor: typeof supervisorMachine = supervisorMachine,
  task: typeof taskMachine = taskMachine,
): Promise<string[]> {
  const effects = controlledEffects();
  const violations: string[] = [];
  const known = new Map<string, Known>();
  const rejected: string[] = [];
  let seq = 0;
  let nextId = 0;
  const machine = assemble(supervisor, task, effects);
  const holder: { actor?: ReturnType<typeof createActor<typeof machine>> } = {};
  const context = () => holder.actor?.getSnapshot().context;

  const liveTasks = (): TaskRef[] => (context()?.children.actors() ?? []) as TaskRef[];
  /** The task actors that can still take events (a done one lingering is a violation of its own). */
  const activeTasks = (): TaskRef[] => liveTasks().filter((t) => t.getSnapshot().status === 'active');

  /** Slot holders by the ledger (a mutable object: current even in the middle of a step). */
  const ledgerHolders = (): string[] => {
    const slots = context()?.slots;
    return slots ? [...known.keys()].filter((id) => slots.has(id)) : [];
  };

  const inspect = (event: InspectionEvent): void => {
    if (!holder.actor) return;
    if (event.type === '@xstate.event' && event.event.type === 'TASK.SLOT_RELEASED') {
      const task = known.get((event.event as unknown as { taskId: string }).taskId);
      if (task) task.releases++;
    }
    if (event.type !== '@xstate.snapshot') return;
    const systemId = (event.actorRef as { systemId?: string }).systemId;
    if (systemId?.startsWith('task:')) {
      const snapshot = event.snapshot as SnapshotFrom<typeof taskMachine>;
      const task = known.get(snapshot.context.taskId);
      task?.watch.check({
        value: snapshot.value,
        context: snapshot.context,
        status: snapshot.status,
        releases: task.releases,
      });
    }
    // Never more than N slots held, at any instant: only tasks restored holding one may add to them.
    const holders = ledgerHolders();
    const startedHolders = holders.filter((id) => !known.get(id)?.resumedHolding).length;
    if (startedHolders > n) violations.push(`${startedHolders} started tasks hold a slot, cap ${n}`);
    // … and as the tasks themselves see it.
    const holding = liveTasks().filter((t) => {
      const c = t.getSnapshot().context;
      return c.slotHeld && !known.get(c.taskId)?.resumedHolding;
    }).length;
    if (holding > n) violations.push(`${holding} started tasks say they hold a slot, cap ${n}`);
  };

  const actor = createActor(machine, { input: { maxConcurrentJobs: n }, inspect });
  holder.actor = actor;
  actor.on('*', (e: SupervisorEmitted) => {
    const ctx = actor.getSnapshot().context;
    switch (e.type) {
      case 'task.waiting': {
        const task = known.get(e.taskId);
        if (task) task.requeued++;
        return;
      }
      case 'task.started': {
        const task = known.get(e.taskId);
        if (!task) return void violations.push(`started unknown task ${e.taskId}`);
        task.started++;
        if (!task.queuedOnce && task.requeued === 0) violations.push(`${e.taskId} started but never queued`);
        if (ctx.slots.size > n) violations.push(`${e.taskId} started with ${ctx.slots.size} slots held, cap ${n}`);
        // Priority order, FIFO within one: nothing still queued should have gone first.
        for (const queued of ctx.queue) {
          const other = known.get(queued.taskId);
          if (!other) continue;
          // A task queued again joins the queue when its back-off passes (not seen here): FIFO is not checked for it.
          const fifoKnown = other.requeued === 0 && task.requeued === 0;
          if (other.priority > task.priority || (fifoKnown && other.priority === task.priority && other.seq < task.seq))
            violations.push(
              `${e.taskId} (priority ${task.priority}) started before ${queued.taskId} (${other.priority})`,
            );
        }
        return;
      }
      case 'task.finished':
        known.get(e.taskId)?.finished.push({ outcome: e.record.outcome });
        return;
      case 'task.rejected':
        rejected.push(e.taskId);
        return;
      case 'task.crashed':
        violations.push(`${e.taskId} crashed: ${String(e.error)}`);
        return;
      case 'task.effectFailed':
        return;
    }
  });
  actor.subscribe({ error: (err) => violations.push(`supervisor failed: ${String(err)}`) });
  actor.start();

  const liveTask = (id: string): TaskRef | undefined => actor.system.get(taskSystemId(id)) as TaskRef | undefined;
  const inSupervisor = (id: string): boolean => actor.getSnapshot().context.queue.has(id) || !!liveTask(id);

  const accept = (input: TaskMachineInput, prio: number, resumed: boolean): void => {
    const queued = !resumed || !input.resume || input.resume.state === 'queued';
    known.set(input.taskId, {
      input,
      watch: watchTask(input),
      queuedOnce: queued,
      resumedHolding: resumed && resumeHoldsSlot(input),
      priority: prio,
      seq: queued ? seq++ : -1,
      releases: 0,
      started: 0,
      requeued: 0,
      finished: [],
      mustCancel: false,
      cancelledQueued: false,
    });
  };

  /** Checks that hold between steps, once every effect's answer has been taken in. */
  const checkQuiet = (where: string): void => {
    const ctx = actor.getSnapshot().context;
    const live = liveTasks().map((t) => t.getSnapshot());
    const holdingByTasks = live
      .filter((s) => s.context.slotHeld)
      .map((s) => s.context.taskId)
      .sort();
    const holders = ledgerHolders().sort();
    if (holders.length !== ctx.slots.size) violations.push(`${where}: the ledger holds slots for unknown tasks`);
    if (JSON.stringify(holders) !== JSON.stringify(holdingByTasks))
      violations.push(`${where}: ledger ${holders.join(',')} but tasks holding ${holdingByTasks.join(',')}`);
    if (live.some((s) => s.status !== 'active')) violations.push(`${where}: a finished task actor lingers`);
    // A task is never lost: queued, live or finished, exactly one of them.
    for (const [id, task] of known) {
      const queued = ctx.queue.has(id) || ctx.delayed.has(id);
      // Queued again after a quota wait or a retry, its actor waits in `queued`: one place.
      const actor = liveTask(id);
      const parked = queued && actor?.getSnapshot().value === 'queued';
      const places = [queued, !!actor && !parked, task.finished.length > 0].filter(Boolean).length;
      if (places !== 1) violations.push(`${where}: task ${id} is in ${places} places (queued, live, finished)`);
    }
    if (ctx.queue.size > 0 && ctx.slots.size >= n) seen.waitedForSlot++;
    if (ctx.slots.size > n) seen.overCap++;
    // A slot free while a task waits is never left idle.
    if (ctx.slots.size < n && ctx.queue.size > 0) violations.push(`${where}: ${ctx.queue.size} queued, a slot free`);
  };

  const applyToTask = async (task: TaskRef, raw: TaskStep): Promise<void> => {
    const { taskId } = task.getSnapshot().context;
    const step = raw.kind === 'act' ? actIn(task.getSnapshot().value, raw) : raw;
    switch (step.kind) {
      case 'start':
      case 'act':
        return; // Only the supervisor starts a task.
      case 'cancel':
        return apply({ kind: 'cancel', pick: -1, at: step.at }, taskId);
      case 'alarm':
        task.send({ type: 'ALARM', at: step.at });
        return;
      case 'observe':
        task.send({ type: 'CLUSTER.OBSERVED', observation: buildObservation(step.view, task.getSnapshot().context) });
        return;
      case 'settle':
        effects.settle(step.effect, step.pick, step.answer, taskId);
        return;
      case 'fail':
        effects.fail(step.effect, step.pick, taskId);
        return;
    }
  };

  async function apply(step: SupervisorStep, cancelId?: string): Promise<void> {
    switch (step.kind) {
      case 'enqueue': {
        const input = buildInput(`t${nextId++}`, { ...step.parts, resume: undefined });
        accept(input, step.priority, false);
        actor.send({ type: 'ENQUEUE', tasks: [{ task: input, priority: step.priority }] });
        return;
      }
      case 'resume': {
        const input = buildInput(`r${nextId++}`, step.parts);
        accept(input, step.priority ?? input.spec.priority ?? 0, true);
        actor.send({
          type: 'RESUME',
          task: input,
          ...(step.priority === undefined ? {} : { priority: step.priority }),
        });
        return;
      }
      case 'duplicate': {
        const candidates = [...known.keys()].filter(inSupervisor);
        const id = candidates[step.pick % Math.max(1, candidates.length)];
        const task = id === undefined ? undefined : known.get(id);
        if (!task) return;
        const before = rejected.length;
        if (step.resume) actor.send({ type: 'RESUME', task: task.input });
        else actor.send({ type: 'ENQUEUE', tasks: [{ task: task.input, priority: task.priority }] });
        if (rejected.length !== before + 1 || rejected.at(-1) !== task.input.taskId)
          violations.push(`duplicate ${task.input.taskId} was not rejected`);
        return;
      }
      case 'cancel': {
        const ids = [...known.keys(), 'ghost'];
        const id = cancelId ?? ids[step.pick % ids.length] ?? 'ghost';
        const task = known.get(id);
        if (task && actor.getSnapshot().context.queue.has(id)) {
          task.mustCancel = true;
          task.cancelledQueued = true;
        }
        const live = liveTask(id)?.getSnapshot();
        if (task && live?.status === 'active' && live.context.outcome === undefined) task.mustCancel = true;
        actor.send({ type: 'CANCEL', taskId: id, at: step.at });
        return;
      }
      case 'task': {
        const live = activeTasks();
        const task = live[step.pick % Math.max(1, live.length)];
        if (task) await applyToTask(task, step.step);
        return;
      }
    }
  }

  for (const [i, step] of steps.entries()) {
    await apply(step);
    // Effects answer on promise callbacks; everything else is taken synchronously.
    if (step.kind === 'task') await settleDown();
    checkQuiet(`after step ${i} (${step.kind})`);
  }

  // Drain: every Job completes and every effect succeeds, until nothing is queued or live.
  for (let round = 0; round < 200; round++) {
    const live = activeTasks();
    const waiting = actor.getSnapshot().context.delayed.size;
    if (live.length === 0 && actor.getSnapshot().context.queue.size === 0 && waiting === 0) break;
    // Back-offs pass: tasks queued again may start.
    if (waiting > 0) actor.send({ type: 'WAKE', at: T0 + 365 * 86_400_000 });
    for (const task of live) {
      const { value, context: c } = task.getSnapshot();
      if (value === 'running') task.send({ type: 'CLUSTER.OBSERVED', observation: buildObservation(completed, c) });
      else effects.settle(undefined, 0, 0, c.taskId);
    }
    await settleDown();
    checkQuiet(`drain round ${round}`);
  }

  const ctx = actor.getSnapshot().context;
  seen.runs++;
  seen.tasks += known.size;
  seen.started += [...known.values()].filter((t) => t.started > 0).length;
  seen.cancelledQueued += [...known.values()].filter((t) => t.cancelledQueued).length;
  seen.cancelledLive += [...known.values()].filter((t) => t.mustCancel && !t.cancelledQueued).length;
  seen.rejected += rejected.length;
  seen.resumedHolding += [...known.values()].filter((t) => t.resumedHolding).length;
  if (ctx.queue.size > 0 || ctx.delayed.size > 0 || liveTasks().length > 0)
    violations.push('the drain did not finish every task');
  if (ctx.slots.size !== 0) violations.push(`${ctx.slots.size} slots still held at the end`);
  for (const [id, task] of known) {
    if (task.finished.length !== 1) violations.push(`${id} finished ${task.finished.length} times`);
    const starts = (task.queuedOnce && !task.cancelledQueued ? 1 : 0) + task.requeued;
    // A CANCEL while it waited to start again takes one start away.
    const cancelledWaiting = task.mustCancel && task.requeued > 0 && task.started === starts - 1;
    if (task.started !== starts && !(task.cancelledQueued && task.started === task.requeued) && !cancelledWaiting)
      violations.push(`${id} started ${task.started} times, expected ${starts}`);
    if (task.mustCancel && task.finished[0]?.outcome !== 'cancelled')
      violations.push(`${id} was cancelled but ended ${String(task.finished[0]?.outcome)}`);
    if (task.releases !== task.watch.expectedReleases())
      violations.push(`${id} released its slot ${task.releases} times, expected ${task.watch.expectedReleases()}`);
    violations.push(...task.watch.violations);
  }
  actor.stop();
  ctx.children.stopAll();
  return violations;
}

/** The property: a cap and a generated interleaving, with no violation. */
const interleavings = (supervisor?: typeof supervisorMachine, task?: typeof taskMachine) =>
  fc.asyncProperty(
    fc.integer({ min: 1, max: 3 }),
    fc.array(supervisorStep, { maxLength: 40, size: 'medium' }),
    async (n, steps) => {
      const violations = await runSupervisor(n, steps, supervisor, task);
      if (violations.length > 0) throw new Error(`invariants broken:\n${violations.join('\n')}`);
    },
  );

/** Broken variants (an action replaced with `.provide`): the model must catch each. */
const mutants: [string, typeof supervisorMachine, typeof taskMachine][] = [
  [
    'a released slot never freed',
    supervisorMachine.provide({ actions: { releaseSlot: enqueueActions(() => {}) as never } }),
    taskMachine,
  ],
  [
    'a CANCEL dropped',
    supervisorMachine.provide({ actions: { cancelTask: enqueueActions(() => {}) as never } }),
    taskMachine,
  ],
  [
    'a finished task never let go',
    supervisorMachine.provide({ actions: { finishTask: enqueueActions(() => {}) as never } }),
    taskMachine,
  ],
  [
    'a task that frees its slot as soon as it has an outcome',
    supervisorMachine,
    taskMachine.provide({
      actions: {
        releaseSlot: enqueueActions(({ context, enqueue }) => {
          if (!context.slotHeld) return;
          enqueue.assign({ slotHeld: false });
          enqueue.sendParent({ type: 'TASK.SLOT_RELEASED', taskId: context.taskId, at: context.lastEventAt });
        }) as never,
      },
    }),
  ],
];

describe('supervisor, model-based: generated interleavings checked against invariants', () => {
  test('slots, queue and every task hold their invariants after every step; every task finishes once', async () => {
    await fc.assert(interleavings(), { numRuns: numRuns(200) });
    if (process.env.MODEL_COVERAGE) console.log(seen);
  });

  test.each(mutants)('the model catches a broken supervisor: %s', async (_, supervisor, task) => {
    const result = await fc.check(interleavings(supervisor, task), { numRuns: numRuns(200), endOnFailure: true });
    if (process.env.MODEL_COVERAGE) console.log(String(result.errorInstance).slice(0, 400));
    expect(result.failed).toBe(true);
  });
});
