import { BatchV1Api, CoreV1Api, type V1Job, type V1PodCondition } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { behaviourAnnotation, startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { jobManifest } from '../helpers/sim-jobs.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * Disruptions injected through `cluster.faults.evictPod`: the pod gets `DisruptionTarget` with
 * the disruptor's reason and ends Failed; the Job controller counts it against backoffLimit
 * unless a podFailurePolicy rule Ignores that condition, in which case it replaces the pod.
 */

let cluster: SimulatedCluster;
let core: CoreV1Api;
let batch: BatchV1Api;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
});
afterAll(async () => {
  await cluster.close();
});

/** A Job whose one pod runs until killed, failing the Job at its first counted pod failure. */
function longJob(name: string, spec: Record<string, unknown> = {}): V1Job {
  const job = jobManifest(name, { backoffLimit: 0, ...spec });
  job.spec!.template.metadata = { annotations: { [behaviourAnnotation]: JSON.stringify({ durationMs: -1 }) } };
  return job;
}

async function runningPod(namespace: string, job: string, except: string[] = []): Promise<string> {
  return waitUntil(async () => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `job-name=${job}` });
    const pod = pods.items.find((p) => p.status?.phase === 'Running' && !except.includes(p.metadata!.name!));
    return pod?.metadata?.name;
  }, `a running pod of ${job}`);
}

async function jobCondition(namespace: string, name: string, type: string): Promise<boolean> {
  const job = await batch.readNamespacedJob({ namespace, name });
  return job.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;
}

/** The pod's DisruptionTarget condition, read from the cluster's store (the pod may be gone from the API soon). */
function disruption(namespace: string, name: string): V1PodCondition | undefined {
  const pod = cluster.objects('pods', namespace).find((p) => p.metadata.name === name);
  return (pod?.status?.conditions as V1PodCondition[] | undefined)?.find((c) => c.type === 'DisruptionTarget');
}

describe('faults.evictPod', () => {
  test.each([
    ['Evicted', 'EvictionByEvictionAPI', 'Eviction API: evicting'],
    ['Preempted', 'PreemptionByScheduler', 'default-scheduler: preempting to accommodate a higher priority pod'],
    ['NodeLost', 'DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint'],
  ] as const)(
    '%s: DisruptionTarget %s, the pod ends Failed, and counts against backoffLimit',
    async (reason, conditionReason, message) => {
      const namespace = `evict-${reason.toLowerCase()}`;
      await core.createNamespace({ body: { metadata: { name: namespace } } });
      await batch.createNamespacedJob({ namespace, body: longJob('work') });
      const name = await runningPod(namespace, 'work');
      const phases: string[] = [];
      const unsubscribe = cluster.onChange(({ resource, object }) => {
        if (resource === 'pods' && object.metadata.name === name) phases.push(String(object.status?.phase));
      });
      const evicted = cluster.faults.evictPod(name, { namespace, reason: reason });
      expect(evicted.metadata.name).toBe(name);
      expect(disruption(namespace, name)).toMatchObject({ status: 'True', reason: conditionReason, message });
      await waitUntil(() => jobCondition(namespace, 'work', 'Failed'), 'the Job failed (backoffLimit 0)');
      const job = await batch.readNamespacedJob({ namespace, name: 'work' });
      expect(job.status?.failed).toBe(1);
      unsubscribe();
      // The kubelet stopped it: its last stored phase is Failed.
      expect(phases.at(-1)).toBe('Failed');
    },
  );

  test('a podFailurePolicy Ignore rule on DisruptionTarget replaces the pod without counting it', async () => {
    await core.createNamespace({ body: { metadata: { name: 'evict-ignore' } } });
    await batch.createNamespacedJob({
      namespace: 'evict-ignore',
      body: longJob('work', {
        podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] },
      }),
    });
    const first = await runningPod('evict-ignore', 'work');
    cluster.faults.evictPod(first, { namespace: 'evict-ignore', reason: 'Preempted' });
    const second = await runningPod('evict-ignore', 'work', [first]);
    expect(second).not.toBe(first);
    const job = await batch.readNamespacedJob({ namespace: 'evict-ignore', name: 'work' });
    expect(job.status?.failed ?? 0).toBe(0);
    expect(await jobCondition('evict-ignore', 'work', 'Failed')).toBe(false);
  });

  test('an OOMKilled container fails its pod with reason OOMKilled and exit code 137', async () => {
    await core.createNamespace({ body: { metadata: { name: 'oom' } } });
    const job = jobManifest('oom', { backoffLimit: 0 });
    job.spec!.template.metadata = {
      annotations: { [behaviourAnnotation]: JSON.stringify({ durationMs: 20, oomKilled: true }) },
    };
    await batch.createNamespacedJob({ namespace: 'oom', body: job });
    await waitUntil(() => jobCondition('oom', 'oom', 'Failed'), 'the Job failed');
    const [pod] = (await core.listNamespacedPod({ namespace: 'oom', labelSelector: 'job-name=oom' })).items;
    expect(pod?.status?.phase).toBe('Failed');
    expect(pod?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      reason: 'OOMKilled',
      exitCode: 137,
    });
  });

  test('a missing pod is a 404', () => {
    expect(() => cluster.faults.evictPod('nothing-here')).toThrow(/pods "nothing-here" not found/);
  });
});
