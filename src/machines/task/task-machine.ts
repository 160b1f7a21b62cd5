import {
  assertEvent,
  assign,
  enqueueActions,
  fromCallback,
  fromPromise,
  setup,
  type DoneActorEvent,
  type EventObject,
} from 'xstate';
import { messageOf } from '../../errors.js';
import { taskStates, type TaskOutcome, type TaskRecord, type TaskState } from '../../types.js';
import { classify, type Verdict } from './classify.js';
import type {
  AlarmCommand,
  AlarmInput,
  ClusterObservation,
  CreateJobInput,
  CreateJobOutput,
  DeleteJobInput,
  DeleteJobOutput,
  HarvestLogsInput,
  HarvestLogsOutput,
  ObserveJobInput,
  SnapshotLogsInput,
  TaskContext,
  TaskEvent,
  TaskMachineInput,
  TaskToParentEvent,
} from './contract.js';
import { dueVerdict, earliestDeadline } from './deadlines.js';
import { apiFailure, cancelledFailure, createFailure } from './failures.js';
import { recordFromContext } from './record.js';
import { initialTaskContext } from './restore.js';
import { createQuotaRefusal, podQuotaRefusal } from './quota.js';
import { newDisruptions, newJobRetry, policyOf, retryForFailure, withRetry } from './retries.js';
import { attemptJobName } from '../../jobs/job-name.js';

/** The context while the machine runs: the task's context plus the state a restored task resumes into. */
type MachineContext = TaskContext & { resumeTo?: TaskState };

const notProvided = (name: string): Error =>
  new Error(`task machine: actor "${name}" was not provided; use taskMachine.provide({ actors: { ${name} } })`);

/** The states a restored task can be routed into from `queued` (the initial state): every other one. */
const resumable = taskStates.filter((state): state is Exclude<TaskState, 'queued'> => state !== 'queued');

const iso = (ms: number): string => new Date(ms).toISOString();

const verdictFields = (v: Verdict): Partial<TaskContext> => ({
  outcome: v.outcome,
  failure: v.failure,
  jobFinished: v.jobFinished,
  ...(v.jobMayExist === false ? { jobMayExist: false } : {}),
});

const harvestLogs = {
  id: 'harvestLogs',
  src: 'harvestLogs',
  input: ({ context }: { context: MachineContext }): HarvestLogsInput => ({
    taskId: context.taskId,
    jobName: context.jobName,
    ...(context.finishedAt ? { finishedAt: context.finishedAt } : {}),
    ...(context.outcome === 'failed' || context.outcome === 'timedOut' ? { failed: true } : {}),
  }),
  // The effect retried the read (the Job kept) until its limit: lost logs are marked on the
  // record, never on the outcome.
  onDone: {
    target: 'deleting',
    actions: [
      {
        type: 'keepLastLogLines',
        params: ({ event }: { event: DoneActorEvent<HarvestLogsOutput> }) => ({
          lines: event.output.lastLines,
          events: event.output.events,
        }),
      },
      {
        type: 'markLogsLost',
        params: ({ event }: { event: DoneActorEvent<HarvestLogsOutput> }) => ({ reason: event.output.lost?.reason }),
      },
    ],
  },
  onError: {
    target: 'deleting',
    actions: [
      { type: 'reportEffectFailure', params: { effect: 'harvestLogs' } },
      {
        type: 'markLogsLost',
        params: ({ event }: { event: { error: unknown } }) => ({ reason: messageOf(event.error) }),
      },
    ],
  },
} as const;

/**
 * What one observation means for retries: disrupted pods the Job replaced (counted, and the task
 * failed once they pass `retry.disruptions`), pods refused for quota (the task waits for room, or
 * fails when it can never fit), and a failure that is retried with a new Job (`pendingRetry`).
 */
