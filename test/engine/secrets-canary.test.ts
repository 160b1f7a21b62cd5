import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, expect, test } from 'vitest';
import type { InspectionEvent } from 'xstate';
import type { TaskInput } from '../../src/validation/task-spec.js';
import { startEngine, type Engine } from './harness.js';

/*
 * Secrets canary. A task's env comes from a Secret by reference (`valueFrom.secretKeyRef`); its
 * pod (a real `sh` process in the sim's process runtime, which resolves the reference as the
 * kubelet does) prints a canary derived from the secret: the value reversed.
 *
 * What is asserted, and why. The pod's own stdout is the task's logs, which the runner stores by
 * design (the final snapshot, and the last lines on a failure): a pod that prints a secret puts
 * it in the store, and no library can tell a secret from any other line of output. What the
 * runner owes is that it never handles the secret's VALUE itself — it passes the reference on and
 * never reads the Secret. So the pod prints only the derived canary, never the plain value, and:
 * - the secret, plain or base64 (as the Secret's `data` holds it), appears in none of: the SQLite
 *   store file's raw bytes (and its WAL), the runner's logger output, the inspector's events, the
 *   `/metrics` text, the messages of errors and failures;
 * - the canary appears in the task's logs (proof that the secret reached the pod and that the
 *   logs were kept), hence in the store's bytes, and in none of the other four.
 */

const secret = `s3cr3t-${randomUUID()}`;
const canary = [...secret].reverse().join('');
const secretBase64 = Buffer.from(secret).toString('base64');

const lines: string[] = [];
const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
const inspected: string[] = [];
let engine: Engine;
let storeDir: string;

afterAll(async () => {
  await engine.close();
  await rm(storeDir, { recursive: true, force: true });
});

/** JSON of an inspection event, cycles cut (actor refs may point back at their system). */
function serialize(event: InspectionEvent): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(event, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[cycle]';
      seen.add(value);
    }
    return typeof value === 'function' ? '[function]' : value;
  });
}

const fromSecret = (key: string) => [
  { name: 'SECRET_TOKEN', valueFrom: { secretKeyRef: { name: 'canary-secret', key } } },
];
const printCanary = 'printf "canary:%s\\n" "$(printf %s "$SECRET_TOKEN" | rev)"';
const task = (id: string, script: string, key = 'token'): TaskInput => ({
  id,
  image: 'busybox',
  command: ['sh', '-c', script],
  env: fromSecret(key),
  backoffLimit: 0,
});

test('a secret given by reference never shows in the store, the logs of the runner, the inspector, metrics or errors', async () => {
  // Always a SQLite file (also when the suite runs on the Map store): its raw bytes are checked.
  storeDir = await mkdtemp(join(tmpdir(), 'k8s-jobs-canary-'));
  const storeFile = join(storeDir, 'store.sqlite');
  engine = await startEngine({
    cluster: { kubelet: { runtime: 'process' } },
    runner: { store: `sqlite://${storeFile}`, logger, inspect: (event) => void inspected.push(serialize(event)) },
  });
  const { runner, cluster } = engine;
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedSecret({
    namespace: 'default',
    body: { metadata: { name: 'canary-secret' }, data: { token: secretBase64 } },
  });

  await runner.addTask(task('canary-ok', printCanary));
  await runner.addTask(task('canary-fails', `${printCanary}; exit 3`));
  // A key the Secret does not have: the kubelet's CreateContainerConfigError names the key, not a value.
  await runner.addTask(task('canary-no-key', printCanary, 'missing'));
  const records = await Promise.all(['canary-ok', 'canary-fails', 'canary-no-key'].map((id) => runner.waitFor(id)));
  expect(records.map((r) => [r.id, r.outcome, r.failure?.reason])).toEqual([
    ['canary-ok', 'succeeded', undefined],
    ['canary-fails', 'failed', 'BackoffLimitExceeded'],
    ['canary-no-key', 'failed', 'CreateContainerConfigError'],
  ]);
  // The secret did reach the pod (the canary is derived from it), and the logs were kept.
  expect(await runner.getLogs('canary-ok')).toBe(`canary:${canary}\n`);
  expect(records[1]?.failure?.lastLogLines).toEqual([`canary:${canary}`]);

  // Errors a careless caller provokes around the same task.
  const errors: unknown[] = [];
  const collect = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (err: unknown) => void errors.push(err),
    );
  await collect(runner.addTask({ ...task('canary-ok', printCanary), command: ['sh', '-c', 'true'] }));
  await collect(runner.addTask({ ...task('canary-bad', printCanary), timeout: -1 }));
  await collect(runner.getTask('canary-nope'));
  expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['DUPLICATE_TASK', 'VALIDATION', 'TASK_NOT_FOUND']);
  const errorText = [
    ...errors.map((e) => `${String(e)} ${(e as Error).stack ?? ''} ${JSON.stringify(e)}`),
    ...records.map((r) => r.failure?.message ?? ''),
  ].join('\n');

  const metrics = await runner.metrics.metrics();
  await runner.shutdown();
  const storeBytes = Buffer.concat(
    await Promise.all([storeFile, `${storeFile}-wal`].filter((f) => existsSync(f)).map((f) => readFile(f))),
  );

  // Each sink was really captured (so an absence below means something).
  const loggerText = lines.join('\n');
  expect(loggerText).toContain('canary-fails');
  expect(inspected.join('\n')).toContain('canary-ok');
  expect(metrics).toContain('k8s_jobs_');
  expect(storeBytes.includes('canary-no-key')).toBe(true);

  for (const [sink, text] of [
    ['logger output', loggerText],
    ['inspector events', inspected.join('\n')],
    ['metrics', metrics],
    ['error messages', errorText],
  ] as const) {
    expect.soft(text.includes(secret), `${sink} holds the secret`).toBe(false);
    expect.soft(text.includes(secretBase64), `${sink} holds the secret in base64`).toBe(false);
    expect.soft(text.includes(canary), `${sink} holds the canary`).toBe(false);
  }
  expect(storeBytes.includes(secret), 'the store file holds the secret').toBe(false);
  expect(storeBytes.includes(secretBase64), 'the store file holds the secret in base64').toBe(false);
  // The task's logs are kept by design: the canary the pod printed is there.
  expect(storeBytes.includes(canary)).toBe(true);
});
