import { BatchV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import { conditionTypes, jobManifest, jobWithCondition, podsOf, recordWatch } from '../helpers/sim-jobs.js';
import { waitUntil } from '../helpers/wait.js';

/* End to end: the Job controller with the simulated node (scheduler, kubelet, runtimes). */

function conditionOf(job: KubeObject | undefined, type: string): Record<string, string> | undefined {
  return (job?.status?.conditions as Record<string, string>[] | undefined)?.find((c) => c['type'] === type);
}

function exitCodes(pods: KubeObject[]): number[] {
  return pods.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode as number);
}

describe('with the process runtime', () => {
  let cluster: SimulatedCluster;
  let batch: BatchV1Api;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'process' } });
    batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  });
  afterAll(async () => cluster.close());

  test('a Job whose container exits 0 completes', async () => {
    const job = (await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest('exits-0', {}, { containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }] }),
    })) as unknown as KubeObject;
    const done = await jobWithCondition(cluster, 'exits-0', 'Complete');
    expect(done.status).toMatchObject({ succeeded: 1, terminating: 0, ready: 0, uncountedTerminatedPods: {} });
    const pods = podsOf(cluster, job);
    expect(pods.map((p) => p.status.phase)).toEqual(['Succeeded']);
    expect(exitCodes(pods)).toEqual([0]);
  });

  test('a Job whose container exits 1 with backoffLimit 1 fails after two pods', async () => {
    const job = (await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest(
        'exits-1',
        { backoffLimit: 1 },
        { containers: [{ name: 'main', image: 'busybox:1.36', command: ['false'] }] },
      ),
    })) as unknown as KubeObject;
    const failed = await jobWithCondition(cluster, 'exits-1', 'Failed');
    expect(conditionOf(failed, 'Failed')).toMatchObject({
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    });
    expect(failed.status).toMatchObject({ failed: 2, terminating: 0 });
    const pods = podsOf(cluster, job);
    expect(pods.map((p) => p.status.phase)).toEqual(['Failed', 'Failed']);
    expect(exitCodes(pods)).toEqual([1, 1]);
  });
});

describe('with the scripted runtime', () => {
  let cluster: SimulatedCluster;
  let batch: BatchV1Api;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
    batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  });
  afterAll(async () => cluster.close());

  /** A Job whose containers do what `behaviour` says (the scripted runtime's pod annotation). */
  async function scripted(
    name: string,
    behaviour: Record<string, unknown>,
    spec: Record<string, unknown> = {},
    podSpec: Record<string, unknown> = {},
  ): Promise<KubeObject> {
    const body = jobManifest(name, spec, podSpec);
    (body.spec as { template: { metadata?: unknown } }).template.metadata = {
      annotations: { 'sim.k8s-jobs.io/behaviour': JSON.stringify(behaviour) },
    };
    return (await batch.createNamespacedJob({ namespace: 'default', body })) as unknown as KubeObject;
  }

  test('activeDeadlineSeconds: the running pod is terminated gracefully; Failed waits until it is gone', async () => {
    const watch = await recordWatch(cluster.kubeConfig, '/apis/batch/v1/namespaces/default/jobs', {
      fieldSelector: 'metadata.name=deadline',
    });
    const job = await scripted('deadline', { durationMs: -1 }, { activeDeadlineSeconds: 1 });
    // Wait on the watch itself: the store has Failed a moment before the watcher receives it.
    await waitUntil(
      () => watch.events.some((e) => conditionTypes(e.object).includes('Failed')),
      'Failed on the watch',
      { timeoutMs: 15_000 },
    );
    watch.stop();
    const types = watch.events.map((e) => conditionTypes(e.object));
    const target = types.findIndex((t) => t.includes('FailureTarget'));
    const failed = types.findIndex((t) => t.includes('Failed'));
    expect(target).toBeGreaterThanOrEqual(0);
    expect(target).toBeLessThan(failed);
    // Between the two the killed pod was terminating (SIGTERM, then the kubelet's final delete).
    expect(watch.events.slice(target, failed).some((e) => e.object.status.terminating === 1)).toBe(true);
    expect(watch.events[failed]?.object.status).toMatchObject({ failed: 1, terminating: 0 });
    expect(conditionOf(watch.events[failed]?.object, 'Failed')).toMatchObject({ reason: 'DeadlineExceeded' });
    expect(podsOf(cluster, job)).toEqual([]);
  });

  test('restartPolicy OnFailure: the kubelet restarts the container, restarts reach backoffLimit, the Job fails', async () => {
    const job = await scripted('crashes', { exitCode: 1 }, { backoffLimit: 2 }, { restartPolicy: 'OnFailure' });
    const failed = await jobWithCondition(cluster, 'crashes', 'Failed');
    expect(conditionOf(failed, 'Failed')).toMatchObject({ reason: 'BackoffLimitExceeded' });
    expect(failed.status).toMatchObject({ failed: 1, terminating: 0 });
    await waitUntil(() => podsOf(cluster, job).length === 0, 'the restarting pod deleted');
  });

  test('a foreground delete removes the running pods gracefully, then the Job', async () => {
    const job = await scripted('long-running', { durationMs: -1 }, { parallelism: 2, completions: 2 });
    await waitUntil(
      () => podsOf(cluster, job).filter((p) => p.status.phase === 'Running').length === 2,
      'two running pods',
    );
    const pods = await recordWatch(cluster.kubeConfig, '/api/v1/namespaces/default/pods', {
      labelSelector: 'job-name=long-running',
    });
    const jobs = await recordWatch(cluster.kubeConfig, '/apis/batch/v1/namespaces/default/jobs', {
      fieldSelector: 'metadata.name=long-running',
    });
    await fetch(`${cluster.url}/apis/batch/v1/namespaces/default/jobs/long-running?propagationPolicy=Foreground`, {
      method: 'DELETE',
      headers: { Authorization: 'Bearer x' },
    });
    await waitUntil(() => jobs.events.some((e) => e.type === 'DELETED'), 'Job DELETED', { timeoutMs: 15_000 });
    pods.stop();
    jobs.stop();
    const podsGone = pods.events
      .filter((e) => e.type === 'DELETED')
      .map((e) => Number(e.object.metadata.resourceVersion));
    expect(podsGone).toHaveLength(2);
    // Graceful: each pod was seen terminating (deletionTimestamp and a grace period) before it went.
    expect(pods.events.some((e) => e.type === 'MODIFIED' && e.object.metadata.deletionGracePeriodSeconds === 30)).toBe(
      true,
    );
    const jobGone = Number(jobs.events.find((e) => e.type === 'DELETED')?.object.metadata.resourceVersion);
    for (const rv of podsGone) expect(rv).toBeLessThan(jobGone);
  });
});
