import { Registry, register as globalRegistry } from 'prom-client';
import type { Subscription } from 'rxjs';
import { afterEach, expect, test } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createRunner } from '../../src/runner/create-runner.js';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import { taskStates, type Transition } from '../../src/types.js';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * runner.metrics (prom-client) against the real runner on the sim: exact counts of transitions,
 * durations and tasks by state; API requests checked one by one against the sim's own request
 * log; retries, reconnects and throttling counted and reported on events$ alike.
 */

const engines: Engine[] = [];
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

async function engine(options: Parameters<typeof startEngine>[0] = {}): Promise<Engine> {
  const e = await startEngine(options);
  engines.push(e);
  return e;
}

/** Every event of `events$` from now on; `completed` once the stream completes. */
function collectEvents(e: Engine): RunnerEvent[] & { completed?: boolean } {
  const events: RunnerEvent[] & { completed?: boolean } = [];
  subscriptions.push(
    e.runner.events$.subscribe({ next: (event) => events.push(event), complete: () => (events.completed = true) }),
  );
  return events;
}

type Series = { labels: Record<string, string | number>; value: number; metricName?: string };

/** The series of one metric, as `labels → value` (histograms: the `_count` series only). */
async function series(registry: Registry, name: string): Promise<Series[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) throw new Error(`no metric ${name}`);
  const values = metric.values as Series[];
  return String(metric.type) === 'histogram' ? values.filter((v) => v.metricName === `${name}_count`) : values;
}

