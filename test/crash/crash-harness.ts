/**
 * The parent side of the crash suite: starts `child-runner.ts` as a real process on a SQLite file,
 * reads its JSON lines, SIGKILLs it, restarts it on the same file until every task is done, then
 * checks the end state from the sim's audit and the store. Every child it starts is tracked so a
 * failing test still kills it (`killChildrenOf` its cluster, or `killAllChildren`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskIdAnnotation } from '../../src/jobs/labels.js';
import type { SimulatedCluster } from '../../src/sim/index.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';
import type { TaskRecord } from '../../src/types.js';
import type { ChildConfig, ChildMessage, CrashTask, FreezePoint } from './protocol.js';
import { within } from '../helpers/wait.js';
import { historyProblems } from './task-paths.js';
import { testEntry } from '../helpers/test-entries.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** SIGKILLs every child still alive and waits for each to be gone. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...liveChildren].map((child) => killChild(child)));
}

/** The runs made on each cluster: tests that run concurrently each kill only their own children. */
const runsOf = new WeakMap<SimulatedCluster, Set<CrashRun>>();

/** SIGKILLs the child of every run made on `cluster` that is still alive, and waits for each to be gone. */
export async function killChildrenOf(cluster: SimulatedCluster): Promise<void> {
  await Promise.all([...(runsOf.get(cluster) ?? [])].map((run) => run.kill('the test ended')));
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

/**
 * How long one child may take before the suite gives up on it (a runner that does not recover
 * its tasks waits for them forever): long enough for the 300-task run, short enough that a
 * failing suite stays well under its time budget.
 */
export const launchTimeoutMs = 60_000;

/** One run of the child process. */
export class ChildRun {
  readonly messages: ChildMessage[] = [];
  #stdout = '';
  #stderr = '';
  readonly #listeners = new Set<() => void>();
  /** Resolves with the exit code, or the signal's name, once the process is gone. */
  readonly exited: Promise<number | NodeJS.Signals>;

  constructor(
    readonly child: ChildProcess,
    onMessage: (message: ChildMessage) => void = () => undefined,
  ) {
    liveChildren.add(child);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      let newline: number;
      while ((newline = this.#stdout.indexOf('\n')) >= 0) {
        const line = this.#stdout.slice(0, newline);
        this.#stdout = this.#stdout.slice(newline + 1);
        if (!line.startsWith('{')) continue;
        const message = JSON.parse(line) as ChildMessage;
        this.messages.push(message);
        onMessage(message);
      }
      this.#notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.#stderr += chunk));
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        liveChildren.delete(child);
        this.#notify();
        resolve(code ?? signal ?? -1);
      });
    });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** The first message matching `match`, as it arrives; rejects if the child ends first. */
  waitFor<M extends ChildMessage>(match: (m: ChildMessage) => m is M, what: string): Promise<M>;
  waitFor(match: (m: ChildMessage) => boolean, what: string): Promise<ChildMessage>;
  waitFor(match: (m: ChildMessage) => boolean, what: string): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.messages.find(match);
        if (found) {
          this.#listeners.delete(check);
          resolve(found);
        } else if (!this.alive) {
          this.#listeners.delete(check);
          reject(
            new Error(
              `the child ended (${this.child.exitCode ?? this.child.signalCode}) before ${what}; last lines:\n${this.tail()}`,
            ),
          );
        }
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** The last messages and stderr, for failure messages. */
  tail(): string {
    return [...this.messages.slice(-15).map((m) => JSON.stringify(m)), this.#stderr.slice(-2000)].join('\n');
  }

  kill(): Promise<void> {
    return killChild(this.child);
  }
}

/** What a crash run did: kills and launches, for the test's own assertions and messages. */
export interface RunLog {
  launches: number;
  kills: string[];
}

/** Schemas of the runs on PostgreSQL (K8S_JOBS_TEST_STORE=postgres), for {@link dropRunSchemas}. */
const runSchemas: string[] = [];

/** Drops the PostgreSQL schemas of every run made so far in this process. */
export const dropRunSchemas = (): Promise<void> => dropSchemas(runSchemas.splice(0));

/** One store file, one set of tasks, as many child processes as it takes. */
export class CrashRun {
  readonly storePath: string;
  /**
   * The store as `openTaskStore` takes it: `sqlite://<storePath>`, or with K8S_JOBS_TEST_STORE=postgres a
   * schema of its own on the test server (the children pass a Keyv over `@keyv/postgres`).
   */
  readonly storeUrl: string;
  readonly kubeconfigPath: string;
  /** Tasks whose `addTask` resolved in some child: the store must have them from then on. */
  readonly acknowledged = new Set<string>();
  /** Tasks some child reported `deleted` (done), for a test that paces its kills by progress. */
  readonly deleted = new Set<string>();
  readonly log: RunLog = { launches: 0, kills: [] };
  #current: ChildRun | undefined;

