/**
 * Several replicas (`leaderElection`), side by side in one run:
 * - durable `addTask`/s: a runner of its own on SQLite, and a follower replica on PostgreSQL
 *   (the write plus its notification), 2,000 adds, 50 at a time, on the simulated cluster;
 * - follower → leader pickup latency: `addTask` resolved on the follower → the task's `creating`
 *   transition on the leader (LISTEN/NOTIFY, then the supervisor), p50/p99 of 200 tasks added
 *   one every 10 ms, under a cap that never holds them;
 * - graceful hand-over: the leader's `shutdown()` called → the follower leading;
 * - failover: the failover scenario (3 replica processes, the leader SIGKILLed 3 times): SIGKILL →
 *   another replica leading, and → the next Job created or deleted.
 * Election timings: 2 s / 1.5 s / 0.5 s (the failover suite's), so the bound `leaseDuration + 2 ×
 * retryPeriod` is 3,000 ms; with the defaults (15 s / 2 s) every figure scales with them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { createRunner } from '../src/runner/create-runner.js';
import type { Runner } from '../src/runner/runner-api.js';
import type { RunnerOptions } from '../src/runner/options.js';
import { startSimulatedCluster, type SimulatedCluster } from '../src/sim/index.js';
import { percentiles, runFailover } from '../test/replicas/failover.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../test/store/harnesses.js';
import { useTestEntries } from '../test/helpers/test-entries.js';
import { round, type BenchRow } from './section.js';

const election = { leaseName: 'k8s-jobs', leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.5 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function runnerOptions(cluster: SimulatedCluster, store: string, extra: RunnerOptions = {}): RunnerOptions {
  return {
    kubeConfig: cluster.kubeConfig,
    namespace: 'default',
    store,
    queueSize: 100_000,
    maxConcurrentJobs: 1,
    rateLimit: { qps: 1000, burst: 100 },
    ...extra,
  };
}

/** `count` adds, `concurrency` at a time, of tasks that stay queued (the cap is 1 and held). */
async function addRate(runner: Runner, prefix: string, count: number, concurrency = 50): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const id = `${prefix}-${next++}`;
        await runner.addTask({ id, image: 'busybox', command: ['true'] });
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function leaderOf(runners: Runner[]): Promise<{ leader: Runner; follower: Runner }> {
  for (let i = 0; i < 200; i++) {
    const leader = runners.find((r) => r.health().leader?.leading);
    const follower = runners.find((r) => r !== leader);
    if (leader && follower) return { leader, follower };
    await sleep(50);
  }
  throw new Error('no leader elected');
}

