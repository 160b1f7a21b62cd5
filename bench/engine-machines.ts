/**
 * The runner's two machines alone: the supervisor and the task machine as the runner provides
 * them, with instant effects (the Job is created at once; the watch shows it pending, running and
 * Complete, one view per turn of the event loop; logs and delete answer at once), at cap 100. CPU
 * per task lifecycle without any inspector, and with the runner's own (every step of every task
 * turned into its record, `createTaskObserver` over `toTaskRecord`; nothing stored). Beside
 * `engine:split`'s runner and transport floor, it says how much of the runner's CPU per task the
 * machines are, and how much the rest (store, watch cache, effects, streams).
 *
 * Run alone with `npx tsx bench/engine-machines.ts [TASKS]`; `bench/run.ts` collects its rows.
 */
import { pathToFileURL } from 'node:url';
import { createActor, fromCallback, fromPromise, type EventObject, type InspectionEvent } from 'xstate';
import { supervisorMachine } from '../src/machines/supervisor/supervisor-machine.js';
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
  JobView,
  ObserveJobInput,
  PodView,
  SnapshotLogsInput,
  TaskMachineInput,
} from '../src/machines/task/contract.js';
import { toTaskRecord } from '../src/machines/task/record.js';
import { taskMachine } from '../src/machines/task/task-machine.js';
import { resolveRunnerOptions } from '../src/runner/options.js';
import { taskConfigOf } from '../src/runner/runner-parts.js';
import { createTaskObserver } from '../src/runner/task-observer.js';
import { parseTaskSpec } from '../src/validation/parse.js';
import { condition, container, jobView, observation, podView } from '../test/machines/fixtures.js';
import { round, type BenchRow } from './section.js';

/** What a runner with its default options gives each task machine. */
const config = taskConfigOf(resolveRunnerOptions());

/** What the shared watch shows of an instant Job: pending, running, then Complete with its pod Succeeded. */
function instantViews(input: ObserveJobInput, at: number): ClusterObservation[] {
  const createdAt = new Date(at).toISOString();
  const job = (more: Partial<JobView>): JobView =>
    jobView({ name: input.jobName, uid: `uid-${input.taskId}`, createdAt, startTime: createdAt, ...more });
  const pod = (more: Partial<PodView>): PodView =>
    podView({ name: `${input.jobName}-abcde`, uid: `pod-${input.taskId}`, createdAt, ...more });
  const exited = { exitCode: 0, reason: 'Completed', startedAt: createdAt, finishedAt: createdAt };
  return [
    observation(at, job({}), [pod({})]),
    observation(at, job({ ready: 1 }), [
      pod({ phase: 'Running', containers: [container({ running: { startedAt: createdAt } })] }),
    ]),
    observation(
      at,
      job({
        active: 0,
        succeeded: 1,
        completionTime: createdAt,
        conditions: [condition('SuccessCriteriaMet'), condition('Complete')],
      }),
      [pod({ phase: 'Succeeded', containers: [container({ terminated: exited })] })],
    ),
  ];
}

/** Instant effects, under the names the task machine invokes. */
const instantEffects = {
  createJob: fromPromise<CreateJobOutput, CreateJobInput>(({ input }) =>
    Promise.resolve({ uid: `uid-${input.taskId}`, adopted: false }),
  ),
  observeJob: fromCallback<EventObject, ObserveJobInput>(({ input, sendBack }) => {
    const views = instantViews(input, Date.now());
    let timer: NodeJS.Immediate | undefined;
    const next = (): void => {
      const observation = views.shift();
      if (!observation) return;
      sendBack({ type: 'CLUSTER.OBSERVED', observation });
      timer = setImmediate(next);
    };
    timer = setImmediate(next);
    return () => clearImmediate(timer);
  }),
  alarm: fromCallback<AlarmCommand, AlarmInput>(() => undefined),
  snapshotLogs: fromCallback<EventObject, SnapshotLogsInput>(() => undefined),
  harvestLogs: fromPromise<HarvestLogsOutput, HarvestLogsInput>(() => Promise.resolve({ lastLines: ['done'] })),
  deleteJob: fromPromise<DeleteJobOutput, DeleteJobInput>(() => Promise.resolve({ at: Date.now() })),
};

/** Runs `tasks` lifecycles through a supervisor at cap 100; resolves with the CPU per lifecycle, ms. */
async function machinesRun(tasks: number, withObserver: boolean): Promise<number> {
  const machine = supervisorMachine.provide({
    actors: { task: taskMachine.provide({ actors: instantEffects }) },
  });
  const observe = createTaskObserver({
    toRecord: toTaskRecord,
    current: () => undefined,
    now: Date.now,
    onChange: () => undefined,
  });
  const inspect = withObserver ? (event: InspectionEvent) => observe(event) : undefined;
  const supervisor = createActor(machine, { input: { maxConcurrentJobs: 100 }, ...(inspect ? { inspect } : {}) });
  let finished = 0;
  const allFinished = new Promise<void>((resolve) =>
    supervisor.on('task.finished', () => {
      if (++finished === tasks) resolve();
    }),
  );
  supervisor.start();
  const createdAt = new Date().toISOString();
  const inputs = Array.from({ length: tasks }, (_, i): TaskMachineInput => {
    const id = `t${String(i)}`;
    const spec = parseTaskSpec({ id, image: 'busybox:1.36', command: ['true'] });
    return { taskId: id, spec, jobName: `job-${id}`, createdAt, config };
  });
  const before = process.cpuUsage();
  // As the runner sends them: the tasks of one commit in one ENQUEUE.
  for (let i = 0; i < tasks; i += 500)
    supervisor.send({ type: 'ENQUEUE', tasks: inputs.slice(i, i + 500).map((task) => ({ task, priority: 0 })) });
  await allFinished;
  const cpu = process.cpuUsage(before);
  supervisor.stop();
  return (cpu.user + cpu.system) / 1000 / tasks;
}

/** The section: a warm-up round, then each variant measured. */
export async function runEngineMachinesBench(tasks = 20_000): Promise<BenchRow[]> {
  await machinesRun(2000, true);
  const bare = await machinesRun(tasks, false);
  const observed = await machinesRun(tasks, true);
  const how = `${String(tasks)} instant tasks at cap 100, effects stubbed, nothing stored`;
  return [
    {
      section: 'engine:machines',
      name: 'supervisor + task machine, CPU per lifecycle',
      value: round(bare, 3),
      unit: 'ms',
      note: `${how}; no inspector`,
    },
    {
      section: 'engine:machines',
      name: "the same with the runner's record observer",
      value: round(observed, 3),
      unit: 'ms',
      note: `${how}; every step turned into its record (what the runner persists)`,
    },
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tasks = Number(process.argv[2] ?? 20_000);
  console.table(await runEngineMachinesBench(tasks));
}
