import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { simCommand } from '../../src/cli/sim-command.js';
import { ContainerLog, maxLogRecordSize, nowNs, rfc3339Nano } from '../../src/sim/container-logs.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { behaviour, createPod, podWhen } from '../helpers/sim-pods.js';

/*
 * Issue 12: a container's log kept within the kubelet's bounds (`containerLogMaxSize` ×
 * `containerLogMaxFiles`), whatever the container prints, and the log options as a kubelet
 * serves them after rotation. `line NNN\n` takes 49 bytes in the CRI format: a 2,000-byte file
 * rotates after its 41st line.
 */
const lines = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${String(from + i).padStart(3, '0')}\n`).join('');

describe('ContainerLog bounds', () => {
  test('containerLogMaxFiles: validated as the kubelet does (≥ 2); rotated files counted up to maxFiles - 1', () => {
    expect(() => new ContainerLog(2000, 1)).toThrow(/containerLogMaxFiles must be an integer greater than 1, got 1/);
    expect(() => new ContainerLog(2000, 2.5)).toThrow(RangeError);
    const log = new ContainerLog(2000, 3);
    log.write('stdout', lines(0, 40));
    expect(log.rotations).toBe(1);
    expect(log.rotatedFiles).toBe(1);
    log.write('stdout', lines(41, 199)); // one pipe read, cut where the files rotate
    expect(log.rotations).toBe(4);
    expect(log.rotatedFiles).toBe(2);
    expect(log.read()).toBe(lines(164, 199));
  });

  test('output without newlines is cut into 16 KiB partial records: the file stays bounded', () => {
    const log = new ContainerLog(64 * 1024);
    const chunk = 'x'.repeat(60_000);
    for (let i = 0; i < 100; i++) log.write('stdout', chunk); // 6 MB, no newline
    expect(log.rotations).toBeGreaterThan(80);
    expect(log.currentFileBytes).toBeLessThanOrEqual(64 * 1024 + maxLogRecordSize + 64);
    // Served as written (partial records carry no newline), the current file only.
    const text = log.read();
    expect(text).toMatch(/^x+$/);
    expect(text.length).toBeLessThanOrEqual(64 * 1024 + maxLogRecordSize);
    // Each record is a line for tailLines; with timestamps the first one read is prefixed, and
    // the records continuing it are not (the kubelet prefixes a cut line once).
    expect(log.read({ tailLines: 2 })).toBe('x'.repeat(2 * maxLogRecordSize));
    expect(log.read({ tailLines: 2, timestamps: true })).toMatch(/^\S+Z x{32768}$/);
    log.end();
  });

  test('a long line inside one read is cut the same way; the full record that ends it keeps its newline', () => {
    const log = new ContainerLog();
    log.write('stdout', `short\n${'y'.repeat(maxLogRecordSize * 2 + 10)}\nlast\n`);
    expect(log.read()).toBe(`short\n${'y'.repeat(maxLogRecordSize * 2 + 10)}\nlast\n`);
    expect(log.read({ tailLines: 3 })).toBe(`${'y'.repeat(maxLogRecordSize + 10)}\nlast\n`);
    const stamped = log.read({ timestamps: true });
    expect(stamped).toMatch(new RegExp(`^(\\S+Z) short\\n\\1 y{${maxLogRecordSize * 2 + 10}}\\n\\1 last\\n$`));
    let followed = '';
    log.follow({ timestamps: true }, { write: (t) => ((followed += t), true), end: () => undefined });
    expect(followed).toBe(stamped);
  });

  test('tailLines and since inside a pipe read of many lines, after rotation', () => {
    const log = new ContainerLog(2000);
    log.write('stdout', lines(0, 49)); // rotated after line 40: lines 41..49 current
    const between = nowNs();
    log.write('stdout', lines(50, 59));
    expect(log.read({ tailLines: 0 })).toBe('');
    expect(log.read({ tailLines: 12 })).toBe(lines(48, 59));
    expect(log.read({ sinceNs: between })).toBe(lines(50, 59));
    expect(log.read({ tailLines: 15, sinceNs: between })).toBe(lines(50, 59));
    const stamped = log.read({ tailLines: 2, timestamps: true }).split('\n');
    expect(stamped[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line 058$/);
    expect(stamped[1]).toMatch(/Z line 059$/);
    expect(stamped[0]?.split(' ')[0]).toBe(stamped[1]?.split(' ')[0]);
    expect(rfc3339Nano(between) <= (stamped[0]?.split(' ')[0] ?? '')).toBe(true);
  });

  test('a follower with tailLines=0 gets only what is written after it started, across rotations', () => {
    const log = new ContainerLog(2000);
    log.write('stdout', lines(0, 30));
    let text = '';
    let ended = false;
    log.follow({ tailLines: 0 }, { write: (t) => ((text += t), true), end: () => (ended = true) });
    log.write('stdout', lines(31, 130));
    log.end();
    expect(text).toBe(lines(31, 130));
    expect(ended).toBe(true);
  });
});

describe('k8s-jobs sim log flags', () => {
  const parse = (...args: string[]) =>
    simCommand()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined })
      .action(() => undefined)
      .parseAsync(['node', 'sim', ...args]);

  test('--container-log-max-size takes a positive quantity, --container-log-max-files an integer > 1', async () => {
    const ok = simCommand().action(() => undefined);
    await ok.parseAsync(['node', 'sim', '--container-log-max-size', '2Mi', '--container-log-max-files', '3']);
    expect(ok.opts()).toMatchObject({ containerLogMaxSize: '2Mi', containerLogMaxFiles: 3 });
    const defaults = simCommand().action(() => undefined);
    await defaults.parseAsync(['node', 'sim']);
    expect(defaults.opts()).toMatchObject({ containerLogMaxSize: '10Mi', containerLogMaxFiles: 5 });
    await expect(parse('--container-log-max-size', 'lots')).rejects.toThrow(
      /positive quantity such as 10Mi, got "lots"/,
    );
    await expect(parse('--container-log-max-size', '0')).rejects.toThrow(/positive quantity/);
    await expect(parse('--container-log-max-files', '1')).rejects.toThrow(/integer greater than 1, got "1"/);
  });

  test('the cluster refuses a containerLogMaxFiles under 2', async () => {
    await expect(startSimulatedCluster({ kubelet: { containerLogMaxFiles: 1 } })).rejects.toThrow(
      /containerLogMaxFiles must be an integer greater than 1/,
    );
  });
});

describe('pods/log after rotations (containerLogMaxSize: 2000, containerLogMaxFiles: 2)', () => {
  let cluster: SimulatedCluster;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({
      timeScale: 0.01,
      kubelet: { runtime: 'scripted', containerLogMaxSize: 2000, containerLogMaxFiles: 2 },
    });
    await createPod(cluster, { name: 'chatty', annotations: behaviour({ logs: lines(0, 199).trimEnd().split('\n') }) });
    await podWhen(cluster, 'chatty', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  });
  afterAll(async () => cluster.close());

  const log = async (query: string): Promise<string> => {
    const response = await fetch(`${cluster.url}/api/v1/namespaces/default/pods/chatty/log?${query}`);
    expect(response.status).toBe(200);
    return response.text();
  };

  test('timestamps, tailLines and limitBytes combine on the current file', async () => {
    const stamped = (await log('timestamps=true&tailLines=2')).split('\n');
    expect(stamped).toHaveLength(3);
    expect(stamped[0]).toMatch(/^\S+Z line 198$/);
    expect(stamped[1]).toMatch(/^\S+Z line 199$/);
    // limitBytes counts the timestamp prefix too, and may cut inside a line.
    const limited = await log('timestamps=true&limitBytes=25');
    expect(Buffer.byteLength(limited)).toBe(25);
    expect(limited).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await log('tailLines=0')).toBe('');
  });

  test('sinceTime after the container wrote: nothing; sinceSeconds covering it: the current file', async () => {
    const future = new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    expect(await log(`sinceTime=${future}`)).toBe('');
    expect(await log('sinceSeconds=3600')).toBe(lines(164, 199));
    // `previous` still names a terminated instance the kubelet has not got: 400, as before rotation.
    const previous = await fetch(`${cluster.url}/api/v1/namespaces/default/pods/chatty/log?previous=true`);
    expect(previous.status).toBe(400);
  });
});
