import { CoordinationV1Api } from '@kubernetes/client-node';
import type { Subscription } from 'rxjs';
import { describe, expect, test } from 'vitest';
import { createLeaseLock } from '../../src/kube/lease-lock.js';
import { LeaderElector, resolveLeaderElectionOptions, type LeaderEvent } from '../../src/leader/index.js';
import { startSimulatedCluster, type KubeObject, type PolicyRule, type SimulatedCluster } from '../../src/sim/index.js';
import type { TaskRecord } from '../../src/types.js';
import { behaviour, startEngine, type Engine } from '../engine/harness.js';
import { createPreexistingJob } from '../engine/preexisting-job.js';
import { kubeConfigWithToken, rbacFromManifest } from '../engine/rbac-mode.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * deploy/rbac.yaml is least: for every (resource, verb) it grants, the runner, run as that Role's
 * service account minus just that verb, visibly breaks one concrete scenario that works with the
 * whole Role. (That the whole Role suffices for everything is the engine suite in RBAC mode:
 * `npm run test:engine-rbac`.) Every case runs its own cluster and runner, concurrently.
 */

const manifest = 'deploy/rbac.yaml';
const { rules } = await rbacFromManifest(manifest);

/** The Role's rules without one verb on one resource. */
function without(resource: string, verb: string): PolicyRule[] {
  return rules.map((rule) =>
    rule.resources.includes(resource) ? { ...rule, verbs: rule.verbs.filter((v) => v !== verb) } : rule,
  );
}

/** The Lease the Role names (`resourceNames`), the elector's `leaseName`. */
const leaseName = 'k8s-jobs';

interface Election {
  cluster: SimulatedCluster;
  elector: LeaderElector;
  events: LeaderEvent[];
}

/**
 * A leader elector on the Role's Lease, run as the Role's service account (times scaled down:
 * lease 2 s, renew deadline 1 s, retry 0.2 s), in a cluster of its own. `before` runs as admin.
 */
async function withElector<T>(
  roleRules: PolicyRule[],
  body: (election: Election) => Promise<T>,
  before?: (cluster: SimulatedCluster) => Promise<unknown>,
): Promise<T> {
  const rbac = { ...(await rbacFromManifest(manifest)), rules: roleRules };
  const cluster = await startSimulatedCluster({ timeScale: 0.01, rbac });
  try {
    await before?.(cluster);
    const config = resolveLeaderElectionOptions({
      leaseName,
      namespace: 'default',
      identity: 'replica-1',
      leaseDurationSeconds: 2,
      renewDeadlineSeconds: 1,
      retryPeriodSeconds: 0.2,
    });
    const lock = createLeaseLock(kubeConfigWithToken(cluster, rbac.token), { namespace: 'default', name: leaseName });
    const elector = new LeaderElector(config, lock);
    const events: LeaderEvent[] = [];
    elector.events$.subscribe((event) => events.push(event));
    elector.start();
    try {
      return await body({ cluster, elector, events });
    } finally {
      await elector.stop();
    }
  } finally {
    await cluster.close();
  }
}

/** The first failed try whose error names `text`, once there is one. */
const failedWith = (events: LeaderEvent[], text: string) =>
  waitUntil(
    () => events.find((e) => e.type === 'attemptFailed' && e.error instanceof Error && e.error.message.includes(text)),
    `a try failing with ${text}`,
  );

const readLease = (cluster: SimulatedCluster) =>
  cluster.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: leaseName, namespace: 'default' });

async function withEngine<T>(roleRules: PolicyRule[], body: (engine: Engine) => Promise<T>): Promise<T> {
  const rbac = { ...(await rbacFromManifest(manifest)), rules: roleRules };
  // One final log read, no retry: a Role without pods/log would otherwise keep the Job for minutes.
  const engine = await startEngine({
    cluster: { rbac },
    runner: { maxConcurrentJobs: 2, logs: { harvestRetryLimitMs: 0 } },
  });
  try {
    return await body(engine);
  } finally {
    await engine.close();
  }
}

