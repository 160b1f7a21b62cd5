/**
 * The fault soak: every fault the sim can inject at once, for long, with the runner process
 * SIGKILLed and restarted in the middle. One parameterised run, used at two sizes:
 * `test/crash/soak.test.ts` (200 tasks, 5 kills, in `npm test`) and `npm run soak`
 * (`test/soak/run-soak.ts`: 1,000 tasks, 20 kills).
 *
 * Built on the crash suite: the runner is `test/crash/child-runner.ts` on a SQLite file (or a
 * PostgreSQL schema), the tasks are `mixedTasks` (`test/crash/random-kills.ts`), the end state
 * is checked by `CrashRun.endStateProblems` (one correct outcome per task, a valid machine path,
 * at most one Job created, nothing left in the sim or open in the store); this module adds the
 * faults, the kill loop, the duplicate/orphan counts by uid from the sim's creation audit, the
 * request-rate ceiling per runner process, and the figures of the summary.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { managedByLabel, managedByValue, taskIdAnnotation } from '../../src/jobs/labels.js';
import { startSimulatedCluster, type FaultOptions, type SimulatedCluster } from '../../src/sim/index.js';
import { seededRandom } from '../../src/sim/seeded-random.js';
import { openTaskStore } from '../../src/store/open-store.js';
import type { TaskOutcome } from '../../src/types.js';
import { CrashRun, dropRunSchemas, killAllChildren, type ChildRun } from '../crash/crash-harness.js';
import { within } from '../helpers/wait.js';
import { mixedTasks } from '../crash/random-kills.js';
import {
  arrivalSlackMs,
  busyStretches,
  busiestWindow,
  byProcess,
  describeWindow,
  recordStalls,
  stallSlack,
  worstWindow,
  type Ceiling,
  type Stall,
  type WorstWindow,
} from './request-rate.js';

/** The size of a soak run. */
export interface SoakSize {
  tasks: number;
  /** SIGKILLs of the runner process, each at a random instant of a launch (boot included). */
  kills: number;
  /** @default 30 */
  maxConcurrentJobs?: number;
  /** The runner's rate limit, whose ceiling is checked. @default { qps: 100, burst: 20 } */
  rateLimit?: Ceiling;
  /** Seeds the faults and the kill instants (`SOAK_SEED` overrides). @default 20261203 */
  seed?: number;
  /**
   * How often a `410 Expired` is forced on every open watch. A tick that falls while the runner
   * is down (between a kill and the next launch) finds no watch to expire, so a short run needs
   * several. @default 10000
   */
  expireWatchesEveryMs?: number;
  /** Told of each launch, kill and end of a runner process (the script prints them). */
  progress?: (line: string) => void;
}

/** Injected faults, by kind. */
export interface SoakFaultCounts {
  http500: number;
  http503: number;
  http429: number;
  resetsBefore: number;
  resetsAfter: number;
  watchesDropped: number;
  watchesExpired: number;
}

/** What one soak run did and found. */
export interface SoakSummary {
  tasks: number;
  outcomes: Record<TaskOutcome, number>;
  kills: number;
  launches: number;
  faults: SoakFaultCounts;
  /** Requests the sim answered (injected failures included). */
  requests: number;
  /** Jobs created beyond the first for a task (distinct uids in the sim's creation audit, minus one). */
  duplicates: number;
  /** Jobs of ours left in the sim, plus Jobs created for no task of the run. */
  orphans: number;
  ceiling: Ceiling;
  /** The most requests of one runner process that reached the sim within any 1 s. */
  busiestSecond: number;
  /** The window furthest over `burst + qps·T` (T widened by `slackMs`): `excess` ≤ 0 when the ceiling held. */
  worstWindow: WorstWindow;
  slackMs: number;
  /** The period of the forced `410 Expired` (`SoakSize.expireWatchesEveryMs`). */
  expireWatchesEveryMs: number;
  wallMs: number;
  /** Everything wrong, as sentences: [] when the run passed. */
  problems: string[];
  /** The run's store, kept when `problems` is not empty. */
  keptStore: string;
}

/**
 * The fault mix: of all requests, 10% answered 500 or 503 (half each), 2% 429 with
 * `Retry-After: 1`, 1% reset before the API sees them and 0.5% reset after it applied them (a
 * create that happened, its answer lost); every open watch dropped every 2 s, and a `410
 * Expired` forced on every open watch every `expireWatchesEveryMs`. A rule's `rate` is drawn only
 * for requests the rules before it let through, hence the divisions.
 */
export function soakFaults(seed: number, expireWatchesEveryMs = 10_000): FaultOptions {
  return {
    seed,
    resets: [{ rate: 0.01 }, { rate: 0.005 / 0.99, phase: 'after' }],
    errors: [
      { status: 500, rate: 0.05 },
      { status: 503, rate: 0.05 / 0.95 },
      { status: 429, retryAfterSeconds: 1, rate: 0.02 / 0.9 },
    ],
    dropWatchesEveryMs: 2000,
    expireWatchesEveryMs,
  };
}

