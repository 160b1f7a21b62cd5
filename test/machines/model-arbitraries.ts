import fc from 'fast-check';
import type {
  ClusterObservation,
  ConditionView,
  PodView,
  TaskConfig,
  TaskContext,
  TaskMachineInput,
} from '../../src/machines/task/contract.js';
import type { TaskFailure, TaskOutcome, TaskSpec, TaskState } from '../../src/types.js';
import { taskStates } from '../../src/types.js';
import { T0, condition, config, container, iso, jobView, podView, sec, taskInput } from './fixtures.js';
import { answerCount, callbackEffects, type CallbackEffect, type PromiseEffect } from './model-effects.js';

/** How many runs a property makes: a few hundred in `npm test`, more with `FC_NUM_RUNS=5000`. */
export function numRuns(fallback: number): number {
  const asked = Number(process.env.FC_NUM_RUNS);
  return Number.isInteger(asked) && asked > 0 ? asked : fallback;
}

/** A time in the task's first ~70 minutes, to the second: around every deadline the configs below set. */
export const at = fc.integer({ min: 0, max: 4200 }).map((s) => T0 + sec(s));

/** What the Job shows: which condition (if any) and whether the Job under our name is ours. */
export const jobConditions = [
  'none',
  'Complete',
  'Failed',
  'DeadlineExceeded',
  'SuccessCriteriaMet',
  'FailureTarget',
] as const;
/** What its pod shows: each stuck reason the machine tells apart, a start, an exit. */
export const podStates = [
  'none',
  'pending',
  'creating',
  'running',
  'imagePull',
  'imageMissing',
  'crashLoop',
  'configError',
  'unschedulable',
  'exited0',
  'exited1',
  'oomKilled',
] as const;

/** An observation, abstractly: built into a `ClusterObservation` for the task it reaches ({@link buildObservation}). */
export interface ViewChoice {
  job: 'ours' | 'other' | 'gone';
  condition: (typeof jobConditions)[number];
  started: boolean;
  pod: (typeof podStates)[number];
  at: number;
  fresh: boolean;
  events: boolean;
}

export const viewChoice: fc.Arbitrary<ViewChoice> = fc.record({
  job: fc.constantFrom<ViewChoice['job']>('ours', 'ours', 'ours', 'ours', 'other', 'gone', 'gone'),
  // Mostly no condition yet: a running task then lives on through more steps.
  condition: fc.oneof(
    { weight: 3, arbitrary: fc.constant('none' as const) },
    { weight: 2, arbitrary: fc.constantFrom(...jobConditions) },
  ),
  started: fc.boolean(),
  pod: fc.constantFrom(...podStates),
  at,
  fresh: fc.boolean(),
  events: fc.boolean(),
});

