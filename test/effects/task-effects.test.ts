import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createActor, setup, toPromise, type AnyActorLogic, type EventObject } from 'xstate';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import { createTaskEffects, type TaskEffects } from '../../src/effects/task-effects.js';
import { troubleSignature } from '../../src/effects/trouble.js';
import type { JobsPort } from '../../src/ports/jobs-port.js';
import type { AlarmCommand, ClusterObservation, TaskEvent } from '../../src/machines/task/contract.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { jobInput } from '../helpers/job-inputs.js';
import { waitUntil } from '../helpers/wait.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let cluster: SimulatedCluster;
let proxy: TcpProxy;
let kube: KubeAdapter;
let store: KeyvTaskStore;
let effects: TaskEffects;
const reported: unknown[] = [];

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  proxy = await startTcpProxy(cluster.url);
  kube = createKubeAdapter({
    kubeConfig: proxy.kubeConfig,
    namespace: 'default',
    retry: { baseMs: 5, maxMs: 50 },
    watch: { unseenJobCheckMs: 100 },
  });
  await kube.watcher.start();
  store = await openTaskStore('memory://');
  effects = createTaskEffects({
    jobs: kube.jobs,
    observer: kube.watcher,
    store,
    deleteCheckMs: 100,
    onError: (error) => reported.push(error),
  });
});
afterAll(async () => {
  await kube.watcher.stop();
  await store.close();
  await proxy.close();
  await cluster.close();
});
afterEach(() => proxy.setMode('pass'));

/** Runs a callback actor under a parent that records what it sends back. */
function harness<TInput>(src: AnyActorLogic, input: TInput) {
  const received: EventObject[] = [];
  const machine = setup({ actors: { child: src } }).createMachine({
    invoke: { id: 'child', src: 'child', input },
    on: { '*': { actions: ({ event }) => received.push(event) } },
  });
  const actor = createActor(machine);
  actor.start();
  return { actor, received, send: (event: AlarmCommand) => actor.getSnapshot().children['child']?.send(event) };
}

describe('createJob', () => {
  test('creates, then adopts the same Job on a second run (a restored actor re-runs it)', async () => {
    const input = jobInput('Effects_Create');
    const first = await toPromise(createActor(effects.createJob, { input }).start());
    const second = await toPromise(createActor(effects.createJob, { input }).start());
    expect(first.adopted).toBe(false);
    expect(second).toEqual({ uid: first.uid, adopted: true });
    expect(cluster.jobCreations().filter((c) => c.name === input.jobName)).toHaveLength(1);
  });

  test('stopping the actor aborts its request', async () => {
    // A fresh adapter, so the request opens a connection of its own: the shared adapter's keep-alive
    // connections were opened in 'pass' mode and would carry it to the sim (and its watch stays up).
    const fresh = createKubeAdapter({
      kubeConfig: proxy.kubeConfig,
      namespace: 'default',
      retry: { baseMs: 5, maxMs: 50 },
    });
    const freshEffects = createTaskEffects({
      jobs: fresh.jobs,
      observer: fresh.watcher,
      store,
      deleteCheckMs: 100,
      onError: (error) => reported.push(error),
    });
    proxy.setMode('silent');
    const accepted = proxy.connections();
    const actor = createActor(freshEffects.createJob, { input: jobInput('never-answered') }).start();
    await waitUntil(() => proxy.connections() > accepted, 'the request to reach the proxy');
    const open = proxy.openConnections();
    actor.stop();
    await waitUntil(() => proxy.openConnections() < open, 'the request connection to close');
    expect(cluster.jobCreations().some((c) => c.name === 'never-answered')).toBe(false);
  });
});