/** A short task that logs a line and succeeds; its record, its logs, and the runner events seen meanwhile. */
async function quickTask(
  roleRules: PolicyRule[],
): Promise<{ record: TaskRecord; logs: string; runnerEvents: string[] }> {
  return withEngine(roleRules, async ({ runner }) => {
    const runnerEvents: string[] = [];
    const subscription: Subscription = runner.events$.subscribe((event) =>
      runnerEvents.push(JSON.stringify(event, (_k, v: unknown) => (v instanceof Error ? v.message : v))),
    );
    try {
      await runner.addTask({
        id: 'quick',
        image: 'busybox',
        ...behaviour({ durationMs: 20, logs: ['hello from the pod'] }),
      });
      const record = await runner.waitFor('quick');
      return { record, logs: await runner.getLogs('quick'), runnerEvents };
    } finally {
      subscription.unsubscribe();
    }
  });
}

/** A task whose Job already exists (same fingerprint): the runner adopts it. */
async function adoptedTask(roleRules: PolicyRule[]): Promise<TaskRecord> {
  return withEngine(roleRules, async ({ runner, cluster }) => {
    const task = { id: 'adopt', image: 'busybox', ...behaviour({ durationMs: 20 }) };
    await createPreexistingJob(cluster, task);
    await runner.addTask(task);
    return runner.waitFor('adopt');
  });
}

/** A task whose image does not exist: it fails with the pull reason and the pod's events. */
async function missingImage(roleRules: PolicyRule[]): Promise<TaskRecord> {
  return withEngine(roleRules, async ({ runner }) => {
    await runner.addTask({ id: 'no-image', image: 'registry.example.com/does-not-exist:1.0', timeout: 3 });
    return runner.waitFor('no-image');
  });
}