function conditionOf(choice: ViewChoice['condition']): ConditionView[] {
  switch (choice) {
    case 'none':
      return [];
    case 'Complete':
      return [condition('SuccessCriteriaMet'), condition('Complete')];
    case 'Failed':
      return [condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')];
    case 'DeadlineExceeded':
      return [condition('Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline')];
    case 'SuccessCriteriaMet':
      return [condition('SuccessCriteriaMet')];
    case 'FailureTarget':
      return [condition('FailureTarget', 'BackoffLimitExceeded')];
  }
}

function podOf(choice: ViewChoice['pod'], jobName: string): PodView[] {
  const pod = (more: Partial<PodView>): PodView[] => [podView({ name: `${jobName}-abcde`, ...more })];
  const waitingFor = (reason: string, message?: string): PodView[] =>
    pod({ containers: [container({ waiting: { reason, ...(message ? { message } : {}) } })] });
  const exited = (exitCode: number, reason?: string): PodView[] =>
    pod({
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      containers: [
        container({ terminated: { exitCode, ...(reason ? { reason } : {}), finishedAt: iso(T0 + sec(5)) } }),
      ],
    });
  switch (choice) {
    case 'none':
      return [];
    case 'pending':
      return pod({});
    case 'creating':
      return waitingFor('ContainerCreating');
    case 'running':
      return pod({ phase: 'Running', containers: [container({ running: { startedAt: iso(T0 + sec(1)) } })] });
    case 'imagePull':
      return waitingFor('ImagePullBackOff', 'Back-off pulling image "busybox": toomanyrequests');
    case 'imageMissing':
      return waitingFor('ErrImagePull', 'failed to pull image "nope": manifest unknown: not found');
    case 'crashLoop':
      return pod({
        phase: 'Running',
        containers: [
          container({
            restartCount: 3,
            waiting: { reason: 'CrashLoopBackOff' },
            lastTerminated: { exitCode: 1, reason: 'Error' },
          }),
        ],
      });
    case 'configError':
      return waitingFor('CreateContainerConfigError', 'secret "s" not found');
    case 'unschedulable':
      return pod({ unschedulable: { reason: 'Unschedulable', message: '0/3 nodes are available' } });
    case 'exited0':
      return exited(0);
    case 'exited1':
      return exited(1, 'Error');
    case 'oomKilled':
      return exited(137, 'OOMKilled');
  }
}

/** The observation a choice stands for, for the task `context` describes (its Job's uid is the one it knows). */
export function buildObservation(
  choice: ViewChoice,
  context: Pick<TaskContext, 'taskId' | 'jobName' | 'jobUid'>,
): ClusterObservation {
  const events = choice.events ? ['Warning BackOff: Back-off restarting failed container'] : undefined;
  const base = { at: choice.at, ...(choice.fresh ? { fresh: true } : {}), ...(events ? { events } : {}) };
  if (choice.job === 'gone') return { ...base, job: null, pods: [] };
  const conditions = conditionOf(choice.condition);
  const has = (type: string, reason?: string) =>
    conditions.some((c) => c.type === type && (reason === undefined || c.reason === reason));
  const job = jobView({
    name: context.jobName,
    uid: choice.job === 'ours' ? (context.jobUid ?? `uid-${context.taskId}-1`) : 'uid-someone-else',
    ...(choice.started ? { startTime: iso(T0) } : { startTime: undefined }),
    active: conditions.length === 0 ? 1 : 0,
    succeeded: has('Complete') || has('SuccessCriteriaMet') ? 1 : 0,
    failed: has('Failed') || has('FailureTarget') ? 1 : 0,
    conditions,
  });
  return { ...base, job, pods: podOf(choice.pod, context.jobName) };
}

/** One step of a task's life, as the world can deliver it: an event, or an effect answering or breaking. */
export type TaskStep =
  | { kind: 'start'; at: number }
  | { kind: 'cancel'; at: number }
  | { kind: 'alarm'; at: number }
  | { kind: 'observe'; view: ViewChoice }
  /** The running effect (the `pick`-th, of `effect` if given) answers with its `answer`-th answer. */
  | { kind: 'settle'; effect?: PromiseEffect; answer: number; pick: number }
  | { kind: 'fail'; effect: CallbackEffect; pick: number }
  /** Something the task's current state reacts to, chosen by `choice` (see {@link actIn}): lives go deep. */
  | { kind: 'act'; choice: number; view: ViewChoice; answer: number; at: number };

/**
 * What an `act` step does in `state`: one of the things that state reacts to (an event it
 * handles, its effect answering, one of its callback effects breaking), picked by `choice`.
 * Random steps alone rarely get a task past its first states; these make every transition
 * reachable in a few hundred runs, while the random steps keep sending what a state ignores.
 */
export function actIn(state: TaskState, step: Extract<TaskStep, { kind: 'act' }>): TaskStep {
  const { at: time, view, answer: chosen } = step;
  const settle: TaskStep = { kind: 'settle', answer: chosen, pick: 0 };
  const start: TaskStep = { kind: 'start', at: time };
  const observe: TaskStep = { kind: 'observe', view };
  // Endings (a CANCEL) are rarer than the steps that keep a task going, so lives get deep.
  const options: TaskStep[] =
    state === 'queued'
      ? [start, start, start, start, { kind: 'cancel', at: time }]
      : state === 'creating'
        ? [settle, settle, settle, settle, { kind: 'cancel', at: time }]
        : state === 'running'
          ? [
              observe,
              observe,
              observe,
              observe,
              { kind: 'alarm', at: time },
              { kind: 'alarm', at: time },
              { kind: 'cancel', at: time },
              ...callbackEffects.map((effect): TaskStep => ({ kind: 'fail', effect, pick: 0 })),
            ]
          : [settle];
  return options[step.choice % options.length] ?? settle;
}

const pick = fc.nat({ max: 7 });
/** Half the time the first answer (a success), else any: so lives go on past their first effect. */
export const answer = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.nat({ max: answerCount - 1 }) },
);

export const taskStep: fc.Arbitrary<TaskStep> = fc.oneof(
  {
    weight: 24,
    arbitrary: fc.record({
      kind: fc.constant('act' as const),
      choice: fc.noBias(fc.nat({ max: 59 })),
      view: viewChoice,
      answer,
      at,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('start' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), at }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('alarm' as const), at }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('observe' as const), view: viewChoice }) },
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('settle' as const), answer, pick }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('fail' as const), effect: fc.constantFrom(...callbackEffects), pick }),
  },
);

