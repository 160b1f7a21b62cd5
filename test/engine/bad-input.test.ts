import KeyvModule from 'keyv';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import type { TaskInput } from '../../src/validation/task-spec.js';
import { startEngine, type Engine } from './harness.js';

/*
 * Bad input is refused by `addTask` with a `ValidationError` naming the field, before anything
 * happens: the store gets no write at all and the sim sees no request besides the runner's own
 * shared watch. Each case breaks one field of an otherwise valid task.
 */

const Keyv = KeyvModule;
/** Every key written to the store's Map. */
const writes: string[] = [];
class ObservedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    writes.push(key);
    return super.set(key, value);
  }
}
const keyv = new Keyv({ store: new ObservedMap<unknown>(), namespace: 'k8s-jobs', throwOnErrors: true });

let engine: Engine;
beforeAll(async () => {
  engine = await startEngine({ runner: { store: keyv } });
});
afterAll(async () => {
  await engine.close();
});

const valid = (id: string): Record<string, unknown> => ({
  id,
  image: 'busybox:1.36',
  command: ['echo', 'hi'],
  timeout: 30,
});
/** A valid task with `patch` applied (a field set to `undefined` is removed). */
const broken = (id: string, patch: Record<string, unknown>): unknown =>
  Object.fromEntries(Object.entries({ ...valid(id), ...patch }).filter(([, v]) => v !== undefined));

/** [what is wrong, the input, the field the error must name]. */
const cases: [string, unknown, string][] = [
  ['empty id', broken('x', { id: '' }), 'id'],
  ['id with a space', broken('x', { id: 'has space' }), 'id'],
  ['id over 253 characters', broken('x', { id: 'a'.repeat(254) }), 'id'],
  ['numeric id', broken('x', { id: 42 }), 'id'],
  ['missing id', broken('x', { id: undefined }), 'id'],
  ['empty image', broken('bad-image-empty', { image: '' }), 'image'],
  ['image with upper case', broken('bad-image-case', { image: 'BusyBox:1.36' }), 'image'],
  ['image with an empty tag', broken('bad-image-tag', { image: 'busybox:' }), 'image'],
  ['missing image', broken('bad-image-missing', { image: undefined }), 'image'],
  ['empty command', broken('bad-command-empty', { command: [] }), 'command'],
  ['command as a string', broken('bad-command-string', { command: 'echo hi' }), 'command'],
  ['command with a number', broken('bad-command-number', { command: ['echo', 3] }), 'command.1'],
  ['command with a NUL', broken('bad-command-nul', { command: ['a\0b'] }), 'command.0'],
  ['args with null', broken('bad-args-null', { args: [null] }), 'args.0'],
  ['zero timeout', broken('bad-timeout-zero', { timeout: 0 }), 'timeout'],
  ['negative timeout', broken('bad-timeout-negative', { timeout: -5 }), 'timeout'],
  ['fractional timeout', broken('bad-timeout-fraction', { timeout: 1.5 }), 'timeout'],
  ['timeout as a string', broken('bad-timeout-string', { timeout: '30' }), 'timeout'],
  ['env name with a space', broken('bad-env-name', { env: [{ name: 'MY VAR', value: 'x' }] }), 'env.0.name'],
  ['env value as a number', broken('bad-env-value', { env: [{ name: 'N', value: 1 }] }), 'env.0'],
  [
    'duplicate env names',
    broken('bad-env-dup', {
      env: [
        { name: 'A', value: '1' },
        { name: 'A', value: '2' },
      ],
    }),
    'env.1.name',
  ],
  [
    'env secret with an invalid name',
    broken('bad-env-secret', { env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 'Bad_Name', key: 'k' } } }] }),
    'env.0.valueFrom.secretKeyRef.name',
  ],
  ['env as an object', broken('bad-env-object', { env: { A: '1' } }), 'env'],
  [
    'cpu limit that is no quantity',
    broken('bad-res-cpu', { resources: { limits: { cpu: 'lots' } } }),
    'resources.limits.cpu',
  ],
  [
    'memory request over its limit',
    broken('bad-res-order', { resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } }),
    'resources.requests.memory',
  ],
  ['unknown resources key', broken('bad-res-key', { resources: { gpus: { count: 1 } } }), 'resources.gpus'],
  ['label key with a space', broken('bad-label-key', { labels: { 'bad key': 'v' } }), 'labels.bad key'],
  ['label value over 63 characters', broken('bad-label-value', { labels: { team: 'x'.repeat(64) } }), 'labels.team'],
  [
    'reserved label',
    broken('bad-label-reserved', { labels: { 'app.kubernetes.io/managed-by': 'me' } }),
    'labels.app.kubernetes.io/managed-by',
  ],
  [
    'reserved annotation',
    broken('bad-annotation', { annotations: { 'k8s-jobs.io/fingerprint': 'x' } }),
    'annotations.k8s-jobs.io/fingerprint',
  ],
  ['fractional priority', broken('bad-priority-fraction', { priority: 1.5 }), 'priority'],
  ['priority out of range', broken('bad-priority-range', { priority: 2_000_000 }), 'priority'],
  ['negative backoffLimit', broken('bad-backoff', { backoffLimit: -1 }), 'backoffLimit'],
  ['negative ttlSecondsAfterFinished', broken('bad-ttl', { ttlSecondsAfterFinished: -1 }), 'ttlSecondsAfterFinished'],
  ['invalid serviceAccountName', broken('bad-sa', { serviceAccountName: 'Not_Valid' }), 'serviceAccountName'],
  ['podTemplate as a string', broken('bad-pt-string', { podTemplate: 'spec: {}' }), 'podTemplate'],
  ['podTemplate as an array', broken('bad-pt-array', { podTemplate: [] }), 'podTemplate'],
  ['unknown field', broken('bad-unknown', { imagePullPolicy: 'Always' }), 'imagePullPolicy'],
  ['misspelt field', broken('bad-typo', { timeOut: 30 }), 'timeOut'],
];

