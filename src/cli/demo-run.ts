import type { Subscription } from 'rxjs';
import { createRunner } from '../runner/create-runner.js';
import type { Runner } from '../runner/runner-api.js';
import { startSimulatedCluster, type SimulatedCluster } from '../sim/index.js';
import type { TaskRecord, Transition } from '../types.js';
import {
  demoImagePullGraceMs,
  demoTasksFor,
  leftOutNote,
  matchesExpected,
  taskInputFor,
  throttledRegistryPath,
  type DemoRuntime,
  type DemoTask,
} from './demo-scenario.js';
import { removePreviousStore } from './demo-store.js';
import { dashboardCommandLine, renderSummary, type DemoResult } from './demo-summary.js';
import { DemoTracker } from './demo-tracker.js';
import { liveView, plainView, type DemoView } from './demo-views.js';
import { exitFailure, exitInterrupted } from './exit-codes.js';
import { untilSignal } from './options.js';

/** Options of `k8s-jobs demo`. */
export interface DemoOptions {
  store: string;
  /** Multiplies the durations the simulated cluster chooses. */
  timeScale: number;
  /** Seconds the demo may take before it gives up. */
  timeout: number;
  runtime: DemoRuntime;
  /** `auto`: the live view on a terminal, plain lines otherwise. */
  view: 'auto' | 'live' | 'plain';
}

/** Jobs the demo's runner runs at once: fewer than its tasks, so the queue shows. */
export const demoMaxConcurrentJobs = 4;

/** The task whose stored log the demo prints at the end. */
const logTaskId = 'count-to-five';

const print = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * The demo: a simulated cluster in this process, a runner on a fresh store, a dozen tasks that
 * end in every outcome, their progress live, a summary table and one task's stored log.
 * Resolves with the exit code: 0 when every task ended as expected, 1 otherwise, 130 on Ctrl-C
 * (running tasks are then cancelled and their Jobs deleted first).
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  // Listening from the start: a Ctrl-C while the cluster starts must not kill the process half-way.
  const stopListening = new AbortController();
  const interrupted = untilSignal(stopListening.signal);
  try {
    return await demo(options, interrupted);
  } finally {
    stopListening.abort();
  }
}

async function demo(options: DemoOptions, interrupted: Promise<NodeJS.Signals>): Promise<number> {
  const removed = await removePreviousStore(options.store);
  const tasks = demoTasksFor(options.runtime);
  const cluster = await startSimulatedCluster({
    timeScale: options.timeScale,
    // Nothing reads the request log or the creation audit of a CLI cluster: keep neither, so a sim
    // left up for days stays the same size.
    recordRequests: false,
    auditJobCreations: false,
    kubelet: { runtime: options.runtime, throttledImages: [throttledRegistryPath] },
  });
  let runner: Runner | undefined;
  try {
    runner = await createRunner({
      kubeConfig: cluster.kubeConfig,
      namespace: 'default',
      store: options.store,
      maxConcurrentJobs: demoMaxConcurrentJobs,
      // A pod that cannot pull its image fails its task after seconds instead of 5 minutes.
      stuck: { imagePullGraceMs: demoImagePullGraceMs },
      // Running tasks' logs reach the store every second (`k8s-jobs logs --follow` shows them).
      logs: { snapshotIntervalMs: 1000 },
      rateLimit: { qps: 200, burst: 100 },
    });
    print(
      `k8s-jobs demo: a simulated Kubernetes cluster at ${cluster.url} (in this process; ${runtimeWords(options.runtime)}),`,
    );
    print(
      `a runner running at most ${demoMaxConcurrentJobs} Jobs at once, its store ${options.store}${removed ? ` (the previous ${removed} was removed first)` : ''},`,
    );
    const leftOut = leftOutNote(options.runtime);
    print(`and ${tasks.length} tasks${leftOut ? ` (${leftOut})` : ''}:`);
    const idWidth = Math.max(...tasks.map((t) => t.task.id.length));
    for (const t of tasks) print(`  ${t.task.id.padEnd(idWidth)}  ${t.about}`);
    print();
    return await driveDemo(runner, cluster, tasks, options, idWidth, interrupted);
  } finally {
    try {
      await runner?.shutdown({ mode: 'cancel' });
    } finally {
      await cluster.close();
    }
  }
}

/** A terminal with a size: a pty nobody sized (rows 0) would show log-update nothing at all. */
function hasScreen(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && stream.rows > 0 && stream.columns > 0;
}

function runtimeWords(runtime: DemoRuntime): string {
  return runtime === 'process' ? 'containers run as local processes' : 'containers scripted by annotations';
}

