/**
 * Engine bench with the two processes apart: `k8s-jobs sim --runtime scripted` in its own
 * process, a runner in this one (SQLite store, rate limit lifted, instant scripted pods). Per
 * task lifecycle (add → deleted) it prints the runner's CPU (`process.cpuUsage()` around the
 * measured round: every thread of this process, SQLite's included) and the part of it on the main
 * thread (the event loop), the sim's CPU (utime + stime of `/proc/PID/stat` over the same round)
 * and lifecycles/s, at caps 100, 1,000 and 5,000 — a fresh sim and runner for each cap, a warm-up
 * round of 200 first — each followed by rows with the figures the code had before the CPU work of
 * issue 13, as recorded (`before` below). With cap 100, also a second round right after the first
 * in the same runner and sim (most of their hot code compiled by then), and the floor under the
 * runner's figure: the same API traffic per task over the runner's own transport without the
 * engine (`bench/transport-floor.ts`), and the runner's CPU as a multiple of it.
 *
 * Run alone with `npx tsx bench/engine-split.ts [TASKS_AT_100 [TASKS_AT_1000 [TASKS_AT_5000]]]` (0 skips a cap);
 * `BENCH_CPU_PROFILE=<dir>` also writes a CPU profile of each measured round (`startProfile`);
 * `bench/run.ts` collects `runEngineSplitBench()`'s rows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Session } from 'node:inspector/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { createRunner } from '../src/runner/create-runner.js';
import { transportFloorLifecycles } from './transport-floor.js';
import { round, type BenchRow } from './section.js';

/** Workload size. */
export interface EngineSplitOptions {
  /** Measured tasks per cap (each after a warm-up of 200). @default { 100: 2000, 1000: 2000, 5000: 5000 } */
  tasksByCap?: Record<number, number>;
  /** The sim's `--time-scale`. @default 0.001 */
  timeScale?: number;
}

/** What one cap's round measured. */
interface SplitFigures {
  cap: number;
  tasks: number;
  /** Tasks that ended other than `succeeded` (counted in the figures: their lifecycles ran too). */
  failed: number;
  elapsedMs: number;
  runnerCpuMs: number;
  /** The part of `runnerCpuMs` spent on this process's main thread (the event loop). */
  runnerMainThreadCpuMs: number;
  simCpuMs: number;
  /** A second round of `tasks` right after, in the same runner and sim (see `splitRun`'s `again`). */
  again?: Omit<SplitFigures, 'cap' | 'again'>;
}

/** Per lifecycle: runner CPU ms, sim CPU ms, lifecycles/s, over `tasks` measured tasks. */
interface Before {
  runnerMs: number;
  simMs: number;
  perSecond: number;
  tasks: number;
}

/**
 * The code before issue 13's work, as recorded twice; both are printed beside each run:
 * - `issue`: issue 13's own measurement (the runner and `k8s-jobs sim` in two processes, cap 100,
 *   2,000 tasks after 200, `process.cpuUsage()` and `/proc/PID/stat`), on a quiet machine;
 * - `c6368a1`: this section run on that commit, on the 2-core machine while five other test runs
 *   shared it (load average ~20, so lifecycles/s is far below what a quiet machine gives; CPU per
 *   lifecycle is the steadier figure).
 */
const before: { label: string; figures: Record<number, Before> }[] = [
  {
    label: 'before, issue 13 (recorded, quiet machine)',
    figures: { 100: { runnerMs: 5.1, simMs: 4.1, perSecond: 190, tasks: 2000 } },
  },
  {
    label: 'before, commit c6368a1 (recorded 2026-12-03, load ~20)',
    figures: {
      100: { runnerMs: 5.459, simMs: 4.245, perSecond: 40, tasks: 2000 },
      1000: { runnerMs: 7.322, simMs: 5.41, perSecond: 19, tasks: 2000 },
      5000: { runnerMs: 12.778, simMs: 5.842, perSecond: 10, tasks: 5000 },
    },
  },
];

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Linux's USER_HZ: the unit of utime and stime in `/proc/PID/stat`. */
const clockTicksPerSecond = 100;