describe('observeJob', () => {
  test('sends CLUSTER.OBSERVED at once and on every change; cleanup unsubscribes', async () => {
    const input = jobInput('observed');
    await kube.jobs.createJob(input);
    const { actor, received } = harness(effects.observeJob, { taskId: input.taskId, jobName: input.jobName });
    await waitUntil(() => received.length > 0, 'the first observation');
    expect(received[0]).toMatchObject({ type: 'CLUSTER.OBSERVED', observation: { job: { name: 'observed' } } });
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    const patched = await batch.patchNamespacedJob(
      { name: 'observed', namespace: 'default', body: { metadata: { annotations: { touched: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // The change's own observation, by its resourceVersion: it may arrive before the PATCH's
    // response does, so counting observations after the response could miss it.
    const changed = (event: EventObject): boolean =>
      (event as { observation?: { job?: { resourceVersion?: string } } }).observation?.job?.resourceVersion ===
      patched.metadata?.resourceVersion;
    await waitUntil(() => received.some(changed), 'an observation of the change');
    const observedBefore = kube.watcher.stats().observedJobs;
    actor.stop();
    expect(kube.watcher.stats().observedJobs).toBe(observedBefore - 1);
  });

  test("a troubled view carries the Job's recent Events", async () => {
    const input = jobInput('troubled');
    await kube.jobs.createJob(input);
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'troubled.1' },
        involvedObject: { kind: 'Job', name: 'troubled', namespace: 'default' },
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit',
        type: 'Warning',
        lastTimestamp: new Date(),
      },
    });
    const { actor, received } = harness(effects.observeJob, { taskId: input.taskId, jobName: input.jobName });
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    await batch.patchNamespacedJobStatus(
      {
        name: 'troubled',
        namespace: 'default',
        body: {
          status: {
            conditions: [
              {
                type: 'FailureTarget',
                status: 'True',
                reason: 'BackoffLimitExceeded',
                message: 'Job has reached the specified backoff limit',
              },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const failed = await waitUntil(
      () =>
        (received as TaskEvent[]).find(
          (e) => e.type === 'CLUSTER.OBSERVED' && e.observation.job?.conditions.some((c) => c.type === 'FailureTarget'),
        ),
      'the failing observation',
    );
    expect(failed.type === 'CLUSTER.OBSERVED' && failed.observation.events).toContain(
      'BackoffLimitExceeded: Job has reached the specified backoff limit',
    );
    actor.stop();
  });

  test('troubleSignature: empty when all is well, names what is wrong otherwise', () => {
    const base: ClusterObservation = { job: null, pods: [], at: 0 };
    expect(troubleSignature(base)).toBe('');
    const waiting = (reason: string): ClusterObservation => ({
      ...base,
      pods: [
        {
          name: 'p',
          uid: 'u',
          phase: 'Pending',
          createdAt: '',
          containers: [{ name: 'task', restartCount: 0, waiting: { reason } }],
        },
      ],
    });
    expect(troubleSignature(waiting('ContainerCreating'))).toBe('');
    expect(troubleSignature(waiting('ImagePullBackOff'))).toBe('p/task:ImagePullBackOff');
  });
});

describe('alarm', () => {
  test('sends ALARM once now() reaches `at`, and can be re-armed or disarmed', async () => {
    const start = Date.now();
    const { actor, received, send } = harness(effects.alarm, { at: start + 40 });
    await waitUntil(() => received.length === 1, 'the first alarm');
    expect((received[0] as TaskEvent & { type: 'ALARM' }).at).toBeGreaterThanOrEqual(start + 40);
    send({ type: 'ARM', at: Date.now() + 20 });
    send({ type: 'ARM', at: undefined });
    const later = Date.now() + 60;
    send({ type: 'ARM', at: later });
    await waitUntil(() => received.length === 2, 'the re-armed alarm');
    expect((received[1] as TaskEvent & { type: 'ALARM' }).at).toBeGreaterThanOrEqual(later);
    actor.stop();
  });

  test("a deadline beyond a Node timer's range does not fire early", async () => {
    const far = harness(effects.alarm, { at: Date.now() + 2 ** 31 + 10_000 });
    const near = harness(effects.alarm, { at: Date.now() + 30 });
    await waitUntil(() => near.received.length === 1, 'the near alarm');
    // An overflowing setTimeout fires after 1 ms: it would have beaten the near one.
    expect(far.received).toHaveLength(0);
    far.actor.stop();
    near.actor.stop();
  });
});

describe('deleteJob', () => {
  test('deletes and resolves once the Job is gone', async () => {
    const input = jobInput('to-delete');
    const { uid } = await kube.jobs.createJob(input);
    const out = await toPromise(
      createActor(effects.deleteJob, { input: { taskId: input.taskId, jobName: input.jobName, jobUid: uid } }).start(),
    );
    expect(out).toEqual({ at: expect.any(Number) });
    expect(cluster.objects('jobs', 'default').some((j) => j.metadata.name === 'to-delete')).toBe(false);
    const deletes = cluster.requests().filter((r) => r.verb === 'delete' && r.name === 'to-delete');
    expect(deletes).toHaveLength(1);
  });

  test('a Job that is already gone is done (404), again and again', async () => {
    const input = { taskId: 'gone', jobName: 'gone-already' };
    await expect(toPromise(createActor(effects.deleteJob, { input }).start())).resolves.toEqual({
      at: expect.any(Number),
    });
    await expect(toPromise(createActor(effects.deleteJob, { input }).start())).resolves.toEqual({
      at: expect.any(Number),
    });
  });

  test('stopped as its delete is answered, it leaves no observation on the watch', async () => {
    // The blind watch keeps the Job in its view after the delete: an observation left would stay too.
    await withBlindWatcher('delete-stopped', async ({ blind, direct, input, uid }) => {
      // The real delete; the actor is stopped (its signal aborted) the moment it is answered.
      let answered = false;
      const stopOnAnswer: JobsPort = {
        ...direct.jobs,
        deleteJob: async (name, options) => {
          const result = await direct.jobs.deleteJob(name, options);
          actor.stop();
          answered = true;
          return result;
        },
      };
      const stopping = createTaskEffects({ jobs: stopOnAnswer, observer: blind.watcher, store, deleteCheckMs: 50 });
      const actor = createActor(stopping.deleteJob, {
        input: { taskId: input.taskId, jobName: input.jobName, jobUid: uid },
      });
      actor.start();
      await waitUntil(() => answered, 'the delete answered');
      expect(cluster.objects('jobs', 'default').some((j) => j.metadata.name === input.jobName)).toBe(false);
      expect(blind.watcher.current(input.jobName)?.job).not.toBeNull();
      expect(blind.watcher.stats().observedJobs).toBe(0);
    });
  });

  test('when the watch cannot show the deletion, a GET 404 confirms it', async () => {
    await withBlindWatcher('delete-blind', async ({ blind, direct, input, uid }) => {
      const blindEffects = createTaskEffects({ jobs: direct.jobs, observer: blind.watcher, store, deleteCheckMs: 50 });
      const out = await toPromise(
        createActor(blindEffects.deleteJob, {
          input: { taskId: input.taskId, jobName: input.jobName, jobUid: uid },
        }).start(),
      );
      expect(out).toEqual({ at: expect.any(Number) });
      expect(blind.watcher.current(input.jobName)?.job).not.toBeNull();
      expect(cluster.requests().some((r) => r.verb === 'get' && r.name === input.jobName && r.status === 404)).toBe(
        true,
      );
    });
  });
});

/**
 * Runs `check` with a watcher that has seen the Job `name` and then goes blind: it listens
 * through its own proxy, which then swallows everything the server sends. `direct` sends its
 * requests straight to the cluster.
 */
async function withBlindWatcher(
  name: string,
  check: (ctx: {
    blind: KubeAdapter;
    direct: KubeAdapter;
    input: ReturnType<typeof jobInput>;
    uid: string;
  }) => Promise<void>,
): Promise<void> {
  const watchProxy = await startTcpProxy(cluster.url);
  const blind = createKubeAdapter({
    kubeConfig: watchProxy.kubeConfig,
    namespace: 'default',
    watch: { unseenJobCheckMs: 60_000 },
  });
  await blind.watcher.start();
  try {
    const direct = createKubeAdapter({ kubeConfig: cluster.kubeConfig, namespace: 'default' });
    const input = jobInput(name);
    const { uid } = await direct.jobs.createJob(input);
    await waitUntil(() => blind.watcher.current(input.jobName), 'the watcher to see the Job');
    watchProxy.silenceOpen();
    await check({ blind, direct, input, uid });
  } finally {
    await blind.watcher.stop();
    await watchProxy.close();
  }
}