const jobConditions = (job: KubeObject): string[] =>
  ((job.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [])
    .filter((c) => c.status === 'True')
    .map((c) => c.type);

const forbidden = (verb: string, resource: string): string => `cannot ${verb} resource "${resource}"`;

describe(`${manifest} is sufficient for each scenario below`, () => {
  test.concurrent('a quick task succeeds, is cleaned up, and its logs are kept', async () => {
    const { record, logs } = await quickTask(rules);
    expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    expect(record.cleanupError).toBeUndefined();
    expect(logs).toContain('hello from the pod');
  });

  test.concurrent('a pre-existing Job of the task is adopted', async () => {
    expect(await adoptedTask(rules)).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  });

  test.concurrent("a missing image fails the task with the pull reason and the pod's events", async () => {
    const record = await missingImage(rules);
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(record.failure?.reason);
    expect(record.failure?.events?.length).toBeGreaterThan(0);
  });

  test.concurrent(
    'leader election: the elector creates the Lease, leads, renews it and releases it on stop',
    async () => {
      await withElector(rules, async ({ cluster, elector, events }) => {
        await waitUntil(() => elector.isLeader(), 'leading');
        const first = (await readLease(cluster)).spec?.renewTime;
        await waitUntil(async () => (await readLease(cluster)).spec?.renewTime !== first, 'a renewal');
        expect(await elector.stop()).toEqual({ released: true });
        expect((await readLease(cluster)).spec?.holderIdentity).toBe('');
        expect(events.filter((e) => e.type === 'attemptFailed')).toEqual([]);
      });
    },
  );
});

describe(`${manifest} is least: one verb fewer breaks the runner`, () => {
  test('every (resource, verb) the Role grants has a case here', () => {
    const granted = rules.flatMap((rule) =>
      rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${resource} ${verb}`)),
    );
    expect(granted.sort()).toEqual([
      'events list',
      'jobs create',
      'jobs delete',
      'jobs get',
      'jobs list',
      'jobs watch',
      'leases create',
      'leases get',
      'leases update',
      'pods list',
      'pods watch',
      'pods/log get',
    ]);
  });

  test.concurrent('without jobs create, the task fails with Forbidden', async () => {
    const { record } = await quickTask(without('jobs', 'create'));
    expect(record).toMatchObject({ state: 'deleted', outcome: 'failed', failure: { reason: 'Forbidden' } });
    expect(record.failure?.message).toContain(forbidden('create', 'jobs'));
  });

  test.concurrent('without jobs get, adopting an existing Job fails with Forbidden', async () => {
    const record = await adoptedTask(without('jobs', 'get'));
    expect(record).toMatchObject({ state: 'deleted', outcome: 'failed' });
    expect(record.failure?.message).toContain(forbidden('get', 'jobs'));
  });

  test.concurrent('without jobs list, createRunner rejects with Forbidden', async () => {
    await expect(quickTask(without('jobs', 'list'))).rejects.toThrow(forbidden('list', 'jobs'));
  });

  test.concurrent('without pods list, createRunner rejects with Forbidden', async () => {
    await expect(quickTask(without('pods', 'list'))).rejects.toThrow(forbidden('list', 'pods'));
  });

  test.concurrent(
    'without jobs watch, the runner never learns that its Job completed: the task stays running',
    async () => {
      await withEngine(without('jobs', 'watch'), async ({ runner, cluster }) => {
        let refusedWatches = 0;
        const subscription = runner.events$.subscribe((event) => {
          if (event.kind === 'watchReconnect' && event.resource === 'jobs' && event.error?.includes('403'))
            refusedWatches += 1;
        });
        try {
          await runner.addTask({ id: 'quick', image: 'busybox', ...behaviour({ durationMs: 20 }) });
          await waitUntil(
            () =>
              cluster
                .objects('jobs')
                .some((job) => job.metadata.name === 'quick' && jobConditions(job).includes('Complete')),
            'the Job to complete',
          );
          // Once the Job is complete, a watch attempt is refused again: the runner still has no way to see it.
          const refusedBefore = refusedWatches;
          // The watch's back-off grows with each refusal (capped at 30 s): usually a second or two here.
          await waitUntil(() => refusedWatches > refusedBefore, 'another refused watch of Jobs', { timeoutMs: 45_000 });
          expect((await runner.getTask('quick')).state).toBe('running');
        } finally {
          subscription.unsubscribe();
        }
      });
    },
  );

  test.concurrent(
    'without pods watch, the pull failure is not seen as it happens: only the fresh read at a deadline finds it',
    async () => {
      const record = await missingImage(without('pods', 'watch'));
      expect(record.outcome).toBe('failed');
      expect(['ErrImagePull', 'ImagePullBackOff']).toContain(record.failure?.reason);
      // With the watch, the pull failure decides at once (grace 0); without it, nothing does before the
      // earliest deadline (the 2.5 s pending budget, from a creationTimestamp rounded down to the second).
      const tookMs = Date.parse(record.finishedAt ?? '') - Date.parse(record.createdAt);
      expect(tookMs).toBeGreaterThanOrEqual(1500);
    },
  );

  test.concurrent('without jobs delete, cleanup fails and the record says so', async () => {
    const { record } = await quickTask(without('jobs', 'delete'));
    expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    expect(record.cleanupError).toContain(forbidden('delete', 'jobs'));
  });

  test.concurrent("without pods/log get, the task's logs are lost", async () => {
    const { record, logs } = await quickTask(without('pods/log', 'get'));
    expect(record.outcome).toBe('succeeded');
    expect(logs).not.toContain('hello from the pod');
    // Lost, and the record says so.
    expect(record.logs).toEqual({ lost: true, reason: expect.stringContaining('pods/log') });
  });

  test.concurrent('without leases create, no replica ever leads: there is no Lease to hold', async () => {
    await withElector(without('leases', 'create'), async ({ elector, events }) => {
      await failedWith(events, forbidden('create', 'leases'));
      expect(elector.isLeader()).toBe(false);
    });
  });

  test.concurrent('without leases get, no replica ever leads: it cannot read the Lease', async () => {
    await withElector(without('leases', 'get'), async ({ elector, events }) => {
      await failedWith(events, forbidden('get', 'leases'));
      expect(elector.isLeader()).toBe(false);
    });
  });

  test.concurrent('without leases update, a released Lease cannot be acquired', async () => {
    const released = (cluster: SimulatedCluster) =>
      cluster.kubeConfig.makeApiClient(CoordinationV1Api).createNamespacedLease({
        namespace: 'default',
        body: { metadata: { name: leaseName }, spec: { holderIdentity: '', leaseDurationSeconds: 1 } },
      });
    await withElector(
      without('leases', 'update'),
      async ({ elector, events }) => {
        await failedWith(events, forbidden('update', 'leases'));
        expect(elector.isLeader()).toBe(false);
      },
      released,
    );
  });

  test.concurrent('without events list, a failure carries no events, only why', async () => {
    const record = await missingImage(without('events', 'list'));
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(record.failure?.reason);
    expect(record.failure?.events).toEqual([expect.stringMatching(/could not be read: .*forbidden/i)]);
  });
});
