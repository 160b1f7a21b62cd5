import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { KubernetesApiError, ValidationError } from '../../src/errors.js';
import { createLeaseLock } from '../../src/kube/lease-lock.js';
import {
  LeaderElector,
  resolveLeaderElectionOptions,
  type LeaderElectionOptions,
  type LeaderEvent,
} from '../../src/leader/index.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitUntil, within } from '../helpers/wait.js';

/*
 * LeaderElector over the client-node Lease lock against the simulated cluster, over real HTTP,
 * with the times scaled down (lease 2 s, renew deadline 1 s, retry 0.2 s). A network partition
 * is a TCP proxy that stops answering: the partitioned leader cannot renew, must say `lost`
 * before anyone else can acquire, and another replica takes over. Measured times are printed.
 */

const times = { leaseDurationSeconds: 2, renewDeadlineSeconds: 1, retryPeriodSeconds: 0.2 } as const;

let cluster: SimulatedCluster;
let api: CoordinationV1Api;
const running: LeaderElector[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  api = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
afterAll(async () => cluster.close());

interface Candidate {
  elector: LeaderElector;
  events: LeaderEvent[];
}

function candidate(
  leaseName: string,
  identity: string,
  kubeConfig: KubeConfig = cluster.kubeConfig,
  options: Partial<LeaderElectionOptions> = {},
): Candidate {
  const config = resolveLeaderElectionOptions({ leaseName, namespace: 'default', identity, ...times, ...options });
  const elector = new LeaderElector(config, createLeaseLock(kubeConfig, { namespace: 'default', name: leaseName }));
  const events: LeaderEvent[] = [];
  elector.events$.subscribe((event) => events.push(event));
  running.push(elector);
  elector.start();
  return { elector, events };
}

const readLease = (name: string): Promise<V1Lease> => api.readNamespacedLease({ name, namespace: 'default' });
const first = (c: Candidate, type: LeaderEvent['type']) => c.events.find((e) => e.type === type);
const leaders = (cs: Candidate[]) => cs.filter((c) => c.elector.isLeader());

describe('LeaderElector against the simulated cluster', () => {
  test('three candidates: exactly one leads, the Lease names it, the others see it as leader', async () => {
    const cs = ['a', 'b', 'c'].map((id) => candidate('three', `three-${id}`));
    const leader = await waitUntil(() => leaders(cs)[0], 'a leader');
    await waitUntil(
      () => cs.every((c) => c.events.some((e) => e.type === 'leader' && e.identity === leader.elector.identity)),
      'every candidate observing the leader',
    );
    // A renewal later, still exactly one.
    const renewedAt = (await readLease('three')).spec?.renewTime;
    await waitUntil(async () => (await readLease('three')).spec?.renewTime !== renewedAt, 'a renewal');
    expect(leaders(cs)).toEqual([leader]);
    const spec = (await readLease('three')).spec;
    expect(spec).toMatchObject({
      holderIdentity: leader.elector.identity,
      leaseDurationSeconds: 2,
      leaseTransitions: 0,
    });
    expect(String(spec?.renewTime)).toMatch(/\.\d{6}Z$/);
    // Candidates racing to create the Lease: the losers' creates are 409 AlreadyExists, nothing else fails.
    for (const failure of cs.flatMap((c) => c.events.filter((e) => e.type === 'attemptFailed')))
      expect(failure).toMatchObject({ phase: 'acquire', error: { statusCode: 409, reason: 'AlreadyExists' } });
  });

  test('a partitioned leader says lost within renewDeadline, before another candidate acquires', async () => {
    const proxy = await startTcpProxy(cluster.url);
    proxies.push(proxy);
    const old = candidate('partition', 'partition-old', proxy.kubeConfig);
    await waitUntil(() => old.elector.isLeader(), 'the first leader');
    const others = ['b', 'c'].map((id) => candidate('partition', `partition-${id}`));
    await waitUntil(
      () => others.every((c) => c.events.some((e) => e.type === 'leader' && e.identity === 'partition-old')),
      'the followers observing the leader',
    );
    const lastRenew = Date.parse(String((await readLease('partition')).spec?.renewTime));
    const partitionedAt = Date.now();
    proxy.setMode('silent');
    proxy.silenceOpen();

    const next = await waitUntil(() => leaders(others)[0], 'a new leader', { timeoutMs: 30_000 });
    const lost = first(old, 'lost');
    const leading = first(next, 'leading');
    expect(lost).toMatchObject({ reason: 'renewDeadline' });
    expect(old.elector.isLeader()).toBe(false);
    const lease = await readLease('partition');
    const acquiredAt = Date.parse(String(lease.spec?.acquireTime));
    // The order that makes it safe: the old leader stopped before the new one took the Lease.
    expect(lost!.at).toBeLessThan(acquiredAt);
    expect(lost!.at).toBeLessThan(leading!.at);
    expect(lease.spec).toMatchObject({ holderIdentity: next.elector.identity, leaseTransitions: 1 });
    expect(leaders([old, ...others])).toEqual([next]);
    // Generous correctness bounds: lost by renewDeadline (+ slack), takeover not before leaseDuration.
    expect(lost!.at - lastRenew).toBeLessThan(1000 + 1000);
    expect(leading!.at - lastRenew).toBeGreaterThanOrEqual(2000);
    console.log(
      `failover: partition → old leader lost ${lost!.at - partitionedAt} ms; ` +
        `partition → new leader ${leading!.at - partitionedAt} ms; ` +
        `last renewal → new leader ${leading!.at - lastRenew} ms (leaseDuration 2000 ms, renewDeadline 1000 ms)`,
    );
  });

  test('stop() releases the Lease: another candidate takes over in about retryPeriod', async () => {
    const a = candidate('handover', 'handover-a');
    await waitUntil(() => a.elector.isLeader(), 'a leading');
    const b = candidate('handover', 'handover-b');
    await waitUntil(() => b.events.some((e) => e.type === 'leader' && e.identity === 'handover-a'), 'b following a');
    const stoppedAt = Date.now();
    const result = await a.elector.stop();
    expect(result).toEqual({ released: true });
    // lost (stopped) comes before the release write.
    expect(first(a, 'lost')).toMatchObject({ reason: 'stopped' });
    const released = await readLease('handover');
    expect(['', 'handover-b']).toContain(released.spec?.holderIdentity);
    await waitUntil(() => b.elector.isLeader(), 'b leading', { timeoutMs: 10_000 });
    const handover = first(b, 'leading')!.at - stoppedAt;
    const spec = (await readLease('handover')).spec;
    expect(spec).toMatchObject({ holderIdentity: 'handover-b', leaseDurationSeconds: 2, leaseTransitions: 1 });
    // Well under leaseDuration: b did not wait the Lease out.
    expect(handover).toBeLessThan(2000);
    console.log(`handover on stop(): ${handover} ms (retryPeriod 200 ms, jittered to [200, 440) ms)`);
  });

  test('stop() as the Lease is won, before leading begins: it never leads, stop() ends, the Lease is released', async () => {
    const a = candidate('won', 'won-a');
    let stopping: ReturnType<LeaderElector['stop']> | undefined;
    // Seen holding the Lease: stop on the next microtask, before the loop goes on to lead.
    a.elector.events$.subscribe((event) => {
      if (event.type === 'leader' && event.identity === 'won-a' && !stopping)
        queueMicrotask(() => {
          stopping = a.elector.stop();
        });
    });
    await waitUntil(() => stopping !== undefined, 'the stop');
    await expect(within(stopping!, 5000, () => 'stop() did not end within 5 s')).resolves.toEqual({ released: true });
    expect(first(a, 'leading')).toBeUndefined();
    expect(a.elector.isLeader()).toBe(false);
    expect((await readLease('won')).spec?.holderIdentity ?? '').toBe('');
  });

  test('stop() right after a renewal that was applied but never answered still releases the Lease', async () => {
    const a = candidate('unanswered', 'unanswered-a');
    await waitUntil(() => a.elector.isLeader(), 'a leading');
    // The renewal is written, then the connection dies: the lock's cached resourceVersion is stale.
    const reset = cluster.faults.resetConnections({
      verbs: ['update'],
      resources: ['leases'],
      name: 'unanswered',
      phase: 'after',
      times: 1,
    });
    const renewalLost = new Promise<void>((resolve) => {
      a.elector.events$.subscribe((e) => {
        if (e.type === 'attemptFailed' && e.phase === 'renew') resolve();
      });
    });
    await renewalLost;
    expect(reset.hits).toBe(1);
    const result = await a.elector.stop();
    expect(result).toEqual({ released: true });
    expect((await readLease('unanswered')).spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });

  test('candidates racing for a released Lease: one wins, the others get 409 Conflict and follow', async () => {
    await api.createNamespacedLease({
      namespace: 'default',
      body: { metadata: { name: 'race' }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 4 } },
    });
    const cs = ['a', 'b', 'c', 'd'].map((id) => candidate('race', `race-${id}`));
    const leader = await waitUntil(() => leaders(cs)[0], 'a leader');
    await waitUntil(
      () => cs.every((c) => c.events.some((e) => e.type === 'leader' && e.identity === leader.elector.identity)),
      'every candidate observing the leader',
    );
    expect(leaders(cs)).toEqual([leader]);
    expect((await readLease('race')).spec).toMatchObject({
      holderIdentity: leader.elector.identity,
      leaseTransitions: 5,
    });
    const failures = cs.flatMap((c) => c.events.filter((e) => e.type === 'attemptFailed'));
    for (const failure of failures) {
      expect(failure).toMatchObject({ phase: 'acquire' });
      const error = (failure as { error: unknown }).error;
      expect(error).toBeInstanceOf(KubernetesApiError);
      expect(error).toMatchObject({ statusCode: 409, reason: 'Conflict' });
    }
    console.log(`race: ${failures.length} of ${cs.length - 1} losing candidates got 409 Conflict on their update`);
  });

  test('the lock: an update carrying a stale resourceVersion rejects with a typed 409', async () => {
    const one = createLeaseLock(cluster.kubeConfig, { namespace: 'default', name: 'locks' });
    const two = createLeaseLock(cluster.kubeConfig, { namespace: 'default', name: 'locks' });
    const signal = new AbortController().signal;
    const record = {
      holderIdentity: 'one',
      leaseDurationSeconds: 2,
      acquireTime: undefined,
      renewTime: undefined,
      leaseTransitions: 0,
    };
    expect(await one.get(signal)).toBeUndefined();
    await one.create(record, signal);
    expect((await two.get(signal))?.record).toEqual(record);
    await one.update({ ...record, leaseTransitions: 1 }, signal);
    const stale = two.update({ ...record, holderIdentity: 'two' }, signal);
    await expect(stale).rejects.toBeInstanceOf(KubernetesApiError);
    await expect(stale).rejects.toMatchObject({
      code: 'KUBERNETES_API',
      statusCode: 409,
      reason: 'Conflict',
      resource: 'leases/locks',
      apiMessage:
        'Operation cannot be fulfilled on leases.coordination.k8s.io "locks": the object has been modified; please apply your changes to the latest version and try again',
    });
  });
});

describe('resolveLeaderElectionOptions', () => {
  test("client-go's defaults and a per-process identity", () => {
    const config = resolveLeaderElectionOptions({ leaseName: 'app' });
    expect(config).toMatchObject({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 });
    expect(config.identity).toMatch(/^.+_[0-9a-f]{8}$/);
    expect(resolveLeaderElectionOptions({ leaseName: 'app' }).identity).not.toBe(config.identity);
  });

  test.each([
    [{ leaseDurationSeconds: 10 }, 'leaseDurationSeconds: must be greater than renewDeadlineSeconds'],
    [{ renewDeadlineSeconds: 2.4 }, 'renewDeadlineSeconds: must be greater than retryPeriodSeconds × 1.2 (2.4)'],
    [{ leaseDurationSeconds: 1.5 }, 'leaseDurationSeconds: must be a whole number of seconds greater than 0'],
    [{ retryPeriodSeconds: 0 }, 'retryPeriodSeconds: must be greater than 0'],
    [{ leaseName: 'Not_A_Name' }, 'leaseName: must be a DNS subdomain'],
    [{ identity: '' }, 'identity: must not be empty'],
  ])('%o is refused', (options, message) => {
    const resolve = () => resolveLeaderElectionOptions({ leaseName: 'app', ...options });
    expect(resolve).toThrow(ValidationError);
    expect(resolve).toThrow(message);
  });
});
