import { firstValueFrom, filter, lastValueFrom, toArray, takeWhile } from 'rxjs';
import { DuplicateTaskError, QueueFullError } from '../../src/errors.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createRunner } from '../../src/runner/create-runner.js';
import type { Runner } from '../../src/runner/runner-api.js';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { Transition } from '../../src/types.js';
import { behaviour, testStuckPolicy } from '../engine/harness.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';
import { waitUntil } from '../helpers/wait.js';
import { taskIdAnnotation } from '../../src/jobs/labels.js';

/*
 * Two replicas in one process on one simulated cluster and one PostgreSQL schema: real Leases
 * through the sim's API, real LISTEN/NOTIFY. Short election timings (2 s / 1.5 s / 0.5 s) keep
 * hand-overs quick. The failover suite with separate processes and SIGKILL is test/replicas/failover.
 */

const election = { leaseName: 'k8s-jobs', leaseDurationSeconds: 2, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.5 };

let cluster: SimulatedCluster | undefined;
let schema: string | undefined;
let runners: Runner[] = [];

afterEach(async () => {
  await Promise.allSettled(runners.map((r) => r.shutdown()));
  runners = [];
  await cluster?.close();
  cluster = undefined;
  if (schema) await dropSchemas([schema]);
  schema = undefined;
});

async function replicas(count: number, extra: { maxConcurrentJobs?: number; queueSize?: number } = {}) {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  schema = randomSchema('k8s_jobs_replicas');
  const store = postgresStoreUrl(schema);
  for (let i = 0; i < count; i++) {
    runners.push(
      await createRunner({
        kubeConfig: cluster.kubeConfig,
        namespace: 'default',
        store,
        rateLimit: { qps: 1000, burst: 100 },
        clientTimeoutGraceMs: 1000,
        stuck: testStuckPolicy,
        leaderElection: { ...election, identity: `replica-${i}` },
        ...extra,
      }),
    );
  }
  await waitUntil(() => runners.some((r) => r.health().leader?.leading), 'a leader', { timeoutMs: 10_000 });
  const leader = runners.find((r) => r.health().leader?.leading);
  const followers = runners.filter((r) => r !== leader);
  if (!leader) throw new Error('no leader');
  return { leader, followers };
}

