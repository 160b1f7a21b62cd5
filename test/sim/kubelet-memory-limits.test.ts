import { readdirSync, readFileSync } from 'node:fs';
import { BatchV1Api, CoreV1Api, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, test } from 'vitest';
import { ContainerLog } from '../../src/sim/container-logs.js';
import { MemoryMonitor } from '../../src/sim/memory-monitor.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { processRuntime } from '../../src/sim/runtime-process.js';
import type { ContainerExit, ContainerSpec, RunningContainer } from '../../src/sim/runtime.js';
import type { KubeObject } from '../../src/sim/types.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * The process runtime enforces `resources.limits.memory` as the memory cgroup does: over the
 * limit, the container's whole process group is SIGKILLed and it ends OOMKilled, exit 137.
 * Memory is read from /proc, so these tests need Linux.
 */

/**
 * Grows by 1 MiB every ~10 ms through a pipe into `tail`, which keeps a newline-less input whole:
 * `mib` MiB at most, so a runtime that failed to stop it cannot take the machine down.
 */
const grow = (mib: number): string =>
  `i=0; while [ $i -lt ${mib} ]; do head -c 1048576 /dev/zero; sleep 0.01; i=$((i+1)); done | tail >/dev/null`;

/**
 * Whether any process of group `group` is still alive (a zombie waiting for its reaper holds nothing and counts as
 * gone).
 */
function groupAlive(group: number): boolean {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch (err) {
      // It exited while we listed /proc.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw err;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z') return true;
  }
  return false;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  // kill(0) succeeds on a zombie too: one that only waits to be reaped is gone.
  return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
}

describe.skipIf(process.platform !== 'linux')('memory limits on the process runtime', () => {
  let cluster: SimulatedCluster | undefined;
  afterEach(async () => {
    await cluster?.close();
    cluster = undefined;
  });

  async function runJob(
    c: SimulatedCluster,
    name: string,
    script: string,
    memory: string,
  ): Promise<{ job: V1Job; pod: V1Pod; log: string }> {
    const batch = c.kubeConfig.makeApiClient(BatchV1Api);
    const core = c.kubeConfig.makeApiClient(CoreV1Api);
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'main',
                  image: 'busybox:1.36',
                  command: ['sh', '-c', script],
                  resources: { limits: { memory } },
                },
              ],
            },
          },
        },
      },
    });
    const job = await waitUntil(async () => {
      const j = await batch.readNamespacedJob({ name, namespace: 'default' });
      return j.status?.conditions?.some((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True')
        ? j
        : undefined;
    }, `job ${name} finished`);
    const { items } = await core.listNamespacedPod({
      namespace: 'default',
      labelSelector: `batch.kubernetes.io/job-name=${name}`,
    });
    expect(items).toHaveLength(1);
    const pod = items[0]!;
    const log = await core.readNamespacedPodLog({ namespace: 'default', name: pod.metadata!.name! });
    return { job, pod, log };
  }

  test('a container over its memory limit: its whole process group is SIGKILLed, it ends OOMKilled exit 137, and the Job fails', async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01 });
    // `$$$$` reaches the shell as `$$` (Kubernetes expands `$(VAR)` and turns `$$` into `$`).
    const script = `sleep 30 & echo "sleeper $!"; ${grow(256)} & echo "tail $!"; echo "group $$$$"; wait`;
    const { job, pod, log } = await runJob(cluster, 'greedy', script, '32Mi');

    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    expect(pod.status?.phase).toBe('Failed');
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      status: 'True',
      reason: 'BackoffLimitExceeded',
    });
    expect(job.status?.failed).toBe(1);

    // Every process of the container went, not only the main one: the sleeper would live 30 s.
    const pids = Object.fromEntries([...log.matchAll(/^(\w+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(Object.keys(pids).sort()).toEqual(['group', 'sleeper', 'tail']);
    await waitUntil(() => !groupAlive(pids['group']), 'the process group gone', { timeoutMs: 5000 });
    expect(processAlive(pids['sleeper'])).toBe(false);
    expect(processAlive(pids['tail'])).toBe(false);
  });

  test('a container that stays under its memory limit is left alone and completes', async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01 });
    const { job, pod, log } = await runJob(cluster, 'modest', `${grow(8)}; echo "held 8 MiB"`, '64Mi');
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ reason: 'Completed', exitCode: 0 });
    expect(job.status?.conditions?.find((c) => c.type === 'Complete')).toMatchObject({ status: 'True' });
    expect(log).toBe('held 8 MiB\n');
  });

  test('only containers with a memory limit are sampled, and only while they run', async () => {
    const monitor = new MemoryMonitor();
    expect(monitor.enforced).toBe(true);
    const runtime = processRuntime(monitor);
    const pod = { metadata: { name: 'p', namespace: 'default', uid: 'u' } } as KubeObject;
    const start = async (container: ContainerSpec): Promise<RunningContainer> => {
      const outcome = await runtime
        .plan(pod, container, { restartCount: 0, init: false })
        .start({ pod, container, argv: container.command ?? [], env: {}, log: new ContainerLog() });
      if (outcome.kind !== 'started') throw new Error(`not started: ${outcome.kind}`);
      return outcome.container;
    };
    try {
      const unlimited = await start({
        name: 'unlimited',
        command: ['sleep', '30'],
        resources: { requests: { memory: '1Mi' } },
      });
      const zero = await start({ name: 'zero', command: ['sleep', '30'], resources: { limits: { memory: '0' } } });
      expect(monitor.sampledGroups).toBe(0);
      const limited = await start({
        name: 'limited',
        command: ['sleep', '30'],
        resources: { limits: { memory: '64Mi' } },
      });
      expect(monitor.sampledGroups).toBe(1);
      const ends: ContainerExit[] = [];
      for (const container of [unlimited, zero, limited]) {
        container.terminate();
        ends.push(await container.exited);
      }
      expect(ends.map((e) => e.reason)).toEqual(['Error', 'Error', 'Error']);
      expect(monitor.sampledGroups).toBe(0);
    } finally {
      await runtime.close();
    }
  });
});
