import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import { toPodView } from '../../src/kube/views.js';
import type { PodView } from '../../src/machines/task/contract.js';
import type { FollowEnd } from '../../src/ports/job-logs.js';
import { ChangeSignal } from '../../src/runner/change-signal.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { expectNumberedOnce, numberedLog } from '../helpers/numbered-log.js';
import { createPod, podWhen } from '../helpers/sim-pods.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * `followJobLog` once the task has finished, with the stream behind the pod: a TCP proxy holds
 * the follow's response after its first 12 KiB, as a busy reader or a slow network would, while
 * the container writes the rest of its log (rotated every 8 KiB) and exits. A stream cut then is
 * resumed, as the rest of the log is still there; one that stays silent is given up after the
 * request timeout rather than waited on for good.
 */

const requestTimeoutMs = 1000;
let cluster: SimulatedCluster;
let proxy: TcpProxy;
let kube: KubeAdapter;
beforeAll(async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', script: () => numberedLog(), containerLogMaxSize: 8 * 1024 },
  });
  proxy = await startTcpProxy(cluster.url);
  kube = createKubeAdapter({
    kubeConfig: proxy.kubeConfig,
    namespace: 'default',
    retry: { baseMs: 5, maxMs: 50 },
    requestTimeoutMs,
  });
});
afterEach(() => proxy.releaseLogFollows());
afterAll(async () => {
  await proxy?.close();
  await cluster?.close();
});

/** Starts a pod printing `numberedLog` and follows it, held after 12 KiB, until it has exited. */
async function followHeldPod(name: string) {
  proxy.holdLogFollows(12 * 1024);
  await createPod(cluster, { name });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await podWhen(cluster, name, 'running', (p) => p.status?.phase === 'Running');
  let pod: PodView = toPodView(await core.readNamespacedPod({ name, namespace: 'default' }));
  let finished = false;
  const changes = new ChangeSignal();
  const lines: string[] = [];
  const followed: Promise<FollowEnd> = kube.jobs.followJobLog({
    pods: () => [pod],
    finished: () => finished,
    changes,
    signal: new AbortController().signal,
    onLine: (line) => lines.push(line.text),
  });
  await podWhen(cluster, name, 'succeeded', (p) => p.status?.phase === 'Succeeded');
  expect(proxy.heldLogFollows()).toBe(1);
  expect(lines).not.toContain('END');
  // The task finished: what the runner's watch would tell.
  pod = toPodView(await core.readNamespacedPod({ name, namespace: 'default' }));
  finished = true;
  changes.next();
  return { lines, followed };
}

test('a stream cut once the task finished is resumed from its last line: the rest arrives and the pod is drained', async () => {
  const { lines, followed } = await followHeldPod('follow-cut');
  const beforeCut = lines.length;
  proxy.holdLogFollows(undefined);
  proxy.dropAll();
  expect(await followed).toEqual({ drainedPod: 'follow-cut' });
  expect(lines.length).toBeGreaterThan(beforeCut);
  expect(lines.at(-1)).toBe('END');
  expectNumberedOnce(lines);
});

test('a stream silent once the task finished is given up after the request timeout, not drained', async () => {
  const { lines, followed } = await followHeldPod('follow-silent');
  const finishedAt = Date.now();
  const end = await followed;
  // Checked every `requestTimeoutMs`: given up after one to two of them (plus slack for a loaded
  // machine), not waited on for good.
  expect(Date.now() - finishedAt).toBeLessThan(2 * requestTimeoutMs + 5000);
  expect(end).toEqual({});
  expect(lines).not.toContain('END');
  // The follower closed its connection.
  await waitUntil(() => proxy.heldLogFollows() === 0, 'the held follow to be closed');
});
