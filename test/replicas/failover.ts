/**
 * The failover scenario, at two sizes (`failover.test.ts` in `npm test`, `test/slow/failover.test.ts`
 * in `npm run test:slow`; `bench/replicas.ts` prints its timings): three runner processes with
 * `leaderElection` on one PostgreSQL schema and one simulated cluster (in this process), tasks
 * submitted round-robin to all three, the leader SIGKILLed at random instants and restarted
 * under a new identity. Everything is checked from the outside: the sim's creation audit and
 * stored changes, and the store.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskIdAnnotation } from '../../src/jobs/labels.js';
import { seededRandom } from '../../src/sim/seeded-random.js';
import { startSimulatedCluster } from '../../src/sim/index.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { cancelled, exits, oom, succeeds, timesOut, unpullable } from '../crash/task-kinds.js';
import { trackUnfinished } from '../helpers/sim-jobs.js';
import { testEntry } from '../helpers/test-entries.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';
import { historyProblems } from '../crash/task-paths.js';
import type { CrashTask } from '../crash/protocol.js';
import type { ReplicaConfig, ReplicaReply, ReplicaRequest } from './replica-protocol.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The size and timings of one run. */
export interface FailoverSize {
  tasks: number;
  kills: number;
  replicas?: number;
  maxConcurrentJobs?: number;
  /** The election's timings (seconds). */
  election?: ReplicaConfig['election'];
  /** Random wait between kills (ms). @default [1500, 4000] */
  killEveryMs?: readonly [number, number];
  seed?: number;
  /** Restart each killed replica (under a new identity). @default true */
  restart?: boolean;
}

/** What a run measured and found. */
export interface FailoverSummary {
  tasks: number;
  kills: number;
  launches: number;
  /** Per kill: SIGKILL of the leader → another replica's `leading` event (ms). */
  takeoverMs: number[];
  /**
   * Per kill: SIGKILL of the leader → the next Job created or deleted in the cluster (ms); none for
   * a kill after every task was deleted.
   */
  firstJobActionMs: number[];
  /** Tasks whose Job was created more than once (by uid, from the sim's audit). */
  duplicates: string[];
  /** Our Jobs still in the cluster at the end. */
  jobsLeft: number;
  /** The most of our Jobs unfinished at once (from every change the sim stored) and the cap. */
  mostUnfinished: number;
  cap: number;
  /** Stored histories that are not a valid machine path ending in the expected outcome. */
  problems: string[];
  wallMs: number;
  election: ReplicaConfig['election'];
  /** Kills, launches and leadership events in order (ms since the start), for failure messages. */
  timeline: string[];
}

/**
 * `count` tasks of mixed outcomes: mostly short successes, exit codes, OOM, timeouts, unpullable
 * images, cancels, and one in ten running for 3 s, so that failovers find tasks mid-run.
 */
