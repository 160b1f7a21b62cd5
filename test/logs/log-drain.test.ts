import { afterAll, beforeAll, expect, test } from 'vitest';
import { createRunner } from '../../src/runner/create-runner.js';
import { streamCutMarker } from '../../src/runner/task-streams.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { expectNumberedOnce, numberedLog } from '../helpers/numbered-log.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/*
 * A `logs$` subscriber that fell behind the pod (a busy process, a slow network) when the task
 * finished and its Job was deleted. The log rotated meanwhile, so the stored final snapshot holds
 * only its current file, and the bytes streamed cannot be placed in it: the rest has to come
 * from the stream itself. A TCP proxy holds the follow's response after its first 12 KiB (the
 * sim's kubelet then waits, as a real one does for a reader that stopped reading) until the task
 * is `deleted`.
 */

let cluster: SimulatedCluster;
let proxy: TcpProxy;
beforeAll(async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', script: () => numberedLog(), containerLogMaxSize: 8 * 1024 },
  });
  proxy = await startTcpProxy(cluster.url);
});
afterAll(async () => {
  await proxy?.close();
  await cluster?.close();
});

test('a stream still held back when the task is deleted is read to its end: the last line arrives, none twice', async () => {
  const id = 'drain-held';
  const runner = await createRunner({
    kubeConfig: proxy.kubeConfig,
    namespace: 'default',
    store: 'memory://',
    rateLimit: { qps: 1000, burst: 100 },
  });
  try {
    proxy.holdLogFollows(12 * 1024);
    await runner.addTask({ id, image: 'busybox' });
    const lines: string[] = [];
    let completed = false;
    const streamed = new Promise<void>((resolve, reject) => {
      runner.logs$(id).subscribe({
        next: (line) => lines.push(line),
        error: reject,
        complete: () => {
          completed = true;
          resolve();
        },
      });
    });
    expect(await runner.waitFor(id, { timeoutMs: 30_000 })).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    // Deleted while the stream was held after its first lines.
    expect(proxy.heldLogFollows()).toBe(1);
    const beforeRelease = lines.length;
    expect(beforeRelease).toBeGreaterThan(100);
    expect(lines).not.toContain('END');
    expect(completed).toBe(false);
    proxy.releaseLogFollows();
    await streamed;
    expect(lines.length).toBeGreaterThan(beforeRelease);
    expect(lines.at(-1)).toBe('END');
    expect(lines).not.toContain(streamCutMarker);
    expectNumberedOnce(lines);
  } finally {
    proxy.releaseLogFollows();
    await runner.shutdown();
  }
}, 60_000);
