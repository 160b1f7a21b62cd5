import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createActor, setup, toPromise, type AnyActorLogic } from 'xstate';
import { fingerprintSpec } from '../../src/effects/fingerprint.js';
import { jobNameFor } from '../../src/effects/job-name.js';
import { createKubeEffects, type KubeEffects } from '../../src/effects/kube-effects.js';
import { truncationMarker } from '../../src/effects/logs.js';
import { createTaskEffects, type TaskEffects } from '../../src/effects/task-effects.js';
import type { CreateJobInput } from '../../src/machines/task/contract.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { ContainerBehaviour } from '../../src/sim/runtime-scripted.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { parseTaskSpec } from '../../src/validation/parse.js';
import { waitUntil } from '../helpers/wait.js';

/** 5,000 numbered lines of 1,000 bytes: a 5 MB log. */
const bigLog = Array.from({ length: 5000 }, (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(994)}`);
const bigLogBytes = bigLog.reduce((n, line) => n + line.length + 1, 0);

/** What each test Job's container does, by Job name. */
const behaviours: Record<string, ContainerBehaviour> = {
  'big-log': { logs: bigLog },
  'big-log-harvest': { logs: bigLog },
  'never-starts': { neverStart: true },
  'slow-talker': {
    durationMs: Infinity,
    logs: Array.from({ length: 40 }, (_, i) => ({ line: `tick ${i}`, afterMs: i * 25 })),
  },
  'short-lived': { logs: ['one', 'two', 'three'] },
};

let cluster: SimulatedCluster;
let kube: KubeEffects;
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
  kube = createKubeEffects({ kubeConfig: cluster.kubeConfig, namespace: 'default', retry: { baseMs: 5, maxMs: 50 }, rateLimit: { qps: 1000, burst: 1000 } });
  await kube.watcher.start();
  store = await openTaskStore('memory://');
  effects = createTaskEffects({ ...kube, store, logSnapshotIntervalMs: 50 });
});
afterAll(async () => {
  await kube.watcher.stop();
  await store.close();
  await cluster.close();
});

function task(id: string): CreateJobInput {
  const spec = parseTaskSpec({ id, image: 'busybox', command: ['sh', '-c', 'true'] });
  return { taskId: id, jobName: jobNameFor(id), spec, fingerprint: fingerprintSpec(spec) };
}

async function runJob(id: string, until: (o: NonNullable<ReturnType<KubeEffects['watcher']['current']>>) => boolean): Promise<CreateJobInput> {
  const input = task(id);
  await kube.gateway.createJob(input);
  await waitUntil(() => {
    const o = kube.watcher.current(input.jobName);
    return o && until(o);
  }, `job ${id}`);
  return input;
}

const finished = (o: { job: { conditions: { type: string; status: string }[] } | null }) => o.job?.conditions.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ?? false;

describe('reading logs', () => {
  test('a 5 MB log is read capped: head + marker + tail, within 1 MiB', async () => {
    const input = await runJob('big-log', finished);
    const log = await kube.gateway.readJobLog(input.jobName);
    expect(log).toMatchObject({ container: 'task', truncated: true, totalBytes: bigLogBytes });
    const text = log?.text ?? '';
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024 * 1024);
    const [head, tail] = text.split(/\n… \[\d+ bytes truncated\] …\n/);
    expect(head?.startsWith(`0000 ${'x'.repeat(994)}\n0001`)).toBe(true);
    expect(tail?.endsWith(`4999 ${'x'.repeat(994)}\n`)).toBe(true);
    expect(text).toContain(truncationMarker(bigLogBytes - Buffer.byteLength(head ?? '') - Buffer.byteLength(tail ?? '')));
    expect(Buffer.byteLength(head ?? '')).toBeGreaterThan(400_000);
    expect(Buffer.byteLength(tail ?? '')).toBeGreaterThan(400_000);
  });

  test('the cap is configurable per read', async () => {
    const log = await kube.gateway.readJobLog(jobNameFor('big-log'), { maxBytes: 10_000 });
    expect(Buffer.byteLength(log?.text ?? '')).toBeLessThanOrEqual(10_000);
    expect(log?.truncated).toBe(true);
  });

  test('a container waiting to start has an empty log (400 is not an error)', async () => {
    const input = await runJob('never-starts', (o) => o.pods.some((p) => p.containers.some((c) => c.waiting)) || o.pods.length > 0);
    const since = cluster.requests().length;
    const log = await kube.gateway.readJobLog(input.jobName);
    expect(log).toMatchObject({ text: '', totalBytes: 0, truncated: false });
    expect(cluster.requests().slice(since).filter((r) => r.resource === 'pods/log').map((r) => r.status)).toEqual([400]);
  });

  test('a pod that is gone gives undefined (404)', async () => {
    await expect(kube.gateway.readPodLog('no-such-pod', 'task')).resolves.toBeUndefined();
  });

  test('a Job with no pod (by its label) gives undefined', async () => {
    await expect(kube.gateway.readJobLog('no-such-job')).resolves.toBeUndefined();
  });
});

/** Runs a callback actor under a parent, as the task machine would invoke it. */
function invoke<TInput>(src: AnyActorLogic, input: TInput) {
  const machine = setup({ actors: { child: src } }).createMachine({ invoke: { id: 'child', src: 'child', input } });
  return createActor(machine).start();
}

describe('log effects', () => {
  test('harvestLogs stores the final capped log durably, then returns the last lines', async () => {
    const input = await runJob('big-log-harvest', finished);
    const out = await toPromise(createActor(effects.harvestLogs, { input: { taskId: input.taskId, jobName: input.jobName } }).start());
    const snapshot = await store.getLogSnapshot(input.taskId);
    expect(snapshot).toMatchObject({ taskId: input.taskId, final: true, container: 'task' });
    expect(out.lastLines).toEqual(snapshot?.text.split('\n').filter((l) => l !== '').slice(-20));
  });

  test('snapshotLogs keeps a growing snapshot while the task runs; the harvest replaces it', async () => {
    const input = await runJob('slow-talker', (o) => o.pods.some((p) => p.containers.some((c) => c.running)));
    const actor = invoke(effects.snapshotLogs, { taskId: input.taskId, jobName: input.jobName });
    await waitUntil(async () => (await store.getLogSnapshot(input.taskId))?.text.includes('tick 5'), 'a snapshot with a few ticks');
    const early = await store.getLogSnapshot(input.taskId);
    expect(early?.final).toBe(false);
    await waitUntil(async () => (await store.getLogSnapshot(input.taskId))?.text.includes('tick 20'), 'a later snapshot');
    actor.stop();
    const out = await toPromise(createActor(effects.harvestLogs, { input: { taskId: input.taskId, jobName: input.jobName } }).start());
    expect((await store.getLogSnapshot(input.taskId))?.final).toBe(true);
    expect(out.lastLines.at(-1)).toMatch(/^tick \d+$/);
  });

  test('harvestLogs after the pod is gone keeps the last snapshot, marked final', async () => {
    const input = await runJob('short-lived', finished);
    const actor = invoke(effects.snapshotLogs, { taskId: input.taskId, jobName: input.jobName });
    await waitUntil(async () => (await store.getLogSnapshot(input.taskId))?.text === 'one\ntwo\nthree\n', 'the snapshot');
    actor.stop();
    await toPromise(createActor(effects.deleteJob, { input: { taskId: input.taskId, jobName: input.jobName } }).start());
    await waitUntil(() => (kube.watcher.current(input.jobName)?.pods.length ?? 0) === 0, 'the pods to go');
    const out = await toPromise(createActor(effects.harvestLogs, { input: { taskId: input.taskId, jobName: input.jobName } }).start());
    expect(out.lastLines).toEqual(['one', 'two', 'three']);
    expect(await store.getLogSnapshot(input.taskId)).toMatchObject({ final: true, text: 'one\ntwo\nthree\n' });
  });
});
