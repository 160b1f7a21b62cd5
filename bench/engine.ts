/**
 * Engine bench: task lifecycles/s through a runner on the simulated cluster (scripted instant
 * pods, SQLite store on, cap 100), API requests per task by verb besides the shared watch, and
 * completion-detection latency (the Job's Complete condition stored in the sim → the task's
 * `succeeded` transition), at cap 100 and again at cap 10: below saturation, where the latency
 * is the path's own rather than the wait behind other events. Then the same workload with a
 * naive poll-per-job baseline written directly against client-node (the Go package's approach:
 * create, GET every N ms until Complete/Failed, delete), side by side, as ratios. Last, the
 * requests per task of both (polling every 100 ms) when each task runs for a second.
 *
 * Run alone with `npx tsx bench/engine.ts`; `bench/run.ts` collects `runEngineBench()`'s rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import { createRunner } from '../src/runner/create-runner.js';
import { behaviourAnnotation, startSimulatedCluster, type SimulatedCluster } from '../src/sim/index.js';
import { round, type BenchRow } from './section.js';
import { instantJob, quantile } from './sim-churn.js';

/** Workload size. */
export interface EngineBenchOptions {
  /** Measured tasks (after a warm-up of 200). @default 2000 */
  tasks?: number;
  /** `maxConcurrentJobs` of the runner, and Jobs in flight of the baseline. @default 100 */
  cap?: number;
  /**
   * The detection latency again with fewer tasks at once, the process below saturation: at `cap`
   * the runner and the sim keep this one process at a full core, and the latency is mostly the
   * wait of each watch event behind the others. @default { tasks: 500, cap: 10 }
   */
  lightLoad?: { tasks: number; cap: number };
  /** Poll intervals of the baseline, ms. @default [1000, 100] */
  pollIntervalsMs?: number[];
  /**
   * Requests per task again with tasks that run `durationMs` (the scripted container's own time,
   * not scaled), for the runner and the baseline polling every 100 ms: what a task costs the API
   * once it runs for longer than an instant. @default { tasks: 200, durationMs: 1000 }
   */
  longTasks?: { tasks: number; durationMs: number };
  /** Cluster time scale (the Job controller's own batching delays, image pulls). @default 0.001 */
  timeScale?: number;
  /** The runner's store: a SQLite file in a temp dir, or `memory://` (to see what the store costs). @default 'sqlite' */
  store?: 'sqlite' | 'memory';
}

/** What one run measured. */
interface RunFigures {
  elapsedMs: number;
  /** `verb resource` → requests per task (watches and lists, shared by every task, left out). */
  perTask: Map<string, number>;
  /** Watch and list requests in the window (shared, not per task). */
  shared: number;
  /** Complete condition stored in the sim → the client knew, per task, ms. */
  latencies: number[];
}

/** Records, for every Job, when the sim stored the change that added its Complete condition. */
function completionClock(cluster: SimulatedCluster): { completedAt: Map<string, number>; stop: () => void } {
  const completedAt = new Map<string, number>();
  const stop = cluster.onChange(({ resource, type, object }) => {
    if (resource !== 'jobs' || type !== 'MODIFIED') return;
    const name = object.metadata.name ?? '';
    if (completedAt.has(name)) return;
    const conditions = (object.status?.conditions ?? []) as { type: string; status: string }[];
    if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) completedAt.set(name, performance.now());
  });
  return { completedAt, stop };
}