export function failoverTasks(count: number): CrashTask[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `ha-${String(i).padStart(4, '0')}`;
    switch (i % 20) {
      case 3:
      case 13:
        return succeeds(id, 3000);
      case 5:
        return exits(id, 1 + (i % 5));
      case 7:
        return oom(id);
      case 9:
        return i % 40 === 9 ? timesOut(id) : unpullable(id);
      case 11:
        return cancelled(id);
      default:
        return succeeds(id, 20 + ((i * 37) % 300));
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One replica process. */
class Replica {
  readonly replies: ReplicaReply[] = [];
  readonly #listeners = new Set<(reply: ReplicaReply | 'exit') => void>();
  readonly exited: Promise<void>;

  constructor(
    readonly identity: string,
    readonly child: ChildProcess,
    onReply: (replica: Replica, reply: ReplicaReply) => void,
  ) {
    child.on('message', (reply: ReplicaReply) => {
      this.replies.push(reply);
      onReply(this, reply);
      for (const listener of [...this.#listeners]) listener(reply);
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.stderr = stderr;
        for (const listener of [...this.#listeners]) listener('exit');
        resolve();
      }),
    );
  }

  stderr = '';
  /** The holder this replica last reported seeing. */
  seenLeader = '';

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(request: ReplicaRequest): void {
    if (this.alive) this.child.send(request);
  }

  /** The first reply matching, or undefined when the process ends first. */
  until(match: (reply: ReplicaReply) => boolean, timeoutMs: number): Promise<ReplicaReply | undefined> {
    const found = this.replies.find(match);
    if (found) return Promise.resolve(found);
    if (!this.alive) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (reply: ReplicaReply | undefined): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(reply);
      };
      const listener = (reply: ReplicaReply | 'exit'): void => {
        if (reply === 'exit') done(undefined);
        else if (match(reply)) done(reply);
      };
      this.#listeners.add(listener);
    });
  }
}

/** Runs the scenario; every process and the schema are cleaned up whatever happens. */
export async function runFailover(size: FailoverSize): Promise<FailoverSummary> {
  const started = Date.now();
  const election = size.election ?? { leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.5 };
  const cap = size.maxConcurrentJobs ?? 10;
  const replicaCount = size.replicas ?? 3;
  const random = seededRandom(size.seed ?? 7);
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-failover-'));
  const schema = randomSchema('k8s_jobs_failover');
  const storeUrl = postgresStoreUrl(schema);
  const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  await cluster.writeKubeconfig(kubeconfigPath);
  const tracker = trackUnfinished(cluster);
  const jobActions: number[] = [];
  const stopActions = cluster.onChange(({ resource, type, at }) => {
    if (resource === 'jobs' && type !== 'MODIFIED') jobActions.push(at);
  });
  const replicas: Replica[] = [];
  let leader: Replica | undefined;
  const leadings: Array<{ replica: Replica; at: number }> = [];
  let launches = 0;
  const timeline: string[] = [];
  let store: KeyvTaskStore | undefined;

  const launch = async (slot: number): Promise<Replica> => {
    launches++;
    const identity = `replica-${slot}-${launches}`;
    const config: ReplicaConfig = { kubeconfigPath, storeUrl, identity, maxConcurrentJobs: cap, election };
    const configPath = join(dir, `${identity}.json`);
    await writeFile(configPath, JSON.stringify(config));
    const child = fork(testEntry('test/replicas/replica-child.ts'), [configPath], {
      cwd: repoRoot,
      execArgv: ['--enable-source-maps'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    timeline.push(`${Date.now() - started} launch ${identity}`);
    const replica = new Replica(identity, child, (from, reply) => {
      if (reply.type === 'leadership' && reply.change === 'newLeader') from.seenLeader = reply.leader;
      if (reply.type === 'leadership')
        timeline.push(`${reply.at - started} ${from.identity} ${reply.change} ${reply.leader} ${reply.reason ?? ''}`);
      if (reply.type !== 'leading') return;
      timeline.push(`${reply.at - started} ${from.identity} leading`);
      leader = from;
      leadings.push({ replica: from, at: reply.at });
    });
    replicas[slot] = replica;
    const ready = await replica.until((r) => r.type === 'ready', 60_000);
    if (!ready) throw new Error(`${identity} did not start:\n${replica.stderr}`);
    return replica;
  };

  try {
    await Promise.all(Array.from({ length: replicaCount }, (_, slot) => launch(slot)));
    const tasks = failoverTasks(size.tasks);
    const expected = new Map(tasks.map((t) => [t.id, t.expect]));

    /** Sends the task to live replicas in turn until one acknowledges it. */
    let turn = 0;
    const submit = async (task: CrashTask): Promise<void> => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const live = replicas.filter((r) => r.alive);
        const replica = live[turn++ % Math.max(1, live.length)];
        if (!replica) {
          await sleep(100);
          continue;
        }
        replica.send({ type: 'add', task });
        const reply = await replica.until(
          (r) => (r.type === 'added' || r.type === 'failed') && r.id === task.id,
          20_000,
        );
        if (reply?.type === 'added') return;
        await sleep(50);
      }
      throw new Error(`no replica acknowledged ${task.id}`);
    };
    const submitted = (async () => {
      for (let i = 0; i < tasks.length; i += 20) await Promise.all(tasks.slice(i, i + 20).map(submit));
    })();

    const waitForSettled = async (): Promise<void> => {
      const settled = (): boolean =>
        leader?.alive === true &&
        replicas.every(
          // A replica killed for good (no restart) is left out.
          (r) =>
            (!r.alive && size.restart === false) || (r.alive && (r === leader || r.seenLeader === leader?.identity)),
        );
      const until = Date.now() + 120_000;
      while (!settled()) {
        if (Date.now() > until) throw new Error(`replicas not settled:\n${timeline.slice(-20).join('\n')}`);
        await sleep(50);
      }
    };
    const takeoverMs: number[] = [];
    const firstJobActionMs: number[] = [];
    /** Set once every task is deleted: a kill after that has no Job action to wait for. */
    let allDeleted = false;
    const kills = (async () => {
      const [low, high] = size.killEveryMs ?? [1500, 4000];
      for (let k = 0; k < size.kills; k++) {
        // Every replica up and following the leader first: a kill measures the takeover, not how
        // long a restarted process takes to start on a loaded machine.
        await waitForSettled();
        await sleep(low + random() * (high - low));
        const victim = leader?.alive ? leader : undefined;
        if (!victim) {
          k--;
          continue;
        }
        const slot = replicas.indexOf(victim);
        const killedAt = Date.now();
        timeline.push(`${killedAt - started} SIGKILL ${victim.identity}`);
        const before = leadings.length;
        victim.child.kill('SIGKILL');
        await victim.exited;
        // Restarted at once, under a new identity (a process that died is not the holder it was).
        if (size.restart !== false) void launch(slot);
        const deadline = Date.now() + 60_000;
        while (!leadings.slice(before).some((l) => l.replica !== victim) && Date.now() < deadline) await sleep(20);
        const next = leadings.slice(before).find((l) => l.replica !== victim);
        if (!next) throw new Error(`no replica took over within 60 s of kill ${k + 1}`);
        takeoverMs.push(next.at - killedAt);
        // A kill that lands after the last task was deleted (CI waited out the 60 s for one) has
        // no Job action to come.
        while (!jobActions.some((at) => at >= next.at) && !allDeleted && Date.now() < deadline) await sleep(20);
        const action = jobActions.find((at) => at >= next.at);
        if (action !== undefined) firstJobActionMs.push(action - killedAt);
      }
    })();

    // Cancels: asked through a random live replica once the task runs (again if it seems lost).
    store = await openTaskStore(storeUrl, { readOnly: true });
    const openStore = store;
    const cancelAskedAt = new Map<string, number>();
    const toCancel = tasks.filter((t) => t.cancelWhenRunning).map((t) => t.id);
    const deadline = Date.now() + 60_000 + size.tasks * 400;
    let remaining = new Set(tasks.map((t) => t.id));
    await submitted;
    while (remaining.size > 0) {
      if (Date.now() > deadline)
        throw new Error(`tasks not deleted in time: ${[...remaining].slice(0, 10).join(', ')}`);
      for (const id of toCancel) {
        const record = await openStore.getTask(id);
        const asked = cancelAskedAt.get(id);
        if (record?.state !== 'running' || (asked !== undefined && Date.now() - asked < 3000)) continue;
        const live = replicas.filter((r) => r.alive);
        live[Math.floor(random() * live.length)]?.send({ type: 'cancel', id });
        cancelAskedAt.set(id, Date.now());
      }
      const records = await Promise.all([...remaining].map((id) => openStore.getTask(id)));
      remaining = new Set(
        records.filter((r) => r?.state !== 'deleted').map((r, i) => r?.id ?? [...remaining][i] ?? ''),
      );
      await sleep(250);
    }
    allDeleted = true;
    timeline.push(`${Date.now() - started} every task deleted`);
    await kills;

    const problems: string[] = [];
    for (const [id, expect] of expected) {
      const history = await openStore.getTransitions(id);
      const found = historyProblems(id, history, expect);
      if (found.length > 0)
        found.push(`${id} history: ${history.map((t) => `${t.at} ${t.from}→${t.to} (${t.event})`).join('; ')}`);
      problems.push(...found);
    }
    const byTask = new Map<string, Set<string>>();
    for (const c of cluster.jobCreations()) {
      const id = c.annotations[taskIdAnnotation] ?? '';
      byTask.set(id, (byTask.get(id) ?? new Set()).add(c.uid));
    }
    const duplicates = [...byTask].filter(([, uids]) => uids.size > 1).map(([id]) => id);
    const jobsLeft = cluster
      .objects('jobs', 'default')
      .filter((j) => j.metadata.labels?.['app.kubernetes.io/managed-by'] === 'k8s-jobs').length;
    return {
      tasks: tasks.length,
      kills: takeoverMs.length,
      launches,
      takeoverMs,
      firstJobActionMs,
      duplicates,
      jobsLeft,
      mostUnfinished: tracker.most(),
      cap,
      problems,
      wallMs: Date.now() - started,
      election,
      timeline,
    };
  } finally {
    tracker.stop();
    stopActions();
    for (const replica of replicas) replica.send({ type: 'shutdown' });
    await Promise.race([Promise.all(replicas.map((r) => r.exited)), sleep(10_000)]);
    for (const replica of replicas) if (replica.alive) replica.child.kill('SIGKILL');
    await store?.close();
    await cluster.close();
    await dropSchemas([schema]);
    await rm(dir, { recursive: true, force: true });
  }
}

/** `[p50, p99, max]` of `values` (ms), for the summary line. */
export function percentiles(values: readonly number[]): [number, number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return [at(0.5), at(0.99), sorted.at(-1) ?? NaN];
}