describe('several replicas over one PostgreSQL store', () => {
  it('a follower accepts a task, the leader runs it, the follower sees every transition and the outcome', async () => {
    const { leader, followers } = await replicas(2);
    const follower = followers[0] as Runner;
    // A follower sees the holder at its next try (every retryPeriod, jittered).
    const holder = leader.health().leader?.identity;
    await waitUntil(() => follower.health().leader?.holder === holder, 'the follower seeing the leader');
    expect(follower.health().leader).toMatchObject({ leading: false, identity: 'replica-1' });
    const seen = firstValueFrom(
      follower.transitions$.pipe(
        filter((t) => t.taskId === 'f1'),
        takeWhile((t) => t.to !== 'deleted', true),
        toArray(),
      ),
    );
    await follower.addTask({
      id: 'f1',
      image: 'busybox',
      ...behaviour({ durationMs: 200, exitCode: 0, logs: ['f1 says hello'] }),
    });
    const done = await follower.waitFor('f1', { timeoutMs: 20_000 });
    expect(done).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    const path = (await seen).map((t: Transition) => t.to);
    expect(path[0]).toBe('queued');
    expect(path.at(-1)).toBe('deleted');
    expect(path).toContain('running');
    expect(path).toContain('succeeded');
    // The leader has it too, and the cluster ran exactly one Job for it.
    expect(await leader.getTask('f1')).toMatchObject({ outcome: 'succeeded' });
    const creations = cluster?.jobCreations().filter((c) => c.annotations[taskIdAnnotation] === 'f1');
    expect(creations).toHaveLength(1);
    // The rest of the API answers on the follower too.
    expect(await follower.getLogs('f1')).toContain('f1 says hello');
    expect(await lastValueFrom(follower.logs$('f1').pipe(toArray()))).toContain('f1 says hello');
    expect((await follower.listTasks()).items.map((r) => r.id)).toContain('f1');
    expect(await lastValueFrom(follower.task$('f1'))).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  });

  it("a follower's cancel reaches the leader through the store", async () => {
    const { followers } = await replicas(2);
    const follower = followers[0] as Runner;
    await follower.addTask({ id: 'long', image: 'busybox', ...behaviour({ durationMs: -1 }) });
    await waitUntil(async () => (await follower.getTask('long')).state === 'running', 'long running', {
      timeoutMs: 15_000,
    });
    await follower.cancel('long');
    const done = await follower.waitFor('long', { timeoutMs: 20_000 });
    expect(done.outcome).toBe('cancelled');
  });

  it('a leader that shuts down hands over: the other replica finishes what was queued', async () => {
    const { leader, followers } = await replicas(2, { maxConcurrentJobs: 1 });
    const follower = followers[0] as Runner;
    const events: RunnerEvent[] = [];
    follower.events$.subscribe((e) => events.push(e));
    for (let i = 0; i < 4; i++) {
      await follower.addTask({ id: `q${i}`, image: 'busybox', ...behaviour({ durationMs: 300, exitCode: 0 }) });
    }
    await waitUntil(async () => (await follower.getTask('q0')).state !== 'queued', 'q0 started', {
      timeoutMs: 15_000,
    });
    const leaderIdentity = leader.health().leader?.identity;
    await leader.shutdown();
    // Released on shutdown (an empty holder), so the follower takes over at its next try rather than
    // after the lease duration: checked on the Lease itself (the bench times the hand-over).
    const lease = cluster?.objects('leases', 'default').find((l) => l.metadata.name === election.leaseName);
    const holder = (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? '';
    expect(holder).not.toBe(leaderIdentity);
    expect(['', follower.health().leader?.identity]).toContain(holder);
    await waitUntil(() => follower.health().leader?.leading === true, 'the follower leading', { timeoutMs: 10_000 });
    for (let i = 0; i < 4; i++) {
      const done = await follower.waitFor(`q${i}`, { timeoutMs: 30_000 });
      expect(done.outcome).toBe('succeeded');
    }
    expect(events.some((e) => e.kind === 'leadership' && e.change === 'leading')).toBe(true);
  });

  it('queueSize holds across the replicas, and tasks start in the order they were added, whichever replica took them', async () => {
    const { leader, followers } = await replicas(3, { maxConcurrentJobs: 1, queueSize: 4 });
    const [f1, f2] = followers as [Runner, Runner];
    const started: string[] = [];
    leader.transitions$.pipe(filter((t) => t.to === 'creating')).subscribe((t) => started.push(t.taskId));
    // One holds the slot; four wait, added on the three replicas in turn.
    await f1.addTask({ id: 'hold', image: 'busybox', ...behaviour({ durationMs: 1500 }) });
    await waitUntil(() => started.includes('hold'), 'hold started');
    const order = ['w0', 'w1', 'w2', 'w3'];
    const via = [f1, f2, leader, f1];
    for (const [i, id] of order.entries()) {
      await via[i]?.addTask({ id, image: 'busybox', ...behaviour({ durationMs: 50 }) });
      // Each replica learns of the others' tasks from their notifications.
      await waitUntil(() => runners.every((r) => r.health().queue.depth === i + 1), `queue depth ${i + 1} everywhere`);
    }
    await expect(f2.addTask({ id: 'w4', image: 'busybox', ...behaviour({ durationMs: 50 }) })).rejects.toBeInstanceOf(
      QueueFullError,
    );
    for (const id of order) await f2.waitFor(id, { timeoutMs: 20_000 });
    expect(started).toEqual(['hold', ...order]);
  });

  it('one id added on two replicas at the same instant: the same spec is stored once, another spec is refused', async () => {
    const { leader, followers } = await replicas(2);
    const follower = followers[0] as Runner;
    const spec = { image: 'busybox', ...behaviour({ durationMs: 50 }) };
    const same = await Promise.all([
      follower.addTask({ id: 'same', ...spec }),
      leader.addTask({ id: 'same', ...spec }),
    ]);
    expect(same.map((r) => r.id)).toEqual(['same', 'same']);
    const raced = await Promise.allSettled([
      follower.addTask({ id: 'raced', ...spec, command: ['one'] }),
      leader.addTask({ id: 'raced', ...spec, command: ['two'] }),
    ]);
    expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = raced.find((r) => r.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(DuplicateTaskError);
    const done = await follower.waitFor('raced', { timeoutMs: 20_000 });
    const winner = raced.find((r) => r.status === 'fulfilled');
    expect(done.spec.command).toEqual(winner?.status === 'fulfilled' ? winner.value.spec.command : undefined);
    await follower.waitFor('same', { timeoutMs: 20_000 });
    const creations = cluster
      ?.jobCreations()
      .filter((c) => ['same', 'raced'].includes(c.annotations[taskIdAnnotation] ?? ''));
    expect(creations).toHaveLength(2);
  });
});
