import { expect, test } from 'vitest';
import { healthOf, type HealthSources } from '../../src/runner/health.js';
import { jobTtlBackstop, resolveRunnerOptions } from '../../src/runner/options.js';

/* healthOf decides `status` from the parts' reports; pure, times in epoch ms. */

const now = Date.parse('2026-01-01T00:10:00.000Z');
const sources = (over: Partial<HealthSources> = {}): HealthSources => ({
  closed: false,
  watch: { state: 'connected', since: now - 60_000, lastEventAt: now - 1000 },
  stallGraceMs: 30_000,
  store: { writable: true, lastWriteAt: now - 500 },
  queue: { depth: 2, capacity: 100 },
  active: 3,
  maxConcurrentJobs: 5,
  now,
  ...over,
});

test('healthOf: ok, with every time as ISO 8601 and nothing but JSON', () => {
  const health = healthOf(sources());
  expect(health).toEqual({
    status: 'ok',
    watch: { state: 'connected', since: '2026-01-01T00:09:00.000Z', lastEventAt: '2026-01-01T00:09:59.000Z' },
    store: { writable: true, lastWriteAt: '2026-01-01T00:09:59.500Z' },
    queue: { depth: 2, capacity: 100 },
    active: 3,
    maxConcurrentJobs: 5,
  });
  expect(JSON.parse(JSON.stringify(health))).toEqual(health);
});

test('healthOf: a watch reconnecting is degraded within stallGraceMs, down past it', () => {
  const reconnecting = (forMs: number) =>
    healthOf(sources({ watch: { state: 'reconnecting', since: now - forMs } })).status;
  expect(reconnecting(0)).toBe('degraded');
  expect(reconnecting(30_000)).toBe('degraded');
  expect(reconnecting(30_001)).toBe('down');
});

test('healthOf: down when closed, when a store write failed, or when the watch is stopped; degraded when the queue is full', () => {
  expect(healthOf(sources({ closed: true }))).toMatchObject({ status: 'down', store: { writable: true } });
  const failed = healthOf(sources({ store: { writable: false, lastError: 'SQLITE_FULL' } }));
  expect(failed).toMatchObject({ status: 'down', store: { writable: false, lastError: 'SQLITE_FULL' } });
  expect(healthOf(sources({ watch: { state: 'stopped', since: now } })).status).toBe('down');
  expect(healthOf(sources({ queue: { depth: 100, capacity: 100 } })).status).toBe('degraded');
});

test('jobTtlBackstop: 3600 by default, the option when set, none with null or with keepJobs unless set', () => {
  const ttl = (cleanup: Parameters<typeof resolveRunnerOptions>[0]) =>
    jobTtlBackstop(resolveRunnerOptions(cleanup).cleanup);
  expect(ttl({})).toBe(3600);
  expect(ttl({ cleanup: { ttlSecondsAfterFinished: 0 } })).toBe(0);
  expect(ttl({ cleanup: { ttlSecondsAfterFinished: null } })).toBeUndefined();
  expect(ttl({ cleanup: { keepJobs: true } })).toBeUndefined();
  expect(ttl({ cleanup: { keepJobs: true, ttlSecondsAfterFinished: 60 } })).toBe(60);
  expect(() => resolveRunnerOptions({ cleanup: { ttlSecondsAfterFinished: -1 } })).toThrow(/ttlSecondsAfterFinished/);
  expect(() => resolveRunnerOptions({ orphanScanIntervalMs: -5 })).toThrow(/orphanScanIntervalMs/);
  expect(resolveRunnerOptions({}).orphanScanIntervalMs).toBe(300_000);
});