/** The per-task settings the runner passes: Jobs kept or not, vanished Jobs re-created or not. */
export const taskConfig: fc.Arbitrary<TaskConfig> = fc
  .record({
    keepJobs: fc.boolean(),
    jobVanishedRetries: fc.nat({ max: 2 }),
    unschedulableGraceMs: fc.option(fc.constant(60_000), { nil: undefined }),
  })
  .map(({ keepJobs, jobVanishedRetries, unschedulableGraceMs }) => ({
    ...config,
    stuck: { ...config.stuck, ...(unschedulableGraceMs === undefined ? {} : { unschedulableGraceMs }) },
    keepJobs,
    jobVanishedRetries,
  }));

export const taskSpec: fc.Arbitrary<Partial<TaskSpec>> = fc
  .record({
    timeout: fc.option(fc.constantFrom(30, 600, 1800), { nil: undefined }),
  })
  .map(({ timeout }) => (timeout === undefined ? {} : { timeout }));

const outcomes: TaskOutcome[] = ['succeeded', 'failed', 'timedOut', 'cancelled'];
const failureOf = (outcome: TaskOutcome): TaskFailure | undefined =>
  outcome === 'succeeded'
    ? undefined
    : outcome === 'cancelled'
      ? { reason: 'Cancelled', message: 'Task was cancelled' }
      : outcome === 'timedOut'
        ? { reason: 'Timeout', message: 'Task ran longer than its timeout' }
        : { reason: 'BackoffLimitExceeded', message: 'limit' };

/** The Job uid a stored record knows (observations of "our" Job carry the uid the task knows). */
const storedUid = 'uid-stored';

/** An optional stored flag: present (either value) or absent, as an older store leaves it. */
const flag = fc.option(fc.boolean(), { nil: undefined });

/**
 * A stored record's context for `state`, as boot hands it to `RESUME`: the record's fields (an
 * outcome for the states after one), and the flags a newer store keeps or an older one lacks.
 */
export function storedContext(state: TaskState): fc.Arbitrary<Partial<TaskContext>> {
  const jobUid = fc.option(fc.constant(storedUid), { nil: undefined });
  const after = fc.record({
    outcome: fc.constantFrom(...outcomes),
    jobUid,
    jobFinished: flag,
    slotHeld: flag,
    jobMayExist: flag,
    at,
  });
  const clean = (o: Record<string, unknown>): Partial<TaskContext> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  switch (state) {
    case 'queued':
      return fc.constant({});
    case 'creating':
      return fc
        .record({ cancelRequested: flag, recreates: fc.option(fc.nat({ max: 2 }), { nil: undefined }) })
        .map(clean);
    case 'running':
      return fc
        .record({ jobUid: fc.constant(storedUid), startedAt: fc.option(fc.constant(iso(T0)), { nil: undefined }) })
        .map(clean);
    default: {
      const outcome = (['succeeded', 'failed', 'timedOut', 'cancelled'] as string[]).includes(state)
        ? fc.constant(state as TaskOutcome)
        : fc.constantFrom(...outcomes);
      return fc.tuple(after, outcome).map(([a, o]) =>
        clean({
          outcome: o,
          failure: failureOf(o),
          jobUid: a.jobUid,
          jobFinished: a.jobFinished,
          slotHeld: a.slotHeld,
          jobMayExist: a.jobMayExist,
          finishedAt: iso(a.at),
          lastEventAt: a.at,
          ...(state === 'deleted' ? { deletedAt: iso(a.at) } : {}),
        }),
      );
    }
  }
}

/** A task restored from its record: the state and the stored context. */
export const restoredTask: fc.Arbitrary<{ state: TaskState; context: Partial<TaskContext> }> = fc
  .constantFrom(...taskStates)
  .chain((state) => storedContext(state).map((context) => ({ state, context })));

/** What a task is made of, but its id: spec, settings, and the record it is restored from (if any). */
export interface TaskParts {
  spec: Partial<TaskSpec>;
  config: TaskConfig;
  resume: { state: TaskState; context: Partial<TaskContext> } | undefined;
}

export const taskParts: fc.Arbitrary<TaskParts> = fc.record({
  spec: taskSpec,
  config: taskConfig,
  // New tasks twice as often: their lives are the longest.
  resume: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: restoredTask }),
});

/** The task machine's input for task `id` made of `parts`. */
export const buildInput = (id: string, parts: TaskParts): TaskMachineInput =>
  taskInput(id, parts.spec, { config: parts.config, ...(parts.resume ? { resume: parts.resume } : {}) });

/** A task's input: new (it waits for START), or restored from a record in any state. */
export const taskMachineInput = (id: string): fc.Arbitrary<TaskMachineInput> =>
  taskParts.map((parts) => buildInput(id, parts));