/**
 * CPU time used so far, ms (utime + stime, fields 14 and 15 of a `stat` file): of a whole process
 * (`/proc/PID/stat`) or of one of its threads (`/proc/PID/task/TID/stat`).
 */
async function statCpuMs(statPath: string): Promise<number> {
  const stat = await readFile(statPath, 'utf8');
  // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`no utime/stime in ${statPath}`);
  return ((utime + stime) * 1000) / clockTicksPerSecond;
}

/** A process's CPU so far, ms. */
const procCpuMs = (pid: number): Promise<number> => statCpuMs(`/proc/${String(pid)}/stat`);

/**
 * This process's main thread's CPU so far, ms: the event loop, where the engine (or the floor's
 * client) runs. The rest of `process.cpuUsage()` is other threads: V8's optimizing compiler and GC
 * helpers, libuv's pool (SQLite's queries).
 */
const mainThreadCpuMs = (): Promise<number> =>
  statCpuMs(`/proc/${String(process.pid)}/task/${String(process.pid)}/stat`);

/**
 * With `BENCH_CPU_PROFILE=<dir>`, a CPU profile of the runner's process over the measured round
 * only (warm-up and start-up left out), written as `<dir>/engine-split-cap<N>.cpuprofile`.
 */
async function startProfile(): Promise<{ stop(cap: number): Promise<void> } | undefined> {
  const dir = process.env.BENCH_CPU_PROFILE;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    stop: async (cap) => {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      const file = join(dir, `engine-split-cap${String(cap)}.cpuprofile`);
      await writeFile(file, JSON.stringify(profile));
      process.stderr.write(`engine:split: CPU profile of the measured round written to ${file}\n`);
    },
  };
}

interface SimProcess {
  child: ChildProcess;
  kubeConfig: KubeConfig;
  close(): Promise<void>;
}