/** Requests the sim logged from index `from` on, per task by `verb resource`, shared ones apart. */
function requestsSince(
  cluster: SimulatedCluster,
  from: number,
  tasks: number,
): { perTask: Map<string, number>; shared: number } {
  const counts = new Map<string, number>();
  let shared = 0;
  for (const r of cluster.requests().slice(from)) {
    if (r.verb === 'watch' || r.verb === 'list') {
      shared += 1;
      continue;
    }
    const key = `${r.verb} ${r.resource}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { perTask: new Map([...counts].map(([k, v]) => [k, v / tasks])), shared };
}

async function withCluster<T>(timeScale: number, run: (cluster: SimulatedCluster) => Promise<T>): Promise<T> {
  // Every request is kept: the runs slice `requests()` from an index, past the default ring of 10,000.
  const cluster = await startSimulatedCluster({ timeScale, kubelet: { runtime: 'scripted' }, recordRequests: true });
  try {
    return await run(cluster);
  } finally {
    await cluster.close();
  }
}

/** The pod template that makes the scripted container run `durationMs` (none: it exits at once). */
function runningFor(durationMs: number): { metadata: { annotations: Record<string, string> } } | undefined {
  return durationMs > 0
    ? { metadata: { annotations: { [behaviourAnnotation]: JSON.stringify({ durationMs }) } } }
    : undefined;
}

/** The runner: `count` tasks at cap `cap`, SQLite store on; a warm-up round first. */
async function runnerRun(
  cluster: SimulatedCluster,
  count: number,
  cap: number,
  store: 'sqlite' | 'memory',
  durationMs = 0,
): Promise<RunFigures> {
  const podTemplate = runningFor(durationMs);
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-bench-engine-'));
  const runner = await createRunner({
    kubeConfig: cluster.kubeConfig,
    namespace: 'default',
    store: store === 'sqlite' ? `sqlite://${join(dir, 'store.sqlite')}` : 'memory://',
    maxConcurrentJobs: cap,
    queueSize: 100_000,
    // The default 20 QPS would cap the figure at ~7 lifecycles/s: measure the engine, not the limiter.
    rateLimit: { qps: 100_000, burst: 100_000 },
  });
  const succeededAt = new Map<string, number>();
  const subscription = runner.transitions$.subscribe((t) => {
    if (t.to === 'succeeded') succeededAt.set(t.taskId, performance.now());
  });
  const clock = completionClock(cluster);
  try {
    const round = async (prefix: string, n: number): Promise<number> => {
      const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i)}`);
      const started = performance.now();
      await Promise.all(
        ids.map((id) =>
          runner.addTask({ id, image: 'busybox:1.36', command: ['true'], ...(podTemplate ? { podTemplate } : {}) }),
        ),
      );
      const records = await Promise.all(ids.map((id) => runner.waitFor(id)));
      const elapsed = performance.now() - started;
      const wrong = records.filter((r) => r.outcome !== 'succeeded');
      if (wrong.length > 0)
        throw new Error(
          `engine bench: ${String(wrong.length)} tasks did not succeed, e.g. ${JSON.stringify(wrong[0])}`,
        );
      return elapsed;
    };
    await round('warmup', Math.min(200, count));
    const from = cluster.requests().length;
    const elapsedMs = await round('task', count);
    const latencies: number[] = [];
    for (const [id, at] of succeededAt) {
      const completed = clock.completedAt.get(id);
      if (id.startsWith('task-') && completed !== undefined) latencies.push(at - completed);
    }
    return { elapsedMs, ...requestsSince(cluster, from, count), latencies };
  } finally {
    clock.stop();
    subscription.unsubscribe();
    await runner.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The baseline: per Job, create, GET every `pollMs` until Complete/Failed, delete; `cap` at once. */
async function pollingRun(
  cluster: SimulatedCluster,
  count: number,
  cap: number,
  pollMs: number,
  durationMs = 0,
): Promise<RunFigures> {
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const template = runningFor(durationMs);
  const jobOf = (name: string): V1Job => {
    const job = instantJob(name, 'poll');
    if (template && job.spec) job.spec.template.metadata = template.metadata;
    return job;
  };
  const namespace = 'default';
  const seenAt = new Map<string, number>();
  const clock = completionClock(cluster);
  const finished = (job: V1Job): boolean =>
    (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  const lifecycle = async (name: string): Promise<void> => {
    await batch.createNamespacedJob({ namespace, body: jobOf(name) });
    for (;;) {
      await sleep(pollMs);
      const job = await batch.readNamespacedJob({ name, namespace });
      if (finished(job)) break;
    }
    seenAt.set(name, performance.now());
    await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
  };
  const run = async (prefix: string, n: number): Promise<number> => {
    const names = Array.from({ length: n }, (_, i) => `${prefix}-${String(i)}`);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(cap, n) }, async () => {
        while (next < names.length) await lifecycle(names[next++] ?? '');
      }),
    );
    return performance.now() - started;
  };
  try {
    await run(`warmup-${String(pollMs)}`, Math.min(200, count));
    const from = cluster.requests().length;
    const prefix = `poll-${String(pollMs)}`;
    const elapsedMs = await run(prefix, count);
    const latencies: number[] = [];
    for (const [name, at] of seenAt) {
      const completed = clock.completedAt.get(name);
      if (name.startsWith(`${prefix}-`) && completed !== undefined) latencies.push(at - completed);
    }
    return { elapsedMs, ...requestsSince(cluster, from, count), latencies };
  } finally {
    clock.stop();
  }
}

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** Requests per task by `verb resource`, for a note: `create jobs 1.00, get jobs 10.04, …`. */
const perVerb = (perTask: Map<string, number>): string =>
  [...perTask].map(([verb, n]) => `${verb} ${n.toFixed(2)}`).join(', ');

/** Runs the engine bench and returns its figures. */
export async function runEngineBench(options: EngineBenchOptions = {}): Promise<BenchRow[]> {
  const tasks = options.tasks ?? 2000;
  const cap = options.cap ?? 100;
  const timeScale = options.timeScale ?? 0.001;
  const pollIntervals = options.pollIntervalsMs ?? [1000, 100];
  const store = options.store ?? 'sqlite';
  const how = `${tasks} tasks, cap ${cap}, scripted instant pods, timeScale ${timeScale}, ${store === 'sqlite' ? 'SQLite' : 'memory'} store; runner, store and sim share this process`;

  const engine = await withCluster(timeScale, (cluster) => runnerRun(cluster, tasks, cap, store));
  const enginePerTask = sum(engine.perTask);
  const engineP50 = quantile(engine.latencies, 0.5);
  const rows: BenchRow[] = [
    {
      section: 'engine',
      name: 'runner: lifecycles (add → deleted)',
      value: round(tasks / (engine.elapsedMs / 1000)),
      unit: '/s',
      note: `${how}; aim ≥ 2,000`,
    },
    {
      section: 'engine',
      name: 'runner: API requests per task, besides the shared watch',
      value: round(enginePerTask, 2),
      unit: 'req',
      note: 'aim ≤ 3 (create, final log read, delete)',
    },
    ...[...engine.perTask]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([verb, perTask]): BenchRow => ({
        section: 'engine',
        name: `runner: ${verb} per task`,
        value: round(perTask, 2),
        unit: 'req',
      })),
    {
      section: 'engine',
      name: 'runner: shared watch/list requests in the run',
      value: engine.shared,
      unit: 'req',
      note: 'whole run, not per task',
    },
    {
      section: 'engine',
      name: 'runner: Complete in sim → succeeded transition, p50',
      value: round(engineP50, 1),
      unit: 'ms',
      note: `${String(engine.latencies.length)} tasks, cap ${String(cap)}: one core saturated; aim ≤ 20`,
    },
    {
      section: 'engine',
      name: 'runner: Complete in sim → succeeded transition, p99',
      value: round(quantile(engine.latencies, 0.99), 1),
      unit: 'ms',
    },
  ];
  const lightLoad = options.lightLoad ?? { tasks: 500, cap: 10 };
  const light = await withCluster(timeScale, (cluster) => runnerRun(cluster, lightLoad.tasks, lightLoad.cap, store));
  const lightHow = `${String(light.latencies.length)} tasks, cap ${String(lightLoad.cap)}: the process below saturation`;
  rows.push(
    {
      section: 'engine',
      name: `runner: Complete in sim → succeeded transition, p50 at cap ${String(lightLoad.cap)}`,
      value: round(quantile(light.latencies, 0.5), 1),
      unit: 'ms',
      note: `${lightHow}; aim ≤ 20`,
    },
    {
      section: 'engine',
      name: `runner: Complete in sim → succeeded transition, p99 at cap ${String(lightLoad.cap)}`,
      value: round(quantile(light.latencies, 0.99), 1),
      unit: 'ms',
      note: `${round(lightLoad.tasks / (light.elapsedMs / 1000))} lifecycles/s`,
    },
  );
  for (const pollMs of pollIntervals) {
    const poll = await withCluster(timeScale, (cluster) => pollingRun(cluster, tasks, cap, pollMs));
    const pollPerTask = sum(poll.perTask);
    const pollP50 = quantile(poll.latencies, 0.5);
    const tag = `poll every ${String(pollMs)} ms`;
    rows.push(
      {
        section: 'engine',
        name: `${tag}: lifecycles (create → deleted)`,
        value: round(tasks / (poll.elapsedMs / 1000)),
        unit: '/s',
        note: `client-node, create → GET every ${String(pollMs)} ms until finished → delete, ${String(cap)} at once`,
      },
      {
        section: 'engine',
        name: `${tag}: API requests per task`,
        value: round(pollPerTask, 2),
        unit: 'req',
        note: `${perVerb(poll.perTask)}; instant pods finish before the first GET: a task running D ms costs ≈ 2 + D/${String(pollMs)} requests`,
      },
      { section: 'engine', name: `${tag}: Complete in sim → seen, p50`, value: round(pollP50, 1), unit: 'ms' },
      {
        section: 'engine',
        name: `${tag}: Complete in sim → seen, p99`,
        value: round(quantile(poll.latencies, 0.99), 1),
        unit: 'ms',
      },
      {
        section: 'engine',
        name: `ratio: requests per task, ${tag} ÷ runner`,
        value: round(pollPerTask / enginePerTask, 2),
        unit: '×',
      },
      {
        section: 'engine',
        name: `ratio: detection p50, ${tag} ÷ runner`,
        value: round(pollP50 / engineP50, 2),
        unit: '×',
      },
      {
        section: 'engine',
        name: `ratio: lifecycles/s, runner ÷ ${tag}`,
        value: round(poll.elapsedMs / engine.elapsedMs, 2),
        unit: '×',
      },
    );
  }
  const long = options.longTasks ?? { tasks: 200, durationMs: 1000 };
  const longHow = `${String(long.tasks)} tasks of ${String(long.durationMs)} ms, cap ${String(cap)}`;
  const longRunner = await withCluster(timeScale, (cluster) =>
    runnerRun(cluster, long.tasks, cap, store, long.durationMs),
  );
  const longPoll = await withCluster(timeScale, (cluster) =>
    pollingRun(cluster, long.tasks, cap, 100, long.durationMs),
  );
  rows.push(
    {
      section: 'engine',
      name: `runner: API requests per task, tasks of ${String(long.durationMs)} ms`,
      value: round(sum(longRunner.perTask), 2),
      unit: 'req',
      note: `${longHow}; ${perVerb(longRunner.perTask)}`,
    },
    {
      section: 'engine',
      name: `poll every 100 ms: API requests per task, tasks of ${String(long.durationMs)} ms`,
      value: round(sum(longPoll.perTask), 2),
      unit: 'req',
      note: `${longHow}; ${perVerb(longPoll.perTask)}`,
    },
    {
      section: 'engine',
      name: `ratio: requests per task, tasks of ${String(long.durationMs)} ms, poll every 100 ms ÷ runner`,
      value: round(sum(longPoll.perTask) / sum(longRunner.perTask), 2),
      unit: '×',
      note: 'aim > 1: fewer requests than the baseline once tasks run for longer than an instant',
    },
  );
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runEngineBench());
}
