import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { exampleArgs, startExampleCluster, type ExampleCluster } from './example-cluster.js';
import { WebSocket } from 'ws';

let sim: ExampleCluster;

beforeAll(async () => {
  sim = await startExampleCluster();
});
afterAll(async () => {
  await sim.close();
});

interface InspectorMessage {
  type: string;
  sessionId: string;
  name?: string;
  snapshot?: { value?: unknown };
}

test('examples/inspector.ts serves the inspector on 127.0.0.1 and streams redacted actor events of the runner to the page', async () => {
  const child = spawn(process.execPath, exampleArgs('examples/inspector.ts'), {
    cwd: sim.dir,
    env: { ...sim.env, INSPECTOR_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  try {
    const url = await new Promise<URL>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += String(chunk);
        const found = /open (http:\/\/\S+) in a browser/.exec(stdout);
        if (found?.[1]) resolve(new URL(found[1]));
      });
      void exited.then(() => reject(new Error(`example exited before printing its URL: ${stdout}${stderr}`)));
    });
    expect(url.hostname).toBe('127.0.0.1');

    // The page frames the hosted UI and reads events from the local socket.
    const html = await (await fetch(url)).text();
    expect(html).toContain('<iframe id="inspector" src="https://stately.ai/inspect">');
    expect(html).toContain("new WebSocket('ws://' + location.host + '/viewer')");

    // A page of another origin may not listen in.
    const foreign = new WebSocket(`ws://${url.host}/viewer`, { headers: { origin: 'https://elsewhere.example' } });
    const [refusal] = (await once(foreign, 'error')) as [Error];
    expect(refusal.message).toContain('401');

    // The viewer (what the page does): connecting lets the example start its tasks.
    const viewer = new WebSocket(`ws://${url.host}/viewer`);
    const raw: string[] = [];
    viewer.on('message', (data) => raw.push((data as Buffer).toString('utf8'))); // ws's default binaryType: one Buffer
    await once(viewer, 'close');
    const [code] = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('task inspector-hello: succeeded');
    expect(stdout).toContain('task inspector-exit-3: failed (BackoffLimitExceeded, exit code 3)');
    // The container got the token (its test passed)…
    expect(stdout).toContain('task inspector-secret: succeeded');

    // …which never went over the socket, while everything else did.
    const all = raw.join('\n');
    expect(all.includes('example-token-value'), 'the token on the socket').toBe(false);
    expect(all).toContain('[redacted]');
    const messages = raw.map((m) => JSON.parse(m) as InspectorMessage);
    const actors = messages.filter((m) => m.type === '@xstate.actor');
    expect(actors.map((a) => a.name)).toEqual(
      expect.arrayContaining([
        'supervisor',
        'task:inspector-hello',
        'task:inspector-exit-3',
        'task:inspector-secret',
        'createJob',
        'deleteJob',
      ]),
    );
    const secretTask = actors.find((a) => a.name === 'task:inspector-secret');
    const states = messages
      .filter((m) => m.type === '@xstate.snapshot' && m.sessionId === secretTask?.sessionId)
      .map((m) => m.snapshot?.value);
    expect(states.filter((v, i) => v !== states[i - 1])).toEqual([
      'queued',
      'creating',
      'running',
      'succeeded',
      'deleting',
      'deleted',
    ]);
  } finally {
    if (child.exitCode === null) child.kill();
  }
  // The example cleaned up after itself.
  expect(sim.cluster.objects('jobs')).toEqual([]);
});
