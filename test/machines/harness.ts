import {
  createActor,
  fromCallback,
  fromPromise,
  fromTransition,
  waitFor,
  type AnyEventObject,
  type EventObject,
  type SnapshotFrom,
} from 'xstate';
import type {
  AlarmCommand,
  AlarmInput,
  CreateJobInput,
  CreateJobOutput,
  DeleteJobInput,
  DeleteJobOutput,
  HarvestLogsInput,
  HarvestLogsOutput,
  ObserveJobInput,
  SnapshotLogsInput,
  TaskMachineInput,
} from '../../src/machines/task/contract.js';
import { taskMachine } from '../../src/machines/task/task-machine.js';
import type { TaskState } from '../../src/types.js';

/** A promise the test settles when it wants to (an effect "in flight"). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What the stub effects saw, per task id. */
export interface EffectLog {
  created: CreateJobInput[];
  observing: ObserveJobInput[];
  observeStops: number;
  alarmInputs: AlarmInput[];
  arms: AlarmCommand[];
  snapshotting: SnapshotLogsInput[];
  harvested: HarvestLogsInput[];
  deleted: DeleteJobInput[];
}

/** How the stubs answer; each defaults to instant success. */
export interface StubBehaviour {
  create?: (input: CreateJobInput) => Promise<CreateJobOutput>;
  harvest?: (input: HarvestLogsInput) => Promise<HarvestLogsOutput>;
  delete?: (input: DeleteJobInput) => Promise<DeleteJobOutput>;
  /** Throw from the watch callback (an effect that breaks). */
  observeThrows?: Error;
  snapshotThrows?: Error;
}

export const emptyLog = (): EffectLog => ({
  created: [],
  observing: [],
  observeStops: 0,
  alarmInputs: [],
  arms: [],
  snapshotting: [],
  harvested: [],
  deleted: [],
});

/** Stub effects (injected with `.provide`, the same way the runner injects the real ones). */
export function stubActors(behaviour: StubBehaviour = {}, logs = new Map<string, EffectLog>()) {
  /** Every effect call across tasks, in call order: `create:t1`, `harvest:t1`, `delete:t1`. */
  const timeline: string[] = [];
  const logOf = (taskId: string): EffectLog => {
    let log = logs.get(taskId);
    if (!log) logs.set(taskId, (log = emptyLog()));
    return log;
  };
  const actors = {
    createJob: fromPromise<CreateJobOutput, CreateJobInput>(({ input }) => {
      logOf(input.taskId).created.push(input);
      timeline.push(`create:${input.taskId}`);
      return behaviour.create
        ? behaviour.create(input)
        : Promise.resolve({ uid: `uid-${input.taskId}`, adopted: false });
    }),
    observeJob: fromCallback<EventObject, ObserveJobInput>(({ input }) => {
      if (behaviour.observeThrows) throw behaviour.observeThrows;
      const log = logOf(input.taskId);
      log.observing.push(input);
      return () => {
        log.observeStops++;
      };
    }),
    alarm: fromCallback<AlarmCommand, AlarmInput>(({ input, receive, self }) => {
      // The alarm's owner is the task actor; its id is the task id in these tests' inputs.
      const taskId =
        (self._parent?.getSnapshot() as { context?: { taskId?: string } } | undefined)?.context?.taskId ?? '?';
      const log = logOf(taskId);
      log.alarmInputs.push(input);
      receive((command) => log.arms.push(command));
    }),
    snapshotLogs: fromCallback<EventObject, SnapshotLogsInput>(({ input }) => {
      if (behaviour.snapshotThrows) throw behaviour.snapshotThrows;
      logOf(input.taskId).snapshotting.push(input);
    }),
    harvestLogs: fromPromise<HarvestLogsOutput, HarvestLogsInput>(({ input }) => {
      logOf(input.taskId).harvested.push(input);
      timeline.push(`harvest:${input.taskId}`);
      return behaviour.harvest ? behaviour.harvest(input) : Promise.resolve({ lastLines: ['last line'] });
    }),
    deleteJob: fromPromise<DeleteJobOutput, DeleteJobInput>(({ input }) => {
      logOf(input.taskId).deleted.push(input);
      timeline.push(`delete:${input.taskId}`);
      return behaviour.delete ? behaviour.delete(input) : Promise.resolve(undefined);
    }),
  };
  return { actors, logs, logOf, timeline };
}

/** A parent that records every event a task sends it (what the supervisor would receive). */
function recordingParent() {
  return createActor(
    fromTransition((events: AnyEventObject[], event: AnyEventObject) => [...events, event], [] as AnyEventObject[]),
  ).start();
}

/** Starts one task actor with stub effects under a recording parent. */
export function startTask(input: TaskMachineInput, behaviour: StubBehaviour = {}) {
  const stubs = stubActors(behaviour);
  const parent = recordingParent();
  const errors: unknown[] = [];
  const actor = createActor(taskMachine.provide({ actors: stubs.actors }), { input, parent });
  actor.subscribe({ error: (err) => errors.push(err) });
  actor.start();
  const log = stubs.logOf(input.taskId);
  return {
    actor,
    log,
    errors,
    /** Events the task sent its parent, by type. */
    sent: (type?: string) => parent.getSnapshot().context.filter((e) => !type || e.type === type),
    state: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
    /** Resolves once the task is in `state` (effects settle on microtasks). */
    reach: (state: TaskState) =>
      waitFor(actor, (s: SnapshotFrom<typeof taskMachine>) => s.value === state, { timeout: 2000 }),
  };
}
