import { fromCallback, fromPromise, type AnyActorRef, type EventObject } from 'xstate';
import { JobConflictError, KubernetesApiError } from '../../src/errors.js';
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
} from '../../src/machines/task/contract.js';
import { T0 } from './fixtures.js';
import { deferred, type Deferred } from './harness.js';

/** The task machine's effects that answer once (a promise), and those that live with their state (a callback). */
export const promiseEffects = ['createJob', 'harvestLogs', 'deleteJob'] as const;
export const callbackEffects = ['observeJob', 'alarm', 'snapshotLogs'] as const;
export type PromiseEffect = (typeof promiseEffects)[number];
export type CallbackEffect = (typeof callbackEffects)[number];

/** How a model settles a promise effect: by index into that effect's {@link answers}. */
export const answerCount = 5;

/** An invoked effect actor still running, that the model may settle (or fail). */
interface Live<E> {
  taskId: string;
  effect: E;
  actor: AnyActorRef;
}
interface LivePromise extends Live<PromiseEffect> {
  answer: Deferred<unknown>;
}

/** The event a model sends a callback effect to make it fail: its receiver throws, as a broken effect would. */
const FAIL = 'model.fail';

const conflict = (input: CreateJobInput) =>
  new JobConflictError('default', input.jobName, input.taskId, input.fingerprint, 'fp-someone-else');
const api = (status: number, reason: string, transient: boolean) =>
  new KubernetesApiError('create', 'jobs/x', status, reason, `${reason} (model)`, transient);

/**
 * Every answer an effect can give, indexed by the model's choice (`0..answerCount-1`): what the
 * real effects resolve or reject with, including each class of error the machine tells apart.
 */
function answers(
  effect: PromiseEffect,
  taskId: string,
  input: unknown,
  uid: string,
): { ok: boolean; value: unknown }[] {
  switch (effect) {
    case 'createJob':
      return [
        { ok: true, value: { uid, adopted: false } satisfies CreateJobOutput },
        { ok: true, value: { uid, adopted: true } satisfies CreateJobOutput },
        { ok: false, value: conflict(input as CreateJobInput) },
        // A ResourceQuota without room: the task waits (queued again), it does not fail.
        {
          ok: false,
          value: new KubernetesApiError(
            'create',
            'jobs/x',
            403,
            'Forbidden',
            'jobs.batch "x" is forbidden: exceeded quota: q, requested: count/jobs.batch=1, ' +
              'used: count/jobs.batch=1, limited: count/jobs.batch=1',
            false,
          ),
        },
        { ok: false, value: api(503, 'ServiceUnavailable', true) },
      ];
    case 'harvestLogs':
      return [
        { ok: true, value: { lastLines: [`last line of ${taskId}`] } satisfies HarvestLogsOutput },
        { ok: true, value: { lastLines: [] } satisfies HarvestLogsOutput },
        { ok: true, value: { lastLines: [], lost: { reason: 'pods/log is forbidden' } } satisfies HarvestLogsOutput },
        { ok: false, value: new Error('store write failed (model)') },
        { ok: false, value: new Error('store closed (model)') },
      ];
    case 'deleteJob':
      return [
        { ok: true, value: undefined satisfies DeleteJobOutput },
        { ok: true, value: { at: T0 + 3_600_000 } satisfies DeleteJobOutput },
        { ok: true, value: { at: T0 } satisfies DeleteJobOutput },
        { ok: false, value: api(500, 'InternalError', true) },
        { ok: false, value: new Error('delete failed (model)') },
      ];
  }
}

/**
 * The six effects of the task machine as stubs the model drives: every invoked effect waits
 * until the model settles it (with any answer a real effect can give) or fails it, so the order
 * of effects and cluster events is the model's choice. Provided with `.provide`, as the runner
 * provides the real ones.
 */
