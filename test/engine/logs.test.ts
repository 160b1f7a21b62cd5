import KeyvModule from 'keyv';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { defaultScript, type ContainerScript } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, creationsByName, ourJobs, startEngine, type Engine } from './harness.js';

/*
 * Logs through the whole lifecycle: a 5 MiB log is stored capped (head + marker + tail), stays
 * readable once the Job and its pod are gone, and its final snapshot is on the store before the
 * runner sends the Job's DELETE (write-ahead), measured from the store's own writes and the sim's
 * request log.
 */

const Keyv = KeyvModule;
const bigTask = 'big-log';
const lineBody = 'x'.repeat(1023);
const lineCount = 5 * 1024;
/** 5 MiB of output: a first line, 5,118 filler lines and a last line, 1 KiB each with its newline. */
const bigLog = [
  `FIRST${lineBody.slice(5)}`,
  ...Array.from({ length: lineCount - 2 }, () => lineBody),
  `LAST${lineBody.slice(4)}`,
];

/** The big task's pods print the 5 MiB log; every other pod follows its behaviour annotation. */
const script: ContainerScript = (pod, container, context) =>
  pod.metadata.labels?.['job-name'] === bigTask
    ? { durationMs: 100, logs: bigLog }
    : defaultScript(pod, container, context);

/** Every `logs:<id>` write that reached the store's Map, with when it completed. */
const logWrites: { key: string; at: number }[] = [];
class ObservedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    super.set(key, value);
    if (key.includes('logs:')) logWrites.push({ key, at: Date.now() });
    return this;
  }
}
const keyv = new Keyv({ store: new ObservedMap<unknown>(), namespace: 'k8s-jobs', throwOnErrors: true });

const cap = 64 * 1024;
let engine: Engine;
beforeAll(async () => {
  engine = await startEngine({
    cluster: { kubelet: { runtime: 'scripted', script } },
    runner: { store: keyv, logs: { maxBytes: cap } },
  });
});
afterAll(async () => {
  await engine.close();
});

const writesOf = (id: string) => logWrites.filter((w) => w.key.endsWith(`logs:${id}`));
const deleteOf = (e: Engine, jobName: string) =>
  e.cluster.requests().filter((r) => r.verb === 'delete' && r.resource === 'jobs' && r.name === jobName);

test('a 5 MiB log is stored capped, with its head, a truncation marker and its tail, and is still readable after cleanup', async () => {
  const { runner, cluster } = engine;
  await runner.addTask({ id: bigTask, image: 'busybox' });
  const record = await runner.waitFor(bigTask);
  expect(record).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  // The Job is gone; its pod follows (Background propagation: the garbage collector deletes it later)...
  expect(ourJobs(cluster)).toEqual([]);
  await waitUntil(
    () => cluster.objects('pods').every((p) => p.metadata.labels?.['job-name'] !== bigTask),
    'the pod to be deleted',
  );
  // ...and the logs come from the store.
  const logs = await runner.getLogs(bigTask);
  expect(Buffer.byteLength(logs)).toBeLessThanOrEqual(cap);
  expect(logs.startsWith('FIRST')).toBe(true);
  expect(logs.trimEnd().endsWith(`LAST${lineBody.slice(4)}`)).toBe(true);
  expect(logs).toMatch(/… \[\d+ bytes truncated\] …/);
  const stored = (
    await keyv.get<{ snapshot: { text: string; totalBytes: number; truncated: boolean; final: boolean } }>(
      `logs:${bigTask}`,
    )
  )?.snapshot;
  expect(stored).toMatchObject({ truncated: true, final: true, totalBytes: lineCount * 1024 });
  expect(stored?.text).toBe(logs);
  const omitted = Number(/\[(\d+) bytes truncated\]/.exec(logs)?.[1]);
  expect(omitted).toBe(lineCount * 1024 - Buffer.byteLength(logs.replace(/\n… \[\d+ bytes truncated\] …\n/, '')));
  expect(creationsByName(cluster).get(bigTask)).toBe(1);
});

test('the final log snapshot is on the store before the runner asks to delete the Job', async () => {
  const { runner, cluster } = engine;
  const ids = ['order-ok', 'order-fail', 'order-slow'];
  await runner.addTask({ id: 'order-ok', image: 'busybox', ...behaviour({ durationMs: 30, logs: ['one', 'two'] }) });
  await runner.addTask({
    id: 'order-fail',
    image: 'busybox',
    ...behaviour({ durationMs: 30, exitCode: 3, logs: ['about to fail'] }),
  });
  await runner.addTask({
    id: 'order-slow',
    image: 'busybox',
    ...behaviour({ durationMs: 300, logs: ['early', { line: 'late', afterMs: 250 }] }),
  });
  const records = await Promise.all(ids.map((id) => runner.waitFor(id)));
  expect(records.map((r) => r.outcome)).toEqual(['succeeded', 'failed', 'succeeded']);
  for (const id of ids) {
    const deletes = deleteOf(engine, id);
    expect(deletes.length).toBeGreaterThan(0);
    const firstDelete = Math.min(...deletes.map((d) => d.at));
    const writes = writesOf(id);
    expect(writes.length).toBeGreaterThan(0);
    // Every snapshot write, the final one included, completed before the first DELETE arrived.
    expect(writes.filter((w) => w.at > firstDelete)).toEqual([]);
  }
  // What was stored last is the final, complete log, read back after the Job is gone.
  expect(await runner.getLogs('order-slow')).toBe('early\nlate\n');
  expect(await runner.getLogs('order-fail')).toBe('about to fail\n');
  expect(records[1]?.failure?.lastLogLines).toEqual(['about to fail']);
  expect(ourJobs(cluster)).toEqual([]);
});