/** Submits the tasks, shows their progress until all are finished, then the summary. */
async function driveDemo(
  runner: Runner,
  cluster: SimulatedCluster,
  tasks: DemoTask[],
  options: DemoOptions,
  idWidth: number,
  interrupted: Promise<NodeJS.Signals>,
): Promise<number> {
  const tracker = new DemoTracker(tasks.map((t) => t.task.id));
  const live = options.view === 'live' || (options.view === 'auto' && hasScreen(process.stdout));
  const heading = `${tasks.length} tasks on ${cluster.url}, at most ${demoMaxConcurrentJobs} at once`;
  const view: DemoView = live ? liveView(process.stdout, heading, tracker, idWidth) : plainView(print, idWidth);
  const timers = new Set<NodeJS.Timeout>();
  // Views get transitions in order, each outcome with its reason (read from the record).
  let shown = Promise.resolve();
  const show = (transition: Transition): void => {
    tracker.apply(transition);
    const isOutcome = transition.outcome !== undefined && transition.to === transition.outcome;
    shown = shown.then(async () => {
      if (isOutcome) tracker.noteRecord(await runner.getTask(transition.taskId));
      view.transition(transition, tracker.get(transition.taskId)?.reason ?? '');
    });
  };
  const cancelAfter = new Map(
    tasks.filter((t) => t.cancelAfterMs !== undefined).map((t) => [t.task.id, t.cancelAfterMs ?? 0]),
  );
  const subscription: Subscription = runner.transitions$.subscribe((transition) => {
    show(transition);
    const delay = cancelAfter.get(transition.taskId);
    if (delay !== undefined && transition.to === 'running') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        runner
          .cancel(transition.taskId)
          .catch((err: unknown) =>
            process.stderr.write(`k8s-jobs demo: cancelling ${transition.taskId} failed: ${String(err)}\n`),
          );
      }, delay);
      timers.add(timer);
    }
  });
  try {
    const submitted = (async () => {
      for (const t of tasks) await runner.addTask(taskInputFor(t, options.runtime));
    })();
    const finished = submitted.then(() =>
      Promise.all(
        tasks.map(async (demo): Promise<DemoResult> => ({ demo, record: await runner.waitFor(demo.task.id) })),
      ),
    );
    const ending = await Promise.race([
      finished.then((results) => ({ kind: 'finished' as const, results })),
      interrupted.then((signal) => ({ kind: 'signal' as const, signal })),
      new Promise<{ kind: 'timeout' }>((resolve) =>
        timers.add(setTimeout(() => resolve({ kind: 'timeout' }), options.timeout * 1000)),
      ),
    ]);
    subscription.unsubscribe();
    await shown;
    view.stop();
    if (ending.kind === 'signal') {
      // A second Ctrl-C while tasks are cancelled means the user does not want to wait.
      process.once('SIGINT', () => process.exit(exitInterrupted));
      print(`\n${ending.signal}: cancelling the running tasks and deleting their Jobs…`);
      await runner.shutdown({ mode: 'cancel' });
      return exitInterrupted;
    }
    if (ending.kind === 'timeout') {
      process.stderr.write(
        `k8s-jobs demo: not every task finished within ${options.timeout} s (still open: ${tracker
          .tasks()
          .filter((t) => t.outcome === undefined)
          .map((t) => t.id)
          .join(', ')})\n`,
      );
      return exitFailure;
    }
    return await conclude(runner, ending.results, tracker, options);
  } finally {
    subscription.unsubscribe();
    for (const timer of timers) clearTimeout(timer);
  }
}

/** The summary, one task's stored log, where to look next; 1 if an outcome was not the expected one. */
async function conclude(
  runner: Runner,
  results: DemoResult[],
  tracker: DemoTracker,
  options: DemoOptions,
): Promise<number> {
  print();
  print('Summary:');
  print(renderSummary(results, tracker));
  const logs = await runner.getLogs(logTaskId);
  print();
  print(`The log of ${logTaskId}, as the runner stored it:`);
  for (const line of logs.trimEnd().split('\n')) print(`  ${line}`);
  print();
  const storeArg = ` --store ${options.store}`;
  print('Every task and its history stay in the store; try:');
  print(`  k8s-jobs list${storeArg}`);
  print(`  k8s-jobs show exit-3${storeArg}`);
  print(`  k8s-jobs logs ${logTaskId}${storeArg}`);
  print('See it all in the browser (`npm run dashboard` does the same):');
  print(`  ${dashboardCommandLine(options.store)}`);
  const unexpected: TaskRecord[] = results
    .filter(({ demo, record }) => !matchesExpected(record, demo.expected))
    .map((r) => r.record);
  if (unexpected.length === 0) return 0;
  process.stderr.write(
    `k8s-jobs demo: ${unexpected.length} task(s) did not end as expected: ${unexpected.map((r) => `${r.id} (${r.outcome ?? r.state})`).join(', ')}\n`,
  );
  return exitFailure;
}
