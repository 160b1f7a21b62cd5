import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ContainerLog, type LogSink } from '../../src/sim/container-logs.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { behaviour, createPod, podWhen } from '../helpers/sim-pods.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * Container logs as the kubelet keeps them: a CRI file rotated at `containerLogMaxSize`, only
 * the current file served. Lines `line NNN\n` take 49 bytes in the CRI format (30-byte time,
 * ` stdout F `, 9 bytes of text), so a 2,000-byte file is rotated after its 41st line.
 */
const lines = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${String(from + i).padStart(3, '0')}\n`).join('');

function writeLines(log: ContainerLog, from: number, to: number): void {
  for (const line of lines(from, to).split(/(?<=\n)/)) log.write('stdout', line);
}

/** A sink that records what it gets and can refuse (like a client that stopped reading). */
function recordingSink(accept: () => boolean = () => true): LogSink & { text: string; ended: boolean } {
  const sink = {
    text: '',
    ended: false,
    write(text: string) {
      sink.text += text;
      return accept();
    },
    end() {
      sink.ended = true;
    },
  };
  return sink;
}

describe('ContainerLog', () => {
  test('rotates once the file passes maxSize; reads see the current file only', () => {
    const log = new ContainerLog(2000);
    writeLines(log, 0, 199);
    // 41 lines per file: four rotations, lines 164..199 in the current one.
    expect(log.rotations).toBe(4);
    expect(log.read()).toBe(lines(164, 199));
    expect(log.read({ tailLines: 100 })).toBe(lines(164, 199));
    expect(log.read({ tailLines: 2 })).toBe(lines(198, 199));
  });

  test('a follower that keeps up gets every line, across rotations', () => {
    const log = new ContainerLog(2000);
    writeLines(log, 0, 9);
    const sink = recordingSink();
    log.follow({ tailLines: 0 }, sink);
    writeLines(log, 10, 149);
    log.end();
    expect(sink.text).toBe(lines(10, 149));
    expect(sink.ended).toBe(true);
  });

  test('a follower that falls behind reads its rotated file to the end, then the current file; nothing queues', () => {
    const log = new ContainerLog(2000);
    let open = false;
    const sink = recordingSink(() => open);
    const follow = log.follow({}, sink);
    writeLines(log, 0, 99); // the first line fills the client's buffer; two rotations follow
    expect(sink.text).toBe(lines(0, 0));
    log.end();
    expect(sink.ended).toBe(false);
    open = true;
    follow.resume();
    // As the kubelet's open file descriptor: the rest of file 0, then the file current by now (file 1 is skipped).
    expect(sink.text).toBe(lines(0, 40) + lines(82, 99));
    expect(sink.ended).toBe(true);
  });

  test('memory stays bounded whatever the container prints', () => {
    const log = new ContainerLog(64 * 1024);
    const chunk = 'y\n'.repeat(32 * 1024);
    for (let i = 0; i < 16; i++) log.write('stdout', chunk); // 1 MiB of output
    // Each `y` line takes 42 bytes in the file: a file holds 1,561 of them at most.
    expect(log.read().length / 2).toBeLessThanOrEqual(Math.floor((64 * 1024) / 42) + 1);
    expect(log.rotations).toBeGreaterThan(300);
  });
});

describe('pods/log after rotations (containerLogMaxSize: 2000)', () => {
  let cluster: SimulatedCluster;

  beforeAll(async () => {
    cluster = await startSimulatedCluster({
      timeScale: 0.01,
      kubelet: { runtime: 'scripted', containerLogMaxSize: 2000 },
    });
    await createPod(cluster, { name: 'chatty', annotations: behaviour({ logs: lines(0, 199).trimEnd().split('\n') }) });
    await podWhen(cluster, 'chatty', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  });
  afterAll(async () => cluster.close());

  const log = async (pod: string, query = ''): Promise<string> => {
    const response = await fetch(`${cluster.url}/api/v1/namespaces/default/pods/${pod}/log${query ? `?${query}` : ''}`);
    expect(response.status).toBe(200);
    return response.text();
  };

  test('the log is the current file: what was written since the last rotation', async () => {
    expect(await log('chatty')).toBe(lines(164, 199));
  });

  test('tailLines, sinceTime and limitBytes apply to the current file', async () => {
    expect(await log('chatty', 'tailLines=1000')).toBe(lines(164, 199));
    expect(await log('chatty', 'tailLines=3')).toBe(lines(197, 199));
    expect(await log('chatty', 'sinceTime=2000-01-01T00:00:00Z')).toBe(lines(164, 199));
    expect(await log('chatty', 'limitBytes=20')).toBe('line 164\nline 165\nli');
  });

  test('follow streams every line a running container prints, across rotations', async () => {
    // From 1 s after the start, so the follow is open before the first rotation (line 41).
    const logs = Array.from({ length: 120 }, (_, i) => ({
      line: `line ${String(i).padStart(3, '0')}`,
      afterMs: 1000 + 2 * i,
    }));
    await createPod(cluster, { name: 'streaming', annotations: behaviour({ logs, durationMs: 1300 }) });
    await podWhen(cluster, 'streaming', 'running', (p) => p.status?.phase === 'Running');
    const followed = await log('streaming', 'follow=true');
    expect(followed).toBe(lines(0, 119));
    // Read afterwards, the log is only the current file.
    await waitUntil(async () => (await log('streaming')) === lines(82, 119), 'the current file');
  });
});

describe('a real process flooding stdout (process runtime, containerLogMaxSize: 64Ki)', () => {
  let cluster: SimulatedCluster;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({
      timeScale: 0.01,
      kubelet: { runtime: 'process', containerLogMaxSize: '64Ki' },
    });
  });
  afterAll(async () => cluster.close());

  test('5 MB of output: the log served is the current file, what followed the last rotation', async () => {
    const line = '0123456789'.repeat(9); // 90 characters + newline
    await createPod(cluster, {
      name: 'flood',
      container: { command: ['sh', '-c', `yes ${line} | head -n 55000; echo last`] },
    });
    await podWhen(cluster, 'flood', 'succeeded', (p) => p.status?.phase === 'Succeeded', { timeoutMs: 60_000 });
    const response = await fetch(`${cluster.url}/api/v1/namespaces/default/pods/flood/log`);
    const text = await response.text();
    // 131 bytes a line in the file: rotated every 501 lines; 55,000 = 109 × 501 + 391.
    expect(text).toBe(`${line}\n`.repeat(391) + 'last\n');
  });

  test('a follower whose client stops reading costs the sim no queue: it skips what rotated away meanwhile', async () => {
    const line = '0123456789'.repeat(9);
    await createPod(cluster, {
      name: 'flood-followed',
      container: { command: ['sh', '-c', `sleep 0.5; yes ${line} | head -n 200000; echo last`] },
    });
    await podWhen(cluster, 'flood-followed', 'running', (p) => p.status?.phase === 'Running');
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`${cluster.url}/api/v1/namespaces/default/pods/flood-followed/log?follow=true`, resolve).on('error', reject);
    });
    response.pause();
    // 18 MB written while the client reads nothing.
    await podWhen(cluster, 'flood-followed', 'succeeded', (p) => p.status?.phase === 'Succeeded', {
      timeoutMs: 60_000,
    });
    let received = '';
    response.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    await new Promise((resolve) => response.on('end', resolve).resume());
    expect(received.endsWith(`${line}\nlast\n`)).toBe(true);
    const count = received.split('\n').length - 2;
    // Some lines were never sent: what rotated away while the follower waited for its client.
    expect(count).toBeLessThan(200_000);
    expect(
      received
        .split('\n')
        .slice(0, -2)
        .every((l) => l === line),
    ).toBe(true);
  });
});