export function controlledEffects() {
  let promises: LivePromise[] = [];
  let callbacks: Live<CallbackEffect>[] = [];
  const creates = new Map<string, number>();

  const promise = <O, I extends { taskId: string }>(effect: PromiseEffect) =>
    fromPromise<O, I>(({ input, self }) => {
      const answer = deferred<unknown>();
      promises.push({ taskId: input.taskId, effect, actor: self, answer });
      return answer.promise as Promise<O>;
    });
  const callback = <I>(effect: CallbackEffect, taskIdOf: (input: I) => string | undefined) =>
    fromCallback<EventObject, I>(({ input, self, receive }) => {
      callbacks.push({ taskId: taskIdOf(input) ?? '?', effect, actor: self });
      receive((event) => {
        if (event.type === FAIL) throw new Error(`${effect} broke (model)`);
      });
    });

  const actors = {
    createJob: promise<CreateJobOutput, CreateJobInput>('createJob'),
    harvestLogs: promise<HarvestLogsOutput, HarvestLogsInput>('harvestLogs'),
    deleteJob: promise<DeleteJobOutput, DeleteJobInput>('deleteJob'),
    observeJob: callback<ObserveJobInput>('observeJob', (input) => input.taskId),
    alarm: fromCallback<AlarmCommand, AlarmInput>(({ input, self, receive }) => {
      callbacks.push({ taskId: input.taskId ?? '?', effect: 'alarm', actor: self });
      receive((event) => {
        if ((event as EventObject).type === FAIL) throw new Error('alarm broke (model)');
      });
    }),
    snapshotLogs: callback<SnapshotLogsInput>('snapshotLogs', (input) => input.taskId),
  };

  const active = (actor: AnyActorRef): boolean => actor.getSnapshot().status === 'active';
  /** The effects still running (a stopped one — its state was left — can no longer answer). */
  const livePromises = (effect: PromiseEffect, taskId?: string): LivePromise[] => {
    promises = promises.filter((p) => active(p.actor));
    return promises.filter((p) => p.effect === effect && (taskId === undefined || p.taskId === taskId));
  };
  const liveCallbacks = (effect: CallbackEffect, taskId?: string): Live<CallbackEffect>[] => {
    callbacks = callbacks.filter((c) => active(c.actor));
    return callbacks.filter((c) => c.effect === effect && (taskId === undefined || c.taskId === taskId));
  };

  return {
    actors,
    livePromises,
    liveCallbacks,
    /**
     * Settles the `pick`-th running `effect` (any effect when absent; of `taskId`, or of any task)
     * with answer `answer`; false if none runs.
     */
    settle(effect: PromiseEffect | undefined, pick: number, answer: number, taskId?: string): boolean {
      const live = effect ? livePromises(effect, taskId) : promiseEffects.flatMap((e) => livePromises(e, taskId));
      const target = live[pick % Math.max(1, live.length)];
      if (!target) return false;
      const n = (creates.get(target.taskId) ?? 0) + (target.effect === 'createJob' ? 1 : 0);
      creates.set(target.taskId, n);
      const input = (target.actor.getSnapshot() as { input?: unknown }).input;
      const chosen = answers(target.effect, target.taskId, input, `uid-${target.taskId}-${n}`)[answer % answerCount];
      if (!chosen) return false;
      if (chosen.ok) target.answer.resolve(chosen.value);
      else target.answer.reject(chosen.value);
      return true;
    },
    /** Makes the `pick`-th running callback `effect` fail; false if none runs. */
    fail(effect: CallbackEffect, pick: number, taskId?: string): boolean {
      const live = liveCallbacks(effect, taskId);
      const target = live[pick % Math.max(1, live.length)];
      if (!target) return false;
      target.actor.send({ type: FAIL });
      return true;
    },
  };
}

export type ControlledEffects = ReturnType<typeof controlledEffects>;

/** Lets settled promises reach the machines (effects answer on microtasks). */
export const settleDown = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
