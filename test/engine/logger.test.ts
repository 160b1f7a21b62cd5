import Keyv from 'keyv';
import { pino } from 'pino';
import { afterEach, expect, test } from 'vitest';
import { storeNamespace } from '../../src/store/layout.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * The injectable logger, with a real pino writing to a captured stream: the runner's records
 * arrive at the right levels, and nothing secret (an env value the container also prints) is
 * ever in a log line.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

interface LogRecord {
  level: number;
  msg: string;
  component?: string;
  [field: string]: unknown;
}

/** A pino logger at `debug` whose output lines are kept. */
function capturedPino(): { logger: pino.Logger; lines: string[]; records: () => LogRecord[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as LogRecord) };
}

const levels = { debug: 20, info: 30, warn: 40, error: 50 } as const;

test('start, stop, retries, watch failures and task outcomes are logged at their levels, and a secret env value never is', async () => {
  const { logger, lines, records } = capturedPino();
  engine = await startEngine({ runner: { logger, retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 } } });
  const { cluster, runner } = engine;
  cluster.faults.failRequests({ verbs: ['create'], resources: ['jobs'], status: 503, times: 1 });
  const secret = 's3cr3t-value';
  await runner.addTask({
    id: 'with-secret',
    image: 'busybox',
    env: [{ name: 'API_TOKEN', value: secret }],
    ...behaviour({ durationMs: 30, exitCode: 3, logs: [`token is ${secret}`] }),
  });
  await runner.addTask({ id: 'plain', image: 'busybox', ...behaviour({ durationMs: 30 }) });
  await Promise.all([runner.waitFor('with-secret'), runner.waitFor('plain')]);
  // The secret did pass through the runner: in the spec it stored, and in the log it kept.
  expect((await runner.getTask('with-secret')).spec.env).toEqual([{ name: 'API_TOKEN', value: secret }]);
  expect(await runner.getLogs('with-secret')).toContain(secret);
  cluster.faults.failRequests({ verbs: ['watch'], resources: ['pods'], status: 500, times: 1 });
  cluster.faults.dropWatches({ resources: ['pods'] });
  await waitUntil(
    () => records().some((r) => r.msg === 'watch failed, reconnecting' && String(r.error).includes('500')),
    'the failed watch to be logged',
  );
  await runner.shutdown();

  const all = records();
  const find = (msg: string, fields: Record<string, unknown> = {}) =>
    all.filter((r) => r.msg === msg && Object.entries(fields).every(([k, v]) => r[k] === v));
  expect(find('runner started', { namespace: 'default' })).toEqual([expect.objectContaining({ level: levels.info })]);
  expect(find('runner stopped')).toEqual([expect.objectContaining({ level: levels.info })]);
  expect(find('task finished', { taskId: 'with-secret' })).toEqual([
    expect.objectContaining({ level: levels.info, outcome: 'failed', reason: 'BackoffLimitExceeded', exitCode: 3 }),
  ]);
  expect(find('task finished', { taskId: 'plain' })).toEqual([
    expect.objectContaining({ level: levels.info, outcome: 'succeeded' }),
  ]);
  expect(
    find('Kubernetes API request failed, retrying', { verb: 'create', resource: 'jobs', statusCode: 503 }),
  ).toEqual([expect.objectContaining({ level: levels.debug, attempt: 1 })]);
  expect(find('watch failed, reconnecting', { resource: 'pods' }).map((r) => r.level)).toContain(levels.warn);
  expect(find('task transition', { taskId: 'plain', to: 'running' })).toEqual([
    expect.objectContaining({ level: levels.debug, from: 'creating' }),
  ]);
  // Every record is the runner's (pino child bindings), and none holds the secret.
  expect(all.every((r) => r.component === 'k8s-jobs')).toBe(true);
  expect(lines.filter((line) => line.includes(secret))).toEqual([]);
});

/** A Map whose writes fail once `failing` is set, as a store whose disk went away. */
class FailingMap extends Map<string, unknown> {
  failing = false;
  override set(key: string, value: unknown): this {
    if (this.failing) throw new Error('disk I/O error');
    return super.set(key, value);
  }
}

test('a store that fails is logged as an error when the runner stops', async () => {
  const { logger, records } = capturedPino();
  const map = new FailingMap();
  engine = await startEngine({ runner: { logger, store: new Keyv({ store: map, namespace: storeNamespace }) } });
  map.failing = true;
  await expect(engine.runner.addTask({ id: 'lost', image: 'busybox' })).rejects.toThrow();
  const fatal = await waitUntil(
    () => records().find((r) => r.msg === 'runner stopped after a fatal error'),
    'the fatal error to be logged',
  );
  expect(fatal).toMatchObject({ level: levels.error, err: { message: expect.stringContaining('disk I/O error') } });
});