  constructor(
    readonly cluster: SimulatedCluster,
    readonly dir: string,
    readonly name: string,
    readonly tasks: readonly CrashTask[],
    readonly limits: {
      maxConcurrentJobs: number;
      queueSize: number;
      addConcurrently?: boolean;
      pendingBudgetMs?: number;
      rateLimit?: { qps: number; burst: number };
    },
  ) {
    this.storePath = join(dir, `${name}.sqlite`);
    const schema = process.env.K8S_JOBS_TEST_STORE === 'postgres' ? randomSchema('k8s_jobs_crash') : undefined;
    if (schema) runSchemas.push(schema);
    this.storeUrl = schema ? postgresStoreUrl(schema) : `sqlite://${this.storePath}`;
    this.kubeconfigPath = join(dir, 'kubeconfig.yaml');
    let runs = runsOf.get(cluster);
    if (!runs) runsOf.set(cluster, (runs = new Set()));
    runs.add(this);
  }

  /** The child now running, if any. */
  get current(): ChildRun | undefined {
    return this.#current;
  }

  /** Starts a child that adds every task not yet acknowledged, freezing at `freeze` if given. */
  async launch(freeze?: FreezePoint): Promise<ChildRun> {
    const config: ChildConfig = {
      kubeconfigPath: this.kubeconfigPath,
      storePath: this.storePath,
      maxConcurrentJobs: this.limits.maxConcurrentJobs,
      queueSize: this.limits.queueSize,
      tasks: [...this.tasks],
      add: this.tasks.map((t) => t.id).filter((id) => !this.acknowledged.has(id)),
      ...(this.limits.addConcurrently ? { addConcurrently: true } : {}),
      ...(this.limits.pendingBudgetMs !== undefined ? { pendingBudgetMs: this.limits.pendingBudgetMs } : {}),
      ...(this.limits.rateLimit ? { rateLimit: this.limits.rateLimit } : {}),
      ...(freeze ? { freeze } : {}),
      ...(this.storeUrl.startsWith('postgres') ? { storeUrl: this.storeUrl } : {}),
    };
    this.log.launches++;
    const configPath = join(this.dir, `${this.name}-${this.log.launches}.json`);
    await writeFile(configPath, JSON.stringify(config));
    const entry = testEntry('test/crash/child-runner.ts');
    // Source maps: a child's stack traces (in a failing test's tail) name the .ts lines.
    const child = spawn(process.execPath, ['--enable-source-maps', entry, configPath], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = new ChildRun(child, (m) => {
      if (m.event === 'added') this.acknowledged.add(m.id);
      if (m.event === 'transition' && m.to === 'deleted') this.deleted.add(m.id);
    });
    this.#current = run;
    return run;
  }

  /** SIGKILLs the current child (noting why) and waits until it is gone. */
  async kill(why: string): Promise<void> {
    const run = this.#current;
    if (!run?.alive) return;
    this.log.kills.push(why);
    await run.kill();
  }

  /**
   * A kill from inside a cluster change listener: the signal is sent synchronously, before the
   * API server answers the request that caused the change.
   */
  killNow(why: string): void {
    const run = this.#current;
    if (!run?.alive) return;
    this.log.kills.push(why);
    run.child.kill('SIGKILL');
  }

  /**
   * Restarts the child (without a freeze point) until one reports `done` and exits 0. Each launch
   * may be interrupted by `between(run)` (e.g. a random SIGKILL); `maxLaunches` bounds the loop.
   */
  async runToCompletion(
    options: { maxLaunches?: number; during?: (run: ChildRun) => Promise<void> | void } = {},
  ): Promise<void> {
    const maxLaunches = options.maxLaunches ?? 40;
    for (;;) {
      if (this.#current?.alive) await this.#current.kill();
      if (this.log.launches >= maxLaunches) throw new Error(`${this.name}: not done after ${maxLaunches} launches`);
      const run = await this.launch();
      const during = options.during?.(run);
      const code = await within(
        run.exited,
        launchTimeoutMs,
        () =>
          `${this.name}: launch #${this.log.launches} neither finished nor died within ${launchTimeoutMs} ms; last lines:\n${run.tail()}`,
      );
      await during;
      if (code === 0 && run.messages.some((m) => m.event === 'done')) return;
      if (code !== 'SIGKILL')
        throw new Error(`${this.name}: launch #${this.log.launches} ended with ${code}; last lines:\n${run.tail()}`);
    }
  }

  /**
   * Everything wrong with the end state, as sentences ([] when all is well): read from the sim's
   * audit and objects, and from the store file (opened once the child is gone).
   */
  async endStateProblems(): Promise<string[]> {
    if (this.#current?.alive) throw new Error('endStateProblems: a child is still running');
    const problems: string[] = [];
    const ids = new Set(this.tasks.map((t) => t.id));
    const creations = new Map<string, number>();
    for (const c of this.cluster.jobCreations()) {
      const id = c.annotations[taskIdAnnotation];
      if (id !== undefined && ids.has(id)) creations.set(id, (creations.get(id) ?? 0) + 1);
    }
    const left = this.cluster
      .objects('jobs')
      .filter((job) => ids.has(job.metadata.annotations?.[taskIdAnnotation] ?? ''));
    for (const job of left) problems.push(`Job ${job.metadata.name} is still in the sim`);
    const store = await openTaskStore(this.storeUrl);
    try {
      const open = await store.listOpenTasks();
      for (const task of open) problems.push(`${task.record.id} is still open in the store (${task.record.state})`);
      for (const task of this.tasks) {
        const created = creations.get(task.id) ?? 0;
        if (created > 1) problems.push(`${task.id}: ${created} Jobs created`);
        const record = await store.getTask(task.id);
        if (!record) {
          problems.push(
            `${task.id}: no record in the store${this.acknowledged.has(task.id) ? ' although addTask had resolved' : ''}`,
          );
          continue;
        }
        const history = await store.getTransitions(task.id);
        const ended = history.find((t) => t.outcome !== undefined);
        const how = ended ? `${ended.from} → ${ended.to} on ${ended.event}` : 'no outcome transition';
        problems.push(...recordProblems(task, record, created).map((p) => `${p}, ${how}`));
        problems.push(...historyProblems(task.id, history, task.expect));
        if (created > 0) {
          const snapshot = await store.getLogSnapshot(task.id);
          const printed = task.behaviour.logs?.map((l) => (typeof l === 'string' ? l : l.line)) ?? [];
          if (!snapshot) problems.push(`${task.id}: no log snapshot stored`);
          else if (!snapshot.final) problems.push(`${task.id}: the stored log snapshot is not final`);
          // A Job that hits its deadline while no runner is up has its pods deleted by Kubernetes:
          // their logs are gone for anyone, and the final snapshot must say so rather than be missing.
          else if (task.expect === 'timedOut' && snapshot.text === '' && snapshot.unavailable) continue;
          else if (
            task.expect !== 'cancelled' &&
            printed.length > 0 &&
            !snapshot.text.includes(printed[printed.length - 1] as string)
          ) {
            problems.push(
              `${task.id}: the stored log ${JSON.stringify(snapshot.text)} lacks ${JSON.stringify(printed[printed.length - 1])}`,
            );
          }
        }
      }
    } finally {
      await store.close();
    }
    return problems;
  }
}

/** The record's end state against what the task's behaviour implies. */
function recordProblems(task: CrashTask, record: TaskRecord, created: number): string[] {
  const problems: string[] = [];
  const say = (what: string): void =>
    void problems.push(
      `${task.id}: ${what} (record ${JSON.stringify({ state: record.state, outcome: record.outcome, failure: record.failure && { reason: record.failure.reason, exitCode: record.failure.exitCode, message: record.failure.message } })})`,
    );
  if (record.state !== 'deleted') say('not deleted');
  if (record.outcome !== task.expect) say(`outcome ${record.outcome}, expected ${task.expect}`);
  if (record.cleanupError !== undefined) say(`cleanup error ${record.cleanupError}`);
  // Only a task cancelled while queued never had a Job.
  if (created === 0 && task.expect !== 'cancelled') say('no Job was ever created');
  const b = task.behaviour;
  if (task.expect === 'failed') {
    if (b.pull === 'notFound' && !['ErrImagePull', 'ImagePullBackOff'].includes(record.failure?.reason ?? ''))
      say('expected an image pull failure');
    if (b.oomKilled && record.failure?.oomKilled !== true) say('expected oomKilled');
    if (!b.oomKilled && b.exitCode !== undefined && record.failure?.exitCode !== b.exitCode)
      say(`expected exit code ${b.exitCode}`);
  }
  if (task.expect === 'succeeded' && record.failure !== undefined) say('a succeeded task carries a failure');
  return problems;
}
