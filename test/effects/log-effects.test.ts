import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createActor, setup, toPromise, type AnyActorLogic } from 'xstate';
import { createTaskEffects, type TaskEffects } from '../../src/effects/task-effects.js';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { ContainerBehaviour } from '../../src/sim/runtime-scripted.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { jobFinished, runJob } from '../helpers/job-inputs.js';
import { waitUntil } from '../helpers/wait.js';

/** 5,000 numbered lines of 1,000 bytes: a 5 MB log. */
const bigLog = Array.from({ length: 5000 }, (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(994)}`);

/** What each test Job's container does, by Job name. */
const behaviours: Record<string, ContainerBehaviour> = {
  'big-log-harvest': { logs: bigLog },
  'slow-talker': {
    durationMs: Infinity,
    logs: Array.from({ length: 40 }, (_, i) => ({ line: `tick ${i}`, afterMs: i * 25 })),
  },
  'short-lived': { logs: ['one', 'two', 'three'] },
};

let cluster: SimulatedCluster;
let kube: KubeAdapter;
let store: KeyvTaskStore;
let effects: TaskEffects;
beforeAll(async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: {
      runtime: 'scripted',
      script: (pod) => behaviours[pod.metadata.labels?.['batch.kubernetes.io/job-name'] ?? ''] ?? {},
    },
  });
  kube = createKubeAdapter({
    kubeConfig: cluster.kubeConfig,
    namespace: 'default',
    retry: { baseMs: 5, maxMs: 50 },
    rateLimit: { qps: 1000, burst: 1000 },
  });
  await kube.watcher.start();
  store = await openTaskStore('memory://');
  effects = createTaskEffects({ jobs: kube.jobs, observer: kube.watcher, store, logSnapshotIntervalMs: 50 });
});
afterAll(async () => {
  await kube.watcher.stop();
  await store.close();
  await cluster.close();
});

/** Runs a callback actor under a parent, as the task machine would invoke it. */
function invoke<TInput>(src: AnyActorLogic, input: TInput) {
  const machine = setup({ actors: { child: src } }).createMachine({ invoke: { id: 'child', src: 'child', input } });
  return createActor(machine).start();
}

describe('log effects', () => {
  test('harvestLogs stores the final capped log durably, then returns the last lines', async () => {
    const input = await runJob(kube, 'big-log-harvest', jobFinished);
    const out = await toPromise(
      createActor(effects.harvestLogs, { input: { taskId: input.taskId, jobName: input.jobName } }).start(),
    );
    const snapshot = await store.getLogSnapshot(input.taskId);
    expect(snapshot).toMatchObject({ taskId: input.taskId, final: true, container: 'task' });
    expect(out.lastLines).toEqual(
      snapshot?.text
        .split('\n')
        .filter((l) => l !== '')
        .slice(-20),
    );
  });

  test('snapshotLogs keeps a growing snapshot while the task runs; the harvest replaces it', async () => {
    const input = await runJob(kube, 'slow-talker', (o) => o.pods.some((p) => p.containers.some((c) => c.running)));
    const actor = invoke(effects.snapshotLogs, { taskId: input.taskId, jobName: input.jobName });
    await waitUntil(
      async () => (await store.getLogSnapshot(input.taskId))?.text.includes('tick 5'),
      'a snapshot with a few ticks',
    );
    const early = await store.getLogSnapshot(input.taskId);
    expect(early?.final).toBe(false);
    await waitUntil(
      async () => (await store.getLogSnapshot(input.taskId))?.text.includes('tick 20'),
      'a later snapshot',
    );
    actor.stop();
    const out = await toPromise(
      createActor(effects.harvestLogs, { input: { taskId: input.taskId, jobName: input.jobName } }).start(),
    );
    expect((await store.getLogSnapshot(input.taskId))?.final).toBe(true);
    expect(out.lastLines.at(-1)).toMatch(/^tick \d+$/);
  });

  test('harvestLogs after the pod is gone keeps the last snapshot, marked final', async () => {
    const input = await runJob(kube, 'short-lived', jobFinished);
    const actor = invoke(effects.snapshotLogs, { taskId: input.taskId, jobName: input.jobName });
    await waitUntil(
      async () => (await store.getLogSnapshot(input.taskId))?.text === 'one\ntwo\nthree\n',
      'the snapshot',
    );
    actor.stop();
    await toPromise(
      createActor(effects.deleteJob, { input: { taskId: input.taskId, jobName: input.jobName } }).start(),
    );
    await waitUntil(() => (kube.watcher.current(input.jobName)?.pods.length ?? 0) === 0, 'the pods to go');
    const out = await toPromise(
      createActor(effects.harvestLogs, { input: { taskId: input.taskId, jobName: input.jobName } }).start(),
    );
    expect(out.lastLines).toEqual(['one', 'two', 'three']);
    expect(await store.getLogSnapshot(input.taskId)).toMatchObject({ final: true, text: 'one\ntwo\nthree\n' });
  });
});