/** `label=value,...` → value, for exact comparisons; zero-valued series left out. */
async function byLabels(registry: Registry, name: string): Promise<Record<string, number>> {
  const entries = (await series(registry, name))
    .filter((s) => s.value !== 0)
    .map(
      (s) =>
        [
          Object.entries(s.labels)
            .map(([k, v]) => `${k}=${v}`)
            .sort()
            .join(','),
          s.value,
        ] as const,
    );
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

test('after one task succeeds and one fails, transitions, durations, tasks by state and API requests are counted exactly', async () => {
  const e = await engine();
  const transitions: Transition[] = [];
  subscriptions.push(e.runner.transitions$.subscribe((t) => transitions.push(t)));
  await e.runner.addTask({ id: 'good', image: 'busybox', ...behaviour({ durationMs: 50, exitCode: 0, logs: ['ok'] }) });
  await e.runner.addTask({
    id: 'bad',
    image: 'busybox',
    ...behaviour({ durationMs: 50, exitCode: 3, logs: ['broken'] }),
  });
  await Promise.all([e.runner.waitFor('good'), e.runner.waitFor('bad')]);
  // Stopped: every request the runner will make is made, and the registry stays readable.
  await e.runner.shutdown();
  const registry = e.runner.metrics;

  const path = (outcome: string) => ({
    'from=none,to=queued': 1,
    'from=queued,to=creating': 1,
    'from=creating,to=running': 1,
    [`from=running,to=${outcome}`]: 1,
    [`from=${outcome},to=deleting`]: 1,
    'from=deleting,to=deleted': 1,
  });
  const expected: Record<string, number> = {};
  for (const [key, n] of [...Object.entries(path('succeeded')), ...Object.entries(path('failed'))])
    expected[key] = (expected[key] ?? 0) + n;
  expect(await byLabels(registry, 'k8s_jobs_task_transitions_total')).toEqual(
    Object.fromEntries(Object.entries(expected).sort(([a], [b]) => a.localeCompare(b))),
  );
  // The counter is the transitions$ stream, counted.
  expect(transitions).toHaveLength(12);

  expect(await byLabels(registry, 'k8s_jobs_tasks')).toEqual({ 'state=deleted': 2 });
  expect(await series(registry, 'k8s_jobs_tasks')).toHaveLength(taskStates.length);
  expect(await byLabels(registry, 'k8s_jobs_queue_depth')).toEqual({});
  expect(await byLabels(registry, 'k8s_jobs_task_queue_wait_seconds')).toEqual({ '': 2 });
  expect(await byLabels(registry, 'k8s_jobs_task_run_duration_seconds')).toEqual({
    'outcome=failed': 1,
    'outcome=succeeded': 1,
  });

  // Every request the sim served (watch streams aside) is counted once, with its verb, resource and code.
  const served: Record<string, number> = {};
  for (const r of e.cluster.requests()) {
    if (r.verb === 'watch') continue;
    const key = `code=${r.status >= 200 && r.status < 300 ? '2xx' : r.status},resource=${r.resource},verb=${r.verb}`;
    served[key] = (served[key] ?? 0) + 1;
  }
  const counted = await byLabels(registry, 'k8s_jobs_kube_api_requests_total');
  expect(counted).toEqual(Object.fromEntries(Object.entries(served).sort(([a], [b]) => a.localeCompare(b))));
  expect(counted).toMatchObject({ 'code=2xx,resource=jobs,verb=create': 2, 'code=2xx,resource=jobs,verb=delete': 2 });
  expect(await byLabels(registry, 'k8s_jobs_kube_api_request_duration_seconds')).toHaveProperty(
    ['resource=jobs,verb=create'],
    2,
  );
  // No fault, no retry.
  expect(await byLabels(registry, 'k8s_jobs_kube_api_retries_total')).toEqual({});

  const text = await registry.metrics();
  expect(text).toContain('# HELP k8s_jobs_task_transitions_total ');
  expect(text).toContain('# TYPE k8s_jobs_task_run_duration_seconds histogram');
});

test('retried API errors and watch reconnects are counted and reported on events$', async () => {
  const e = await engine({ runner: { retry: { maxAttempts: 5, baseDelayMs: 5, maxDelayMs: 20 } } });
  const events = collectEvents(e);
  const { cluster, runner } = e;
  cluster.faults.failRequests({ verbs: ['create'], resources: ['jobs'], status: 503, times: 2 });
  await runner.addTask({ id: 'flaky-create', image: 'busybox', ...behaviour({ durationMs: 20 }) });
  expect(await runner.waitFor('flaky-create')).toMatchObject({ outcome: 'succeeded' });
  // A watch answered 500, then one resumed after a drop and refused with 410 (relist).
  cluster.faults.failRequests({ verbs: ['watch'], resources: ['jobs'], status: 500, times: 1 });
  cluster.faults.dropWatches({ resources: ['jobs'] });
  const answered500 = (ev: RunnerEvent): boolean =>
    ev.kind === 'watchReconnect' && ev.resource === 'jobs' && /\b500\b/.test(ev.error ?? '');
  await waitUntil(() => events.some(answered500), 'the watch answered 500 to be reported');
  cluster.faults.expireNextWatches(1, { resources: ['pods'] });
  cluster.faults.dropWatches({ resources: ['pods'] });
  await waitUntil(() => events.some((ev) => ev.kind === 'watchExpired'), 'the 410 to be reported');
  await waitUntil(
    async () => (await byLabels(runner.metrics, 'k8s_jobs_watch_relists_total'))['resource=pods'] === 1,
    'the relist to be counted',
  );
  await runner.shutdown();
  const registry = runner.metrics;

  const retries = events.filter((ev) => ev.kind === 'apiRetry');
  expect(retries).toEqual([
    expect.objectContaining({ kind: 'apiRetry', verb: 'create', resource: 'jobs', attempt: 1, statusCode: 503 }),
    expect.objectContaining({ kind: 'apiRetry', verb: 'create', resource: 'jobs', attempt: 2, statusCode: 503 }),
  ]);
  expect(await byLabels(registry, 'k8s_jobs_kube_api_retries_total')).toEqual({ 'verb=create': 2 });
  expect(await byLabels(registry, 'k8s_jobs_kube_api_errors_total')).toEqual({ 'code=503,verb=create': 2 });
  expect(await byLabels(registry, 'k8s_jobs_kube_api_requests_total')).toMatchObject({
    'code=503,resource=jobs,verb=create': 2,
    'code=2xx,resource=jobs,verb=create': 1,
  });

  // Every reconnect reported is counted, per resource; a failed one carries the API's error.
  const reconnects = events.filter((ev) => ev.kind === 'watchReconnect');
  const perResource = (resource: string) => reconnects.filter((ev) => ev.resource === resource).length;
  expect(perResource('jobs')).toBeGreaterThanOrEqual(2);
  expect(perResource('pods')).toBeGreaterThanOrEqual(1);
  expect(await byLabels(registry, 'k8s_jobs_watch_reconnects_total')).toEqual({
    'resource=jobs': perResource('jobs'),
    'resource=pods': perResource('pods'),
  });
  expect(reconnects.filter(answered500)).toHaveLength(1);
  expect(events.filter((ev) => ev.kind === 'watchExpired')).toEqual([{ kind: 'watchExpired', resource: 'pods' }]);
});

test('client-side throttling is reported at most once per second with the total waited, and its waits are counted', async () => {
  const e = await engine({ runner: { rateLimit: { qps: 40, burst: 1 } } });
  const events = collectEvents(e);
  const ids = ['t-1', 't-2', 't-3', 't-4'];
  for (const id of ids) await e.runner.addTask({ id, image: 'busybox', ...behaviour({ durationMs: 20 }) });
  await Promise.all(ids.map((id) => e.runner.waitFor(id)));
  await e.runner.shutdown();
  // The last window's throttling is reported before events$ completes on shutdown.
  expect(events.completed).toBe(true);
  const throttled = events.filter((ev): ev is Extract<RunnerEvent, { kind: 'throttled' }> => ev.kind === 'throttled');
  expect(throttled.length).toBeGreaterThan(0);
  for (const ev of throttled) expect(ev.waitedMs).toBeGreaterThan(0);
  // Coalesced: far fewer events than requests held back, and every one of those is in the histogram.
  const delayed = throttled.reduce((n, ev) => n + ev.requests, 0);
  expect(throttled.length).toBeLessThan(delayed);
  expect(await byLabels(e.runner.metrics, 'k8s_jobs_kube_api_throttle_wait_seconds')).toEqual({ '': delayed });
});

test('two runners have separate registries, and the global prom-client registry is left alone', async () => {
  const a = await engine();
  const b = await engine();
  await a.runner.addTask({ id: 'only-in-a', image: 'busybox', ...behaviour({ durationMs: 20 }) });
  await a.runner.waitFor('only-in-a');
  expect(a.runner.metrics).not.toBe(b.runner.metrics);
  expect(await byLabels(a.runner.metrics, 'k8s_jobs_tasks')).toEqual({ 'state=deleted': 1 });
  expect(await byLabels(b.runner.metrics, 'k8s_jobs_tasks')).toEqual({});
  expect(await byLabels(b.runner.metrics, 'k8s_jobs_task_transitions_total')).toEqual({});
  expect(globalRegistry.getSingleMetric('k8s_jobs_tasks')).toBeUndefined();
  // Merged, as an app serving both would do: the names collide only if the prefixes are equal.
  expect(() => Registry.merge([a.runner.metrics, b.runner.metrics])).toThrow(/already been registered/);
});

test("an app's registry and prefix are used: two runners side by side in one registry", async () => {
  const registry = new Registry();
  const a = await engine({ runner: { metrics: { registry, prefix: 'batch_a_' } } });
  await engine({ runner: { metrics: { registry, prefix: 'batch_b_' } } });
  expect(a.runner.metrics).toBe(registry);
  await a.runner.addTask({ id: 'in-a', image: 'busybox', ...behaviour({ durationMs: 20 }) });
  await a.runner.waitFor('in-a');
  expect(await byLabels(registry, 'batch_a_tasks')).toEqual({ 'state=deleted': 1 });
  expect(await byLabels(registry, 'batch_b_tasks')).toEqual({});
  expect((await registry.getMetricsAsJSON()).some((m) => m.name.startsWith('k8s_jobs_'))).toBe(false);
});

test('a second runner on a registry that already has its metric names is refused, and the first keeps its metrics', async () => {
  const registry = new Registry();
  const first = await engine({ runner: { metrics: { registry } } });
  const refused = await engine({ runner: { metrics: { registry } } }).catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(ValidationError);
  expect(refused).toMatchObject({ field: 'metrics.prefix', message: expect.stringContaining('k8s_jobs_tasks') });
  await first.runner.addTask({ id: 'still-counted', image: 'busybox', ...behaviour({ durationMs: 20 }) });
  await first.runner.waitFor('still-counted');
  expect(await byLabels(registry, 'k8s_jobs_tasks')).toEqual({ 'state=deleted': 1 });
});

test('metrics and logger options are validated, naming the field', async () => {
  await expect(createRunner({ metrics: { prefix: 'bad-prefix' } })).rejects.toThrow(ValidationError);
  await expect(createRunner({ metrics: { prefix: 'bad-prefix' } })).rejects.toThrow(/metrics\.prefix/);
  await expect(createRunner({ metrics: { registry: {} as Registry } })).rejects.toThrow(/metrics\.registry/);
  await expect(createRunner({ logger: { info: () => undefined } as never })).rejects.toThrow(/logger/);
});