function retriesOf(
  context: MachineContext,
  observation: ClusterObservation,
  next: Pick<TaskContext, 'pendingUntil' | 'lastEvents'>,
  verdict: Verdict | undefined,
  at: number,
): { fields: Partial<TaskContext>; verdict: Verdict | undefined } {
  let ctx: TaskContext = context;
  const fields: Partial<TaskContext> = {};
  const replaced = newDisruptions(ctx, observation);
  if (replaced.length > 0) {
    for (const retry of replaced) Object.assign(fields, withRetry({ ...ctx, ...fields }, retry));
    fields.disruptedPods = [...(ctx.disruptedPods ?? []), ...replaced.map((r) => r.podName ?? '')];
    ctx = { ...ctx, ...fields };
    const allowed = policyOf(ctx).disruptions;
    if ((ctx.retryCounts?.disruption ?? 0) > allowed && !verdict?.jobFinished) {
      const message = `The Job's pods were disrupted ${ctx.retryCounts?.disruption} times (retry.disruptions allows ${allowed}); last: ${replaced.at(-1)?.message}`;
      const failure = { reason: 'DisruptionLimitExceeded' as const, message, events: next.lastEvents ?? [] };
      return { fields, verdict: { outcome: 'failed', jobFinished: false, failure } };
    }
  }
  if (!verdict) {
    const refusal = podQuotaRefusal(observation, next.lastEvents ?? [], next.pendingUntil);
    if (!refusal) return { fields, verdict };
    if (refusal.neverFits) {
      const message = `The task asks for more than the namespace's ResourceQuota allows at all: ${refusal.message}`;
      const failure = { reason: 'QuotaExceeded' as const, message, events: next.lastEvents ?? [] };
      return { fields, verdict: { outcome: 'failed', jobFinished: false, failure } };
    }
    const retry = newJobRetry(ctx, 'quota', refusal.message, at);
    return { fields: { ...fields, ...withRetry(ctx, retry), pendingRetry: retry }, verdict };
  }
  if (verdict.outcome !== 'failed') return { fields, verdict };
  const retry = retryForFailure(ctx, verdict.failure, observation.pods, at);
  if (!retry) return { fields, verdict };
  return { fields: { ...fields, ...withRetry(ctx, retry), pendingRetry: retry }, verdict };
}

/** The `deleteJob` effect's input: this attempt's Job, by uid when known (never a successor's). */
const deleteJobInput = ({ context }: { context: MachineContext }): DeleteJobInput => ({
  taskId: context.taskId,
  jobName: context.jobName,
  ...(context.jobUid ? { jobUid: context.jobUid } : {}),
});

const outcomeState = (outcome: TaskOutcome) =>
  ({
    entry: [
      { type: 'enterOutcome', params: { outcome } },
      { type: 'releaseSlot', params: { onlyIfJobFinished: true } },
    ],
    // No Job was ever created (or it is not ours): nothing to harvest or delete.
    always: { guard: 'noJobToClean', target: 'deleted' },
    // The invoke starts after the macrostep, so the eventless transition above leaves before it runs.
    invoke: harvestLogs,
  }) as const;

/**
 * One task's lifecycle: `queued → creating → running → succeeded | failed | timedOut | cancelled
 * → deleting → deleted`, with the outcome and its reason kept after cleanup.
 *
 * Pure: every side effect is an invoked actor the runner supplies with
 * `taskMachine.provide({ actors: { createJob, observeJob, alarm, snapshotLogs, harvestLogs, deleteJob } })`
 * (the defaults here throw), and time comes only from event payloads. Deadlines are absolute epoch
 * ms in context, waited for by the `alarm` actor, so a restored task resumes them.
 *
 * A task restored from its record (`input.resume`) starts in `queued` and is routed at once into
 * its state, re-running that state's effect: `creating` re-creates (adopting its Job),
 * `running` re-attaches the watch and re-arms the alarm, an outcome state re-harvests the logs
 * (its retry limit still counted from `finishedAt`), `deleting` deletes again. Every effect is
 * idempotent, so running one twice is safe.
 *
 * An outcome state stays until the final logs are read: the `harvestLogs` effect retries a failed
 * read with back-off, keeping the Job, up to its limit; then `context.logs` records them lost and
 * cleanup goes on. The outcome never changes because of the logs.
 *
 * A passed deadline fails a task only on a fresh view (`observation.fresh`: the alarm's read of
 * the API server); a watch view past a deadline re-arms the alarm at it, which reads at once.
 *
 * A `running` task whose Job vanished (`job: null`) goes back to `creating` while
 * `config.jobVanishedRetries` allows (counted in `context.recreates`, kept across restarts; the
 * slot stays held), else it ends `failed` with `JobVanished`.
 *
 * The parent (the supervisor) receives `TASK.SLOT_RELEASED` exactly once per task that held a
 * slot: when its Job finished in the cluster, else when the task is `deleted`.
 */