/** `k8s-jobs sim --runtime scripted` as a child process, once it has written its kubeconfig. */
async function startSimProcess(dir: string, timeScale: number): Promise<SimProcess> {
  const kubeconfigFile = join(dir, 'sim.kubeconfig');
  // BENCH_SIM_CPU_PROFILE=<dir>: the sim process writes a CPU profile of its whole life there when it exits.
  const profileDir = process.env.BENCH_SIM_CPU_PROFILE;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const args = [...profile, '--import', 'tsx', 'src/cli/main.ts', 'sim', '--runtime', 'scripted'];
  args.push('--time-scale', String(timeScale), '--kubeconfig-out', kubeconfigFile);
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => process.stderr.write(`sim: ${chunk}`));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Kubeconfig written to')) resolve();
    });
    void exited.then((code) => reject(new Error(`the sim exited (${String(code)}) before it listened: ${out}`)));
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigFile);
  return {
    child,
    kubeConfig,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** CPU and wall time of one measured round: this process's, and the sim process's over the same span. */
interface RoundCost {
  elapsedMs: number;
  /** `process.cpuUsage()` of this process (every thread, SQLite's included). */
  clientCpuMs: number;
  /** The part of `clientCpuMs` on this process's main thread. */
  clientMainThreadCpuMs: number;
  simCpuMs: number;
}

/** Runs `work` and measures it: this process's CPU, the sim's (`/proc/PID/stat`), wall time. */
async function measured<T>(sim: SimProcess, work: () => Promise<T>): Promise<RoundCost & { result: T }> {
  const pid = sim.child.pid;
  if (pid === undefined) throw new Error('the sim process has no pid');
  const simBefore = await procCpuMs(pid);
  const mainBefore = await mainThreadCpuMs();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const clientMainThreadCpuMs = (await mainThreadCpuMs()) - mainBefore;
  const simCpuMs = (await procCpuMs(pid)) - simBefore;
  return { result, elapsedMs, clientCpuMs: (cpu.user + cpu.system) / 1000, clientMainThreadCpuMs, simCpuMs };
}

/** Runs `body` against a fresh `k8s-jobs sim` process in a temp folder, both removed after. */
async function withSimProcess<T>(timeScale: number, body: (sim: SimProcess, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-bench-split-'));
  try {
    const sim = await startSimProcess(dir, timeScale);
    try {
      return await body(sim, dir);
    } finally {
      await sim.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One cap: a fresh sim process and runner, 200 warm-up tasks, then `tasks` measured. With `again`,
 * `tasks` more are measured right after in the same runner and sim: by then most of both
 * processes' hot code is compiled, which the first round is still doing (V8 compiles on other
 * threads of the process, counted in its CPU).
 */
async function splitRun(cap: number, tasks: number, timeScale: number, again = false): Promise<SplitFigures> {
  return withSimProcess(timeScale, async (sim, dir) => {
    const runner = await createRunner({
      kubeConfig: sim.kubeConfig,
      namespace: 'default',
      store: `sqlite://${join(dir, 'store.sqlite')}`,
      maxConcurrentJobs: cap,
      queueSize: 100_000,
      // The default 20 QPS would cap the figure at ~7 lifecycles/s: measure the engine, not the limiter.
      rateLimit: { qps: 100_000, burst: 100_000 },
    });
    try {
      /** Runs `n` tasks to their end; returns how many did not succeed (a loaded sim can time creates out). */
      const lifecycles = async (prefix: string, n: number): Promise<number> => {
        const ids = Array.from({ length: n }, (_, i) => `${prefix}-${String(i)}`);
        await Promise.all(ids.map((id) => runner.addTask({ id, image: 'busybox:1.36', command: ['true'] })));
        const records = await Promise.all(ids.map((id) => runner.waitFor(id)));
        const wrong = records.filter((r) => r.outcome !== 'succeeded');
        if (wrong.length > 0)
          process.stderr.write(
            `engine-split bench: ${String(wrong.length)} of ${String(n)} tasks did not succeed, ` +
              `e.g. ${JSON.stringify(wrong[0]?.failure)}\n`,
          );
        return wrong.length;
      };
      const measuredRound = async (prefix: string): Promise<Omit<SplitFigures, 'cap' | 'again'>> => {
        const cost = await measured(sim, () => lifecycles(prefix, tasks));
        const { result: failed, elapsedMs, clientCpuMs, clientMainThreadCpuMs, simCpuMs } = cost;
        return {
          tasks,
          failed,
          elapsedMs,
          runnerCpuMs: clientCpuMs,
          runnerMainThreadCpuMs: clientMainThreadCpuMs,
          simCpuMs,
        };
      };
      await lifecycles('warmup', 200);
      const profile = await startProfile();
      const first = await measuredRound('task');
      await profile?.stop(cap);
      return { cap, ...first, ...(again ? { again: await measuredRound('again') } : {}) };
    } finally {
      await runner.shutdown();
    }
  });
}

/**
 * The same API traffic per task without the engine (`bench/transport-floor.ts`): a fresh sim
 * process, 200 warm-up lifecycles, then `tasks` measured, `cap` at once.
 */
async function floorRun(cap: number, tasks: number, timeScale: number): Promise<RoundCost> {
  return withSimProcess(timeScale, async (sim) => {
    await transportFloorLifecycles(sim.kubeConfig, { count: 200, inFlight: cap, label: 'warmup' });
    return measured(sim, () =>
      transportFloorLifecycles(sim.kubeConfig, { count: tasks, inFlight: cap, label: 'task' }),
    );
  });
}

/** The note of every main-thread row. */
const mainThreadNote =
  "this process's main thread, the event loop (/proc/self/task); the rest is its other threads: " +
  "V8's optimizing compiler and GC helpers, libuv's pool (SQLite's queries)";

/**
 * The transport floor at cap 100 (`floorRun`), as rows: its CPU per lifecycle (whole process and
 * main thread), the sim's, its lifecycles/s, and the runner's CPU (`runnerMs`, measured just
 * before) as a multiple of it.
 */
async function floorRows(runnerMs: number, tasks: number, timeScale: number): Promise<BenchRow[]> {
  const floor = await floorRun(100, tasks, timeScale);
  process.stderr.write(`engine:split transport floor at 100: ${JSON.stringify(floor)}\n`);
  const floorMs = floor.clientCpuMs / tasks;
  return [
    {
      section: 'engine:split',
      name: 'cap 100: transport floor, CPU per lifecycle',
      value: round(floorMs, 3),
      unit: 'ms',
      note:
        "the runner's API traffic without the engine (bench/transport-floor.ts): create, Jobs and Pods " +
        `watches, log read, delete, ${String(tasks)} after 200; no state machine, no store`,
    },
    {
      section: 'engine:split',
      name: 'cap 100: transport floor, CPU per lifecycle, main thread',
      value: round(floor.clientMainThreadCpuMs / tasks, 3),
      unit: 'ms',
      note: mainThreadNote,
    },
    {
      section: 'engine:split',
      name: 'cap 100: transport floor, sim CPU per lifecycle',
      value: round(floor.simCpuMs / tasks, 3),
      unit: 'ms',
      note: 'the sim serving that traffic',
    },
    {
      section: 'engine:split',
      name: 'cap 100: transport floor, lifecycles',
      value: round(tasks / (floor.elapsedMs / 1000)),
      unit: '/s',
    },
    {
      section: 'engine:split',
      name: 'runner CPU per lifecycle ÷ transport floor, cap 100',
      value: round(runnerMs / floorMs, 2),
      unit: '×',
      note: 'the engine (machines, store, retries, limiter) over the requests and watch events it cannot do without',
    },
  ];
}

/** The second round at one cap (`splitRun`'s `again`), as rows. */
function secondRoundRows(cap: number, again: NonNullable<SplitFigures['again']>): BenchRow[] {
  const name = (what: string): string => `cap ${String(cap)}, second round: ${what}`;
  const { tasks } = again;
  return [
    {
      section: 'engine:split',
      name: name('runner CPU per lifecycle'),
      value: round(again.runnerCpuMs / tasks, 3),
      unit: 'ms',
      note:
        `${String(tasks)} more right after, same runner and sim: most of their hot code is compiled by now ` +
        '(during the first round V8 is still compiling it, on other threads of the process)',
    },
    {
      section: 'engine:split',
      name: name('runner CPU per lifecycle, main thread'),
      value: round(again.runnerMainThreadCpuMs / tasks, 3),
      unit: 'ms',
      note: mainThreadNote,
    },
    {
      section: 'engine:split',
      name: name('sim CPU per lifecycle'),
      value: round(again.simCpuMs / tasks, 3),
      unit: 'ms',
    },
    {
      section: 'engine:split',
      name: name('lifecycles (add → deleted)'),
      value: round(tasks / (again.elapsedMs / 1000)),
      unit: '/s',
    },
    {
      section: 'engine:split',
      name: name('tasks not succeeded'),
      value: again.failed,
      unit: 'tasks',
    },
  ];
}

/** Runs the section: one round per cap, each figure followed by the recorded ones of the code before. */
export async function runEngineSplitBench(options: EngineSplitOptions = {}): Promise<BenchRow[]> {
  const tasksByCap = options.tasksByCap ?? { 100: 2000, 1000: 2000, 5000: 5000 };
  const timeScale = options.timeScale ?? 0.001;
  const rows: BenchRow[] = [];
  const runnerMsByCap = new Map<number, number>();
  for (const [capText, tasks] of Object.entries(tasksByCap)) {
    const cap = Number(capText);
    const f = await splitRun(cap, tasks, timeScale, cap === 100);
    process.stderr.write(`engine:split cap ${String(cap)}: ${JSON.stringify(f)}\n`);
    const runnerMs = f.runnerCpuMs / tasks;
    runnerMsByCap.set(cap, runnerMs);
    const sim = `sim in its own process (scripted, timeScale ${String(timeScale)})`;
    const how = `${String(tasks)} tasks after 200, SQLite store, ${sim}`;
    /** The recorded figures of the code before, as rows right under the one measured now. */
    const beforeRows = (what: string, unit: string, pick: (b: Before) => number): BenchRow[] =>
      before.flatMap(({ label, figures }) => {
        const was = figures[cap];
        if (!was) return [];
        return [
          {
            section: 'engine:split',
            name: `cap ${String(cap)}: ${what} — ${label}`,
            value: pick(was),
            unit,
            note: `${String(was.tasks)} tasks after 200`,
          },
        ];
      });
    rows.push(
      {
        section: 'engine:split',
        name: `cap ${String(cap)}: runner CPU per lifecycle`,
        value: round(runnerMs, 3),
        unit: 'ms',
        note: `${how}; aim ≤ 0.5 at cap 100, ≤ 1.5 × that at cap 5,000`,
      },
      ...beforeRows('runner CPU per lifecycle', 'ms', (b) => b.runnerMs),
      {
        section: 'engine:split',
        name: `cap ${String(cap)}: runner CPU per lifecycle, main thread`,
        value: round(f.runnerMainThreadCpuMs / tasks, 3),
        unit: 'ms',
        note: mainThreadNote,
      },
      {
        section: 'engine:split',
        name: `cap ${String(cap)}: sim CPU per lifecycle`,
        value: round(f.simCpuMs / tasks, 3),
        unit: 'ms',
        note: '/proc/PID/stat utime+stime; aim ≤ 1',
      },
      ...beforeRows('sim CPU per lifecycle', 'ms', (b) => b.simMs),
      {
        section: 'engine:split',
        name: `cap ${String(cap)}: lifecycles (add → deleted)`,
        value: round(tasks / (f.elapsedMs / 1000)),
        unit: '/s',
        note: 'aim ≥ 1,000; moves with the load of the machine',
      },
      ...beforeRows('lifecycles (add → deleted)', '/s', (b) => b.perSecond),
      {
        section: 'engine:split',
        name: `cap ${String(cap)}: tasks not succeeded`,
        value: f.failed,
        unit: 'tasks',
        note: 'should be 0; creates time out (30 s) when the sim cannot keep up',
      },
    );
    if (f.again) rows.push(...secondRoundRows(cap, f.again));
    // Right after the runner's rounds at 100, in the same state of this process, to compare with them.
    if (cap === 100) rows.push(...(await floorRows(runnerMs, tasks, timeScale)));
  }
  const at100 = runnerMsByCap.get(100);
  const at5000 = runnerMsByCap.get(5000);
  if (at100 !== undefined && at5000 !== undefined)
    rows.push({
      section: 'engine:split',
      name: 'runner CPU per lifecycle, cap 5,000 ÷ cap 100',
      value: round(at5000 / at100, 2),
      unit: '×',
      note: 'aim ≤ 1.5 (cost per task independent of live children)',
    });
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `npx tsx bench/engine-split.ts 2000 0 0`: 0 leaves a cap out (to profile one cap alone).
  const sizes = process.argv.slice(2).map(Number);
  const defaults: [number, number][] = [
    [100, 2000],
    [1000, 2000],
    [5000, 5000],
  ];
  const tasksByCap = Object.fromEntries(
    defaults.map(([cap, tasks], i): [number, number] => [cap, sizes[i] ?? tasks]).filter(([, n]) => n > 0),
  );
  console.table(await runEngineSplitBench({ tasksByCap }));
}