const defaultSeed = 20261203;

/**
 * Runs the soak in a fresh sim and temporary directory, and removes both (the directory is kept
 * when a check failed: `keptStore` names its store, to read the histories).
 */
export async function runSoak(size: SoakSize): Promise<SoakSummary> {
  const seed = Number(process.env.SOAK_SEED ?? size.seed ?? defaultSeed);
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-soak-'));
  let cluster: SimulatedCluster | undefined;
  let keep = false;
  try {
    cluster = await startSimulatedCluster({
      timeScale: 0.01,
      kubelet: { runtime: 'scripted' },
      // The rate check needs every request of the run, not the latest 10,000.
      recordRequests: true,
      faults: soakFaults(seed, size.expireWatchesEveryMs),
    });
    await cluster.writeKubeconfig(join(dir, 'kubeconfig.yaml'));
    const summary = await soakIn(cluster, dir, size, seed);
    keep = summary.problems.length > 0;
    return summary;
  } finally {
    await killAllChildren();
    await cluster?.close();
    if (!keep) {
      await dropRunSchemas();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function soakIn(cluster: SimulatedCluster, dir: string, size: SoakSize, seed: number): Promise<SoakSummary> {
  const say = size.progress ?? (() => undefined);
  const ceiling = size.rateLimit ?? { qps: 100, burst: 20 };
  const tasks = mixedTasks(size.tasks);
  const run = new CrashRun(cluster, dir, `soak-${size.tasks}`, tasks, {
    maxConcurrentJobs: size.maxConcurrentJobs ?? 30,
    queueSize: size.tasks + 100,
    addConcurrently: true,
    // As in the random-kills run: no task here ends by the pending budget, and a reboot under
    // faults must not let a 2.5 s budget pass before the runner sees a pull error.
    pendingBudgetMs: 60_000,
    rateLimit: ceiling,
  });
  const random = seededRandom(seed);
  // A launch that is not killed must finish what is left: at worst every task, at the rate limit.
  const launchTimeoutMs = 60_000 + size.tasks * 300;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  /** This process's (the sim's) stalls of 5 ms or more. */
  const simStalls: Stall[] = [];
  const stopRecordingStalls = recordStalls((stall) => simStalls.push(stall));
  const starts: number[] = [];
  /** Per launch: the longest event-loop stall the runner process reported (ms). */
  const runnerStallsMs: number[] = [];
  /** Per launch: each stall of 5 ms or more the runner process reported. */
  const runnerStalls: Stall[][] = [];
  const startedAt = Date.now();
  for (;;) {
    if (run.log.launches >= size.kills + 10) throw new Error(`soak: not done after ${run.log.launches} launches`);
    starts.push(Date.now());
    const child = await run.launch();
    let readyAfterMs: number | undefined;
    child
      .waitFor((m) => m.event === 'ready', 'ready')
      .then(
        () => (readyAfterMs = Date.now() - (starts.at(-1) ?? 0)),
        () => undefined,
      );
    const killing = run.log.kills.length < size.kills ? killAtRandom(run, child, random) : undefined;
    const code = await within(
      child.exited,
      launchTimeoutMs,
      () =>
        `soak: launch #${run.log.launches} neither finished nor died within ${launchTimeoutMs} ms:\n${child.tail()}`,
    );
    await killing;
    runnerStallsMs.push(Math.max(0, ...child.messages.map((m) => (m.event === 'stall' ? m.maxMs : 0))));
    runnerStalls.push(child.messages.flatMap((m) => (m.event === 'stalled' ? [{ endAt: m.endAt, ms: m.ms }] : [])));
    const done = code === 0 && child.messages.some((m) => m.event === 'done');
    say(
      `launch #${run.log.launches}: ready after ${readyAfterMs ?? '-'} ms, ` +
        `${done ? 'done' : String(code)} after ${Date.now() - (starts.at(-1) ?? 0)} ms, ` +
        `${child.messages.filter((m) => m.event === 'transition' && m.to === 'deleted').length} tasks deleted`,
    );
    if (done) break;
    if (code !== 'SIGKILL') throw new Error(`soak: launch #${run.log.launches} ended with ${code}:\n${child.tail()}`);
  }
  const wallMs = Date.now() - startedAt;
  loop.disable();
  stopRecordingStalls();

  const problems = await run.endStateProblems();
  const ids = new Set(tasks.map((t) => t.id));
  const uids = new Map<string, Set<string>>();
  let strays = 0;
  for (const creation of cluster.jobCreations()) {
    const id = creation.annotations[taskIdAnnotation];
    if (id === undefined || !ids.has(id)) {
      strays++;
      continue;
    }
    uids.set(id, (uids.get(id) ?? new Set()).add(creation.uid));
  }
  const duplicates = [...uids.values()].reduce((sum, set) => sum + set.size - 1, 0);
  const left = cluster.objects('jobs').filter((job) => job.metadata.labels?.[managedByLabel] === managedByValue);
  const orphans = left.length + strays;
  if (strays > 0) problems.push(`${strays} Jobs were created for no task of the run`);

  // A request can be stamped late on three counts, each of which narrows the window it appears
  // in: on its way (arrivalSlackMs); held up in its runner's process after the limiter let it
  // through (that launch's longest stall); held up in the sim's, this process (requests that
  // reached it during a stall are stamped together). On a busy machine several stalls can end
  // within one window: it then gets their sum, when that is more (stallSlack). Stalls of one
  // process one tick apart count as one busy stretch (busyStretches). The sim's stalls under way
  // as a window begins let stalls that ended earlier count (what they let through waited in them).
  const simStallMs = loop.max / 1e6;
  const slackOf = (launch: number): number => arrivalSlackMs + simStallMs + (runnerStallsMs[launch] ?? 0);
  const requests = cluster.requests();
  const perProcess = byProcess(
    requests.map((r) => r.at),
    starts,
  );
  const slackMs = Math.max(...perProcess.map((_, i) => slackOf(i)));
  const simStretches = busyStretches(simStalls);
  let worst: WorstWindow = { count: 0, spanMs: 0, excess: -Infinity, slackMs: 0, startAt: Number.NaN };
  let busiestSecond = 0;
  perProcess.forEach((arrivals, i) => {
    const w = worstWindow(
      arrivals,
      ceiling,
      stallSlack([...simStretches, ...busyStretches(runnerStalls[i] ?? [])], slackOf(i), simStretches),
    );
    if (w.excess > worst.excess) worst = w;
    busiestSecond = Math.max(busiestSecond, busiestWindow(arrivals, 1000));
    if (w.excess > 0)
      problems.push(
        `launch #${i + 1}: ${w.count} requests within ${w.spanMs} ms, over burst ${ceiling.burst} + ${ceiling.qps}/s (slack ${w.slackMs} ms)\n` +
          describeWindow(requests, w, { sim: simStalls, runner: runnerStalls[i] ?? [] }),
      );
  });

  return {
    tasks: tasks.length,
    outcomes: await countOutcomes(run.storeUrl, [...ids]),
    kills: run.log.kills.length,
    launches: run.log.launches,
    faults: faultCounts(cluster),
    requests: cluster.stats().totalRequests,
    duplicates,
    orphans,
    ceiling,
    busiestSecond,
    worstWindow: worst,
    slackMs,
    expireWatchesEveryMs: size.expireWatchesEveryMs ?? 10_000,
    wallMs,
    problems,
    keptStore: run.storeUrl,
  };
}

/**
 * SIGKILLs `child` at a random instant, unless it ends first: a quarter of the kills 0.3 to 1.5 s
 * after the launch (while it loads and boots: reconciliation under faults), the others 0.5 to 4 s
 * after it reported `ready` (while it works).
 */
async function killAtRandom(run: CrashRun, child: ChildRun, random: () => number): Promise<void> {
  const duringBoot = random() < 0.25;
  const afterMs = Math.round(duringBoot ? 300 + random() * 1200 : 500 + random() * 3500);
  if (!duringBoot) {
    const ready = await child
      .waitFor((m) => m.event === 'ready', 'ready')
      .then(
        () => true,
        // It ended before it was ready: nothing to kill (the launch loop reports how it ended).
        () => false,
      );
    if (!ready) return;
  }
  let ended = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, afterMs);
    void child.exited.then(() => {
      ended = true;
      clearTimeout(timer);
      resolve();
    });
  });
  if (!ended) await run.kill(`${afterMs} ms after launch #${run.log.launches}${duringBoot ? '' : ' was ready'}`);
}

function faultCounts(cluster: SimulatedCluster): SoakFaultCounts {
  const counts: SoakFaultCounts = {
    http500: 0,
    http503: 0,
    http429: 0,
    resetsBefore: 0,
    resetsAfter: 0,
    watchesDropped: 0,
    watchesExpired: 0,
  };
  for (const fault of cluster.faults.injected()) {
    if (fault.kind === 'error') counts[`http${fault.status ?? 500}`]++;
    else if (fault.kind === 'reset') counts[fault.phase === 'after' ? 'resetsAfter' : 'resetsBefore']++;
    else if (fault.kind === 'watchDropped') counts.watchesDropped++;
    else if (fault.kind === 'watchExpired') counts.watchesExpired++;
  }
  return counts;
}

async function countOutcomes(storeUrl: string, ids: readonly string[]): Promise<Record<TaskOutcome, number>> {
  const outcomes: Record<TaskOutcome, number> = { succeeded: 0, failed: 0, timedOut: 0, cancelled: 0 };
  const store = await openTaskStore(storeUrl);
  try {
    for (const id of ids) {
      const outcome = (await store.getTask(id))?.outcome;
      if (outcome !== undefined) outcomes[outcome]++;
    }
  } finally {
    await store.close();
  }
  return outcomes;
}
