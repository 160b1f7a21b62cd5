import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { jobNameFor } from '../../src/jobs/job-name.js';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import { truncationMarker } from '../../src/logs/capped-log.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { ContainerBehaviour } from '../../src/sim/runtime-scripted.js';
import { jobFinished, runJob } from '../helpers/job-inputs.js';

/** 5,000 numbered lines of 1,000 bytes: a 5 MB log. */
const bigLog = Array.from({ length: 5000 }, (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(994)}`);
const bigLogBytes = bigLog.reduce((n, line) => n + line.length + 1, 0);

/** What each test Job's container does, by Job name. */
const behaviours: Record<string, ContainerBehaviour> = {
  'big-log': { logs: bigLog },
  'never-starts': { neverStart: true },
};

let cluster: SimulatedCluster;
let kube: KubeAdapter;
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
});
afterAll(async () => {
  await kube.watcher.stop();
  await cluster.close();
});

describe('reading logs', () => {
  test('a 5 MB log is read capped: head + marker + tail, within 1 MiB', async () => {
    const input = await runJob(kube, 'big-log', jobFinished);
    const log = await kube.jobs.readJobLog(input.jobName);
    expect(log).toMatchObject({ container: 'task', truncated: true, totalBytes: bigLogBytes });
    const text = log?.text ?? '';
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024 * 1024);
    const [head, tail] = text.split(/\n… \[\d+ bytes truncated\] …\n/);
    expect(head?.startsWith(`0000 ${'x'.repeat(994)}\n0001`)).toBe(true);
    expect(tail?.endsWith(`4999 ${'x'.repeat(994)}\n`)).toBe(true);
    expect(text).toContain(
      truncationMarker(bigLogBytes - Buffer.byteLength(head ?? '') - Buffer.byteLength(tail ?? '')),
    );
    expect(Buffer.byteLength(head ?? '')).toBeGreaterThan(400_000);
    expect(Buffer.byteLength(tail ?? '')).toBeGreaterThan(400_000);
  });

  test('the cap is configurable per read', async () => {
    const log = await kube.jobs.readJobLog(jobNameFor('big-log'), { maxBytes: 10_000 });
    expect(Buffer.byteLength(log?.text ?? '')).toBeLessThanOrEqual(10_000);
    expect(log?.truncated).toBe(true);
  });

  test('a container waiting to start has an empty log (400 is not an error)', async () => {
    const input = await runJob(
      kube,
      'never-starts',
      (o) => o.pods.some((p) => p.containers.some((c) => c.waiting)) || o.pods.length > 0,
    );
    const since = cluster.requests().length;
    const log = await kube.jobs.readJobLog(input.jobName);
    expect(log).toMatchObject({ text: '', totalBytes: 0, truncated: false });
    expect(
      cluster
        .requests()
        .slice(since)
        .filter((r) => r.resource === 'pods/log')
        .map((r) => r.status),
    ).toEqual([400]);
  });

  test('a pod that is gone gives undefined (404)', async () => {
    await expect(kube.logs.readPodLog('no-such-pod', 'task')).resolves.toBeUndefined();
  });

  test('a Job with no pod (by its label) gives undefined', async () => {
    await expect(kube.jobs.readJobLog('no-such-job')).resolves.toBeUndefined();
  });
});