export async function runReplicasBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const section = 'replicas';
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-bench-replicas-'));
  const schemas = [randomSchema('k8s_jobs_bench_add'), randomSchema('k8s_jobs_bench_pickup')];
  // Pods take a minute: nothing finishes during the measurements (the queue is what is measured).
  const cluster = await startSimulatedCluster({ timeScale: 1, kubelet: { runtime: 'scripted' } });
  const runners: Runner[] = [];
  try {
    // addTask/s: SQLite (a runner of its own) and PostgreSQL (a follower of two replicas).
    const sqlite = await createRunner(runnerOptions(cluster, `sqlite://${join(dir, 'add.sqlite')}`));
    runners.push(sqlite);
    const sqliteRate = await addRate(sqlite, 'sqlite', 2000);
    await sqlite.shutdown();
    const addStore = postgresStoreUrl(schemas[0] as string);
    for (const identity of ['add-a', 'add-b'])
      runners.push(await createRunner(runnerOptions(cluster, addStore, { leaderElection: { ...election, identity } })));
    const { follower: addFollower } = await leaderOf(runners.slice(-2));
    const postgresRate = await addRate(addFollower, 'pg', 2000);
    rows.push(
      {
        section,
        name: 'durable addTask/s, SQLite (one runner)',
        value: round(sqliteRate),
        unit: 'tasks/s',
        note: '2,000 adds, 50 at a time',
      },
      {
        section,
        name: 'durable addTask/s, PostgreSQL (a follower replica)',
        value: round(postgresRate),
        unit: 'tasks/s',
        note: `same; ratio to SQLite ${round(postgresRate / sqliteRate, 2)}`,
      },
    );
    await Promise.all(runners.splice(0).map((r) => r.shutdown()));

    // Pickup latency and graceful hand-over, on a fresh schema.
    const pickupStore = postgresStoreUrl(schemas[1] as string);
    const pair: Runner[] = [];
    for (const identity of ['pick-a', 'pick-b'])
      pair.push(
        await createRunner(
          runnerOptions(cluster, pickupStore, { maxConcurrentJobs: 1000, leaderElection: { ...election, identity } }),
        ),
      );
    runners.push(...pair);
    const { leader, follower } = await leaderOf(pair);
    const creating = new Map<string, number>();
    const sub = leader.transitions$.pipe(filter((t) => t.to === 'creating')).subscribe((t) => {
      creating.set(t.taskId, performance.now());
    });
    const added = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const id = `pick-${i}`;
      await follower.addTask({ id, image: 'busybox', command: ['true'] });
      added.set(id, performance.now());
      await sleep(10);
    }
    for (let i = 0; i < 200 && creating.size < added.size; i++) await sleep(50);
    sub.unsubscribe();
    const latencies = [...added].flatMap(([id, at]) => {
      const started = creating.get(id);
      return started === undefined ? [] : [started - at];
    });
    const [p50, p99] = percentiles(latencies);
    rows.push(
      {
        section,
        name: 'pickup latency follower → leader, p50',
        value: round(p50, 1),
        unit: 'ms',
        note: `addTask resolved → creating on the leader, ${latencies.length} of 200 tasks`,
      },
      {
        section,
        name: 'pickup latency follower → leader, p99',
        value: round(p99, 1),
        unit: 'ms',
        note: 'LISTEN/NOTIFY; the periodic scan is every 5 s',
      },
    );
    const leading = firstValueFrom(
      follower.events$.pipe(filter((e) => e.kind === 'leadership' && e.change === 'leading')),
    );
    const stopAt = performance.now();
    await leader.shutdown();
    await leading;
    rows.push({
      section,
      name: 'graceful hand-over (shutdown → other leads)',
      value: round(performance.now() - stopAt),
      unit: 'ms',
      note: `bound 2 × retryPeriod = ${2 * election.retryPeriodSeconds * 1000} ms; detach shutdown, Lease released`,
    });
    await Promise.all(runners.splice(0).map((r) => r.shutdown()));
  } finally {
    await Promise.allSettled(runners.map((r) => r.shutdown()));
    await cluster.close();
    await dropSchemas(schemas);
    await rm(dir, { recursive: true, force: true });
  }

  // The replica processes run bundled, as in the tests (test/helpers/test-entries.ts).
  const entries = await useTestEntries();
  const failover = await runFailover({ tasks: 120, kills: 3, maxConcurrentJobs: 8 }).finally(() => entries.remove());
  const bound = election.leaseDurationSeconds * 1000 + 2 * election.retryPeriodSeconds * 1000;
  const [takeP50, , takeMax] = percentiles(failover.takeoverMs);
  const [actionP50, , actionMax] = percentiles(failover.firstJobActionMs);
  rows.push(
    {
      section,
      name: 'failover: SIGKILL → new leader, p50',
      value: round(takeP50),
      unit: 'ms',
      note: `${failover.kills} kills of 3 replica processes; bound ${bound} ms`,
    },
    {
      section,
      name: 'failover: SIGKILL → new leader, max',
      value: round(takeMax),
      unit: 'ms',
      note: failover.takeoverMs.map((v) => round(v)).join(', '),
    },
    {
      section,
      name: "failover: SIGKILL → new leader's first Job action, p50",
      value: round(actionP50),
      unit: 'ms',
      note: 'the next Job created or deleted',
    },
    {
      section,
      name: "failover: SIGKILL → new leader's first Job action, max",
      value: round(actionMax),
      unit: 'ms',
      note: failover.firstJobActionMs.map((v) => round(v)).join(', '),
    },
    {
      section,
      name: 'failover: duplicate Jobs / Jobs left / most unfinished',
      value: failover.duplicates.length + failover.jobsLeft,
      unit: 'count',
      note: `${failover.duplicates.length} / ${failover.jobsLeft} / ${failover.mostUnfinished} (cap ${failover.cap})`,
    },
  );
  return rows;
}