export const taskMachine = setup({
  types: {
    context: {} as MachineContext,
    input: {} as TaskMachineInput,
    events: {} as TaskEvent,
    output: {} as TaskRecord,
  },
  actors: {
    createJob: fromPromise<CreateJobOutput, CreateJobInput>(() => Promise.reject(notProvided('createJob'))),
    observeJob: fromCallback<EventObject, ObserveJobInput>(() => {
      throw notProvided('observeJob');
    }),
    alarm: fromCallback<AlarmCommand, AlarmInput>(() => {
      throw notProvided('alarm');
    }),
    snapshotLogs: fromCallback<EventObject, SnapshotLogsInput>(() => {
      throw notProvided('snapshotLogs');
    }),
    harvestLogs: fromPromise<HarvestLogsOutput, HarvestLogsInput>(() => Promise.reject(notProvided('harvestLogs'))),
    deleteJob: fromPromise<DeleteJobOutput, DeleteJobInput>(() => Promise.reject(notProvided('deleteJob'))),
  },
  guards: {
    resumesInto: ({ context }, params: { state: TaskState }) => context.resumeTo === params.state,
    cancelRequested: ({ context }) => context.cancelRequested,
    decided: ({ context }, params: { outcome: TaskOutcome }) => context.outcome === params.outcome,
    noJobToClean: ({ context }) => !context.jobMayExist,
    keepJobs: ({ context }) => context.config.keepJobs,
    retryPending: ({ context }) => context.pendingRetry !== undefined,
    quotaWait: (_, params: { error: unknown }) => {
      const refusal = createQuotaRefusal(params.error);
      return refusal !== undefined && !refusal.neverFits;
    },
    mayRecreate: ({ context, event }) => {
      assertEvent(event, 'CLUSTER.OBSERVED');
      return event.observation.job === null && (context.recreates ?? 0) < (context.config.jobVanishedRetries ?? 0);
    },
  },
  actions: {
    clearResume: assign({ resumeTo: undefined }),
    noteTime: assign({
      lastEventAt: ({ context, event }) => {
        assertEvent(event, ['START', 'CANCEL', 'ALARM']);
        return Math.max(context.lastEventAt, event.at);
      },
    }),
    holdSlot: assign({ slotHeld: true, jobMayExist: true }),
    clearWaiting: assign({ waitingFor: undefined, notBefore: undefined }),
    // The create was refused for quota: nothing was made; wait for room (the same attempt, again).
    recordQuotaWait: assign(({ context }, params: { error: unknown }) => {
      const message = createQuotaRefusal(params.error)?.message ?? messageOf(params.error);
      const retry = newJobRetry(context, 'quota', message, context.lastEventAt);
      return { ...withRetry(context, retry), pendingRetry: retry, jobMayExist: false };
    }),
    // The Job is gone: reset what belonged to it, and say when and why the task may start again.
    prepareNextAttempt: assign(({ context }) => {
      const retry = context.pendingRetry;
      const attempt = (context.attempt ?? 1) + (retry && retry.reason !== 'quota' ? 1 : 0);
      return {
        attempt,
        jobName: attemptJobName(context.taskId, attempt),
        memory: retry?.memory ?? context.memory,
        waitingFor: retry?.reason === 'quota' ? ('quota' as const) : undefined,
        notBefore: context.lastEventAt + (retry?.backoffMs ?? 0),
        pendingRetry: undefined,
        jobUid: undefined,
        jobMayExist: false,
        jobFinished: false,
        startedAt: undefined,
        timeoutAt: undefined,
        stuckAt: undefined,
        pendingUntil: undefined,
        lastEvents: undefined,
        disruptedPods: undefined,
        outcome: undefined,
        failure: undefined,
      };
    }),
    requeue: enqueueActions(({ context, enqueue }) => {
      const { taskId, spec, jobName, fingerprint, createdAt, config } = context;
      enqueue.sendParent({
        type: 'TASK.REQUEUED',
        task: { taskId, spec, jobName, fingerprint, createdAt, config },
        notBefore: context.notBefore ?? context.lastEventAt,
        ...(context.waitingFor ? { waitingFor: context.waitingFor } : {}),
        at: context.lastEventAt,
      } satisfies TaskToParentEvent);
    }),
    requestCancel: assign({ cancelRequested: true }),
    markCancelled: assign({ failure: () => cancelledFailure() }),
    // The vanished Job's identity and deadlines belong to it, not to the Job about to be created.
    prepareRecreate: assign(({ context, event }) => {
      assertEvent(event, 'CLUSTER.OBSERVED');
      return {
        recreates: (context.recreates ?? 0) + 1,
        lastEventAt: Math.max(context.lastEventAt, event.observation.at),
        jobUid: undefined,
        startedAt: undefined,
        timeoutAt: undefined,
        stuckAt: undefined,
        pendingUntil: undefined,
        lastEvents: undefined,
      };
    }),
    recordJobUid: assign({ jobUid: (_, params: { uid: string }) => params.uid }),
    recordCreateFailure: assign((_, params: { error: unknown }) => {
      const { failure, jobMayExist } = createFailure(params.error);
      return { outcome: 'failed' as const, failure, jobMayExist };
    }),
    recordCancelAfterFailedCreate: assign((_, params: { error: unknown }) => {
      const { failure, jobMayExist } = createFailure(params.error);
      return {
        failure: {
          ...cancelledFailure(),
          message: `Task was cancelled; the Job's create had failed: ${failure.message}`,
        },
        jobMayExist,
      };
    }),
    recordEffectFailure: assign({
      outcome: 'failed' as const,
      failure: (_, params: { error: unknown }) => apiFailure(params.error),
    }),
    applyObservation: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'CLUSTER.OBSERVED');
      const { verdict: found, ...next } = classify(context, event.observation);
      // The watch's view may be stale (a blind watch): a passed deadline is decided only on a fresh
      // read, which the alarm armed at that (past) deadline makes at once.
      const stale = found?.byDeadline === true && event.observation.fresh !== true;
      const verdict = stale ? undefined : found;
      const at = Math.max(context.lastEventAt, event.observation.at);
      const retried = retriesOf(context, event.observation, next, verdict, at);
      const decided = retried.verdict;
      enqueue.assign({
        ...next,
        lastEventAt: at,
        ...retried.fields,
        ...(decided && !retried.fields.pendingRetry ? verdictFields(decided) : {}),
      });
      const armAt = earliestDeadline(next);
      if (stale || (!decided && armAt !== earliestDeadline(context)))
        enqueue.sendTo('alarm', { type: 'ARM', at: armAt } satisfies AlarmCommand);
    }),
    applyAlarm: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'ALARM');
      const due = dueVerdict(context, event.at);
      const retry = due && retryForFailure(context, due.failure, [], event.at);
      if (retry) {
        enqueue.assign({ ...withRetry(context, retry), pendingRetry: retry });
      } else if (due) {
        enqueue.assign({ outcome: due.outcome, failure: due.failure });
      } else {
        // Early or stale (a later deadline replaced it): wait for the earliest one again.
        enqueue.sendTo('alarm', { type: 'ARM', at: earliestDeadline(context) } satisfies AlarmCommand);
      }
    }),
    enterOutcome: assign(({ context }, params: { outcome: TaskOutcome }) => ({
      outcome: params.outcome,
      // Kept when restored into this state: the task finished before the restart.
      finishedAt: context.finishedAt ?? iso(context.lastEventAt),
    })),
    releaseSlot: enqueueActions(({ context, enqueue }, params: { onlyIfJobFinished: boolean }) => {
      if (!context.slotHeld || (params.onlyIfJobFinished && !context.jobFinished)) return;
      enqueue.assign({ slotHeld: false });
      enqueue.sendParent({
        type: 'TASK.SLOT_RELEASED',
        taskId: context.taskId,
        at: context.lastEventAt,
      } satisfies TaskToParentEvent);
    }),
    keepLastLogLines: assign({
      failure: ({ context }, params: { lines: string[]; events: string[] | undefined }) =>
        context.failure
          ? { ...context.failure, lastLogLines: params.lines, ...(params.events ? { events: params.events } : {}) }
          : undefined,
    }),
    markLogsLost: assign({
      logs: ({ context }, params: { reason: string | undefined }) =>
        params.reason === undefined ? context.logs : { lost: true as const, reason: params.reason },
    }),
    reportEffectFailure: enqueueActions(
      ({ context, event, enqueue }, params: { effect: 'snapshotLogs' | 'harvestLogs' }) => {
        const error = 'error' in event ? event.error : event;
        enqueue.sendParent({
          type: 'TASK.EFFECT_FAILED',
          taskId: context.taskId,
          effect: params.effect,
          error,
        } satisfies TaskToParentEvent);
      },
    ),
    noteDeleted: assign({
      lastEventAt: ({ context }, params: { at: number | undefined }) =>
        Math.max(context.lastEventAt, params.at ?? context.lastEventAt),
    }),
    recordCleanupError: assign({ cleanupError: (_, params: { error: unknown }) => messageOf(params.error) }),
    stampDeleted: assign({ deletedAt: ({ context }) => context.deletedAt ?? iso(context.lastEventAt) }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => ({
    ...initialTaskContext(input),
    ...(input.resume && input.resume.state !== 'queued' ? { resumeTo: input.resume.state } : {}),
  }),
  initial: 'queued',
  output: ({ context }) => recordFromContext(context, 'deleted'),
  states: {
    queued: {
      // A restored task goes straight back into its state (and re-runs that state's effect).
      always: resumable.map((state) => ({
        guard: { type: 'resumesInto' as const, params: { state } },
        target: state,
        actions: 'clearResume' as const,
      })),
      on: {
        START: { target: 'creating', actions: ['noteTime', 'clearWaiting'] },
        CANCEL: { target: 'cancelled', actions: ['noteTime', 'markCancelled'] },
      },
    },
    creating: {
      entry: 'holdSlot',
      invoke: {
        id: 'createJob',
        src: 'createJob',
        input: ({ context }) => ({
          taskId: context.taskId,
          jobName: context.jobName,
          spec: context.spec,
          fingerprint: context.fingerprint,
          ...(context.memory !== undefined ? { memory: context.memory } : {}),
          ...(policyOf(context).disruptions > 0 ? { ignoreDisruptions: true } : {}),
        }),
        onDone: [
          {
            guard: 'cancelRequested',
            target: 'cancelled',
            actions: [{ type: 'recordJobUid', params: ({ event }) => ({ uid: event.output.uid }) }, 'markCancelled'],
          },
          { target: 'running', actions: { type: 'recordJobUid', params: ({ event }) => ({ uid: event.output.uid }) } },
        ],
        onError: [
          {
            guard: 'cancelRequested',
            target: 'cancelled',
            actions: { type: 'recordCancelAfterFailedCreate', params: ({ event }) => ({ error: event.error }) },
          },
          {
            guard: { type: 'quotaWait', params: ({ event }) => ({ error: event.error }) },
            target: 'queued',
            actions: [
              { type: 'recordQuotaWait', params: ({ event }) => ({ error: event.error }) },
              'prepareNextAttempt',
              { type: 'releaseSlot', params: { onlyIfJobFinished: false } },
              'requeue',
            ],
          },
          {
            target: 'failed',
            actions: { type: 'recordCreateFailure', params: ({ event }) => ({ error: event.error }) },
          },
        ],
      },
      // The create may already have reached the API: wait for its answer, then clean up.
      on: { CANCEL: { actions: ['noteTime', 'requestCancel'] } },
    },
    running: {
      invoke: [
        {
          id: 'observeJob',
          src: 'observeJob',
          input: ({ context }) => ({ taskId: context.taskId, jobName: context.jobName }),
          onError: {
            target: 'failed',
            actions: { type: 'recordEffectFailure', params: ({ event }) => ({ error: event.error }) },
          },
        },
        {
          id: 'alarm',
          src: 'alarm',
          // The alarm reads the Job fresh before it fires: deadlines are decided on the API server's view.
          input: ({ context }) => ({ at: earliestDeadline(context), taskId: context.taskId, jobName: context.jobName }),
          onError: {
            target: 'failed',
            actions: { type: 'recordEffectFailure', params: ({ event }) => ({ error: event.error }) },
          },
        },
        {
          id: 'snapshotLogs',
          src: 'snapshotLogs',
          input: ({ context }) => ({ taskId: context.taskId, jobName: context.jobName }),
          // Periodic snapshots are a convenience: losing them must not fail the task.
          onError: { actions: { type: 'reportEffectFailure', params: { effect: 'snapshotLogs' } } },
        },
      ],
      always: [
        { guard: 'retryPending', target: 'retrying' },
        { guard: { type: 'decided', params: { outcome: 'succeeded' } }, target: 'succeeded' },
        { guard: { type: 'decided', params: { outcome: 'failed' } }, target: 'failed' },
        { guard: { type: 'decided', params: { outcome: 'timedOut' } }, target: 'timedOut' },
      ],
      on: {
        // A vanished Job is re-created while `config.jobVanishedRetries` allows (else JobVanished).
        'CLUSTER.OBSERVED': [
          { guard: 'mayRecreate', target: 'creating', actions: 'prepareRecreate' },
          { actions: 'applyObservation' },
        ],
        ALARM: { actions: ['noteTime', 'applyAlarm'] },
        CANCEL: { target: 'cancelled', actions: ['noteTime', 'markCancelled'] },
      },
    },
    // A retry (or a quota wait) decided while running: delete this attempt's Job (and wait until it
    // is gone, so nothing of it runs outside a slot), then queue the task again.
    retrying: {
      invoke: {
        id: 'deleteJob',
        src: 'deleteJob',
        input: deleteJobInput,
        onDone: {
          target: 'queued',
          actions: [
            { type: 'noteDeleted', params: ({ event }) => ({ at: event.output?.at }) },
            'prepareNextAttempt',
            { type: 'releaseSlot', params: { onlyIfJobFinished: false } },
            'requeue',
          ],
        },
        // The Job may still be there: never start another beside it. Cleanup tries the delete again.
        onError: {
          target: 'failed',
          actions: { type: 'recordEffectFailure', params: ({ event }) => ({ error: event.error }) },
        },
      },
      on: { CANCEL: { target: 'cancelled', actions: ['noteTime', 'markCancelled'] } },
    },
    // From here on CANCEL is ignored: the task is already ending.
    succeeded: outcomeState('succeeded'),
    failed: outcomeState('failed'),
    timedOut: outcomeState('timedOut'),
    cancelled: outcomeState('cancelled'),
    deleting: {
      always: { guard: 'keepJobs', target: 'deleted' },
      invoke: {
        id: 'deleteJob',
        src: 'deleteJob',
        input: deleteJobInput,
        onDone: {
          target: 'deleted',
          actions: { type: 'noteDeleted', params: ({ event }) => ({ at: event.output?.at }) },
        },
        // The effect already retried what could be retried: record it and finish, never loop.
        onError: {
          target: 'deleted',
          actions: { type: 'recordCleanupError', params: ({ event }) => ({ error: event.error }) },
        },
      },
    },
    deleted: {
      type: 'final',
      entry: ['stampDeleted', { type: 'releaseSlot', params: { onlyIfJobFinished: false } }],
    },
  },
});