test(`${String(cases.length)} malformed tasks each get a ValidationError naming the field, and neither the sim nor the store sees anything`, async () => {
  const { runner, cluster } = engine;
  expect(cases.length).toBeGreaterThanOrEqual(25);
  const requestsBefore = cluster.requests().length;
  const writesBefore = writes.length;
  const results = [];
  for (const [what, input, field] of cases) {
    const error: unknown = await runner.addTask(input as TaskInput).then(
      () => undefined,
      (err: unknown) => err,
    );
    results.push({
      what,
      isValidationError: error instanceof ValidationError,
      field: error instanceof ValidationError ? error.field : String(error),
      namesIt: error instanceof Error && error.message.includes(`${field}:`),
    });
  }
  expect(results).toEqual(cases.map(([what, , field]) => ({ what, isValidationError: true, field, namesIt: true })));
  // Nothing stored, nothing sent: only the shared watch may have talked to the sim meanwhile.
  expect(writes.slice(writesBefore)).toEqual([]);
  expect(
    cluster
      .requests()
      .slice(requestsBefore)
      .filter((r) => r.verb !== 'watch' && r.verb !== 'list'),
  ).toEqual([]);
  expect(cluster.jobCreations()).toEqual([]);
  expect(await runner.listTasks()).toEqual({ items: [] });
});

test('a valid task after the bad ones is stored and sent, so the silence above was the validation', async () => {
  const { runner, cluster } = engine;
  const writesBefore = writes.length;
  await runner.addTask({ ...(valid('good-after-bad') as TaskInput) });
  const record = await runner.waitFor('good-after-bad');
  expect(record.outcome).toBe('succeeded');
  expect(writes.slice(writesBefore).some((key) => key.endsWith('good-after-bad'))).toBe(true);
  expect(cluster.jobCreations().map((c) => c.name)).toEqual(['good-after-bad']);
});
