import { execFile } from 'node:child_process';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, expect, test } from 'vitest';
import { createRunner } from '../../src/runner/create-runner.js';
import { repoRoot } from '../cli/cli-process.js';
import { waitUntil } from '../helpers/wait.js';
import { exampleArgs } from './example-cluster.js';
import { defaultScript, type ContainerScript } from '../../src/sim/index.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * OpenTelemetry spans of tasks (src/runner/tracing.ts), recorded by the SDK's in-memory exporter,
 * from the real runner on the sim: a span per task, a child per phase, outcome and reason as
 * attributes, ERROR status on failure, the caller's span as parent, resumed and detached spans
 * across a restart, and nothing at all when no provider is registered.
 */

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  // The global API state some tests register.
  trace.disable();
  context.disable();
});

async function engine(options: Parameters<typeof startEngine>[0] = {}): Promise<Engine> {
  const e = await startEngine(options);
  engines.push(e);
  return e;
}

function recorder(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider } {
  const exporter = new InMemorySpanExporter();
  return { exporter, provider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }) };
}

const phases = ['queued', 'creating', 'running', 'harvest', 'delete'].map((p) => `k8s_jobs.task.${p}`);

/** The task's span and its children (in start order), once the task span has ended. */
async function taskTrace(exporter: InMemorySpanExporter, taskId: string, count = 1) {
  const tasks = await waitUntil(() => {
    const found = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'k8s_jobs.task' && s.attributes['k8s_jobs.task.id'] === taskId);
    return found.length >= count ? found : undefined;
  }, `the span of ${taskId}`);
  const task = tasks[count - 1]!;
  const children = exporter
    .getFinishedSpans()
    .filter((s) => s.parentSpanContext?.spanId === task.spanContext().spanId)
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  return { task, children };
}

const ms = (time: ReadableSpan['startTime']) => time[0] * 1000 + time[1] / 1e6;

test('one task: a span from addTask to deleted, a child per phase, back to back, outcome attributes', async () => {
  const { exporter, provider } = recorder();
  const e = await engine({ runner: { tracerProvider: provider } });
  await e.runner.addTask({ id: 'ok', image: 'busybox', priority: 3, ...behaviour({ logs: ['hi'], durationMs: 50 }) });
  const done = await e.runner.waitFor('ok');
  expect(done.state).toBe('deleted');
  const { task, children } = await taskTrace(exporter, 'ok');

  expect(task.parentSpanContext).toBeUndefined();
  expect(task.instrumentationScope.name).toBe('k8s-jobs');
  expect(task.instrumentationScope.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(task.attributes).toEqual({
    'k8s_jobs.task.id': 'ok',
    'k8s.namespace.name': 'default',
    'k8s.job.name': done.jobName,
    'k8s_jobs.task.priority': 3,
    'k8s_jobs.task.outcome': 'succeeded',
  });
  // Success stays UNSET (OpenTelemetry's advice for instrumentation libraries).
  expect(task.status.code).toBe(SpanStatusCode.UNSET);
  expect(children.map((s) => s.name)).toEqual(phases);
  expect(children.map((s) => s.attributes['k8s_jobs.task.state'])).toEqual([
    'queued',
    'creating',
    'running',
    'succeeded',
    'deleting',
  ]);
  expect(children[3]!.attributes['k8s_jobs.task.outcome']).toBe('succeeded');
  expect(children.every((s) => typeof s.attributes['k8s_jobs.transition.event'] === 'string')).toBe(true);
  // The phases tile the task's span: each starts where the previous ended, from its start to its end.
  expect(ms(children[0]!.startTime)).toBe(ms(task.startTime));
  for (let i = 1; i < children.length; i++) expect(ms(children[i]!.startTime)).toBe(ms(children[i - 1]!.endTime));
  expect(ms(children.at(-1)!.endTime)).toBe(ms(task.endTime));
  expect(task.spanContext().traceId).toBe(children[0]!.spanContext().traceId);
});

test('a task OOM-retried with a new Job: one span, a retry event naming the old Job, later phases the new one', async () => {
  const { exporter, provider } = recorder();
  // Out of memory below 96Mi: the first attempt (64Mi) fails, the second (128Mi) succeeds.
  const hungry: ContainerScript = (pod, container, context) => {
    const limit = (container.resources as { limits?: { memory?: string } } | undefined)?.limits?.memory;
    return limit === '64Mi' ? { durationMs: 20, oomKilled: true } : defaultScript(pod, container, context);
  };
  const e = await engine({
    runner: { tracerProvider: provider },
    cluster: { kubelet: { runtime: 'scripted', script: hungry } },
  });
  await e.runner.addTask({
    id: 'hungry',
    image: 'busybox',
    resources: { limits: { memory: '64Mi' } },
    retry: { oomKilled: { attempts: 1 } },
  });
  const done = await e.runner.waitFor('hungry');
  expect(done.outcome).toBe('succeeded');
  const { task, children } = await taskTrace(exporter, 'hungry');
  expect(done.jobName).not.toBe('hungry');
  expect(task.attributes['k8s.job.name']).toBe(done.jobName);
  expect(
    task.events.map((ev) => [ev.name, ev.attributes?.['k8s_jobs.retry.reason'], ev.attributes?.['k8s.job.name']]),
  ).toEqual([['k8s_jobs.retry', 'oomKilled', 'hungry']]);
  expect(children.map((s) => [s.name, s.attributes['k8s.job.name']])).toEqual([
    ['k8s_jobs.task.queued', 'hungry'],
    ['k8s_jobs.task.creating', 'hungry'],
    ['k8s_jobs.task.running', 'hungry'],
    ['k8s_jobs.task.retry', 'hungry'],
    ['k8s_jobs.task.queued', done.jobName],
    ['k8s_jobs.task.creating', done.jobName],
    ['k8s_jobs.task.running', done.jobName],
    ['k8s_jobs.task.harvest', done.jobName],
    ['k8s_jobs.task.delete', done.jobName],
  ]);
});

test('a failing task: ERROR status with the reason, exit code and error.type as attributes', async () => {
  const { exporter, provider } = recorder();
  const e = await engine({ runner: { tracerProvider: provider } });
  await e.runner.addTask({ id: 'bad', image: 'busybox', ...behaviour({ exitCode: 3 }) });
  expect((await e.runner.waitFor('bad')).outcome).toBe('failed');
  const { task, children } = await taskTrace(exporter, 'bad');
  expect(task.status).toEqual({ code: SpanStatusCode.ERROR, message: 'BackoffLimitExceeded' });
  expect(task.attributes).toMatchObject({
    'k8s_jobs.task.outcome': 'failed',
    'k8s_jobs.task.failure.reason': 'BackoffLimitExceeded',
    'error.type': 'BackoffLimitExceeded',
    'k8s_jobs.task.exit_code': 3,
  });
  const harvest = children.find((s) => s.name === 'k8s_jobs.task.harvest');
  expect(harvest?.attributes).toMatchObject({ 'k8s_jobs.task.state': 'failed', 'k8s_jobs.task.exit_code': 3 });
});

test("a task added inside the app's active span is its child (globally registered provider)", async () => {
  const { exporter, provider } = recorder();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const e = await engine();
  const app = trace.getTracer('app');
  const appSpan = await app.startActiveSpan('handle-request', async (span) => {
    await e.runner.addTask({ id: 'child', image: 'busybox', ...behaviour({ durationMs: 10 }) });
    span.end();
    return span;
  });
  // Outside the app's span: a root.
  await e.runner.addTask({ id: 'root', image: 'busybox', ...behaviour({ durationMs: 10 }) });
  await e.runner.waitFor('child');
  await e.runner.waitFor('root');
  const child = (await taskTrace(exporter, 'child')).task;
  expect(child.parentSpanContext?.spanId).toBe(appSpan.spanContext().spanId);
  expect(child.spanContext().traceId).toBe(appSpan.spanContext().traceId);
  const root = await taskTrace(exporter, 'root');
  expect(root.task.parentSpanContext).toBeUndefined();
  expect(root.children.map((s) => s.name)).toEqual(phases);
});

test('a restart: the open span ends detached on shutdown, the next runner opens a resumed one', async () => {
  const { exporter, provider } = recorder();
  const e = await engine({ runner: { tracerProvider: provider } });
  await e.runner.addTask({ id: 'long', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  await waitUntil(async () => (await e.runner.getTask('long')).state === 'running' || undefined, 'running');
  await e.runner.shutdown();
  const first = await taskTrace(exporter, 'long');
  expect(first.task.attributes['k8s_jobs.runner.detached']).toBe(true);
  expect(first.task.attributes['k8s_jobs.task.outcome']).toBeUndefined();
  expect(first.children.map((s) => s.name)).toEqual(phases.slice(0, 3));
  expect(first.children[2]!.attributes['k8s_jobs.runner.detached']).toBe(true);

  const again = await createRunner({
    kubeConfig: e.cluster.kubeConfig,
    namespace: 'default',
    store: e.runnerStore(),
    tracerProvider: provider,
  });
  try {
    await again.cancel('long');
    expect((await again.waitFor('long')).outcome).toBe('cancelled');
    const second = await taskTrace(exporter, 'long', 2);
    expect(second.task.parentSpanContext).toBeUndefined();
    expect(second.task.spanContext().traceId).not.toBe(first.task.spanContext().traceId);
    expect(second.task.attributes).toMatchObject({
      'k8s_jobs.task.resumed': true,
      'k8s_jobs.task.resumed_state': 'running',
      'k8s_jobs.task.outcome': 'cancelled',
    });
    // A cancelled task was asked to stop: not an error.
    expect(second.task.status.code).toBe(SpanStatusCode.UNSET);
    expect(second.children.map((s) => s.name)).toEqual(phases.slice(2));
  } finally {
    await again.shutdown();
  }
});

test('no provider registered: no spans anywhere, the task runs as ever', async () => {
  const { exporter, provider } = recorder();
  // A provider exists in the process but nobody registers it (nor passes it).
  expect(trace.getTracerProvider().getTracer('probe').startSpan('x').isRecording()).toBe(false);
  const e = await engine();
  await e.runner.addTask({ id: 'quiet', image: 'busybox', ...behaviour({ durationMs: 10 }) });
  expect((await e.runner.waitFor('quiet')).outcome).toBe('succeeded');
  await provider.forceFlush();
  expect(exporter.getFinishedSpans()).toEqual([]);
});

test('a provider registered while tasks wait: spans for the tasks added after, none begun mid-task for those before', async () => {
  const { exporter, provider } = recorder();
  const e = await engine({ runner: { maxConcurrentJobs: 1 } });
  await e.runner.addTask({ id: 'before-running', image: 'busybox', ...behaviour({ durationMs: -1 }) });
  await e.runner.addTask({ id: 'before-queued', image: 'busybox', ...behaviour({ durationMs: 10 }) });
  await waitUntil(async () => (await e.runner.getTask('before-running')).state === 'running' || undefined, 'running');
  trace.setGlobalTracerProvider(provider);
  await e.runner.addTask({ id: 'after', image: 'busybox', ...behaviour({ durationMs: 10 }) });
  await e.runner.cancel('before-running');
  for (const id of ['before-running', 'before-queued', 'after']) await e.runner.waitFor(id);
  const after = await taskTrace(exporter, 'after');
  expect(after.children.map((s) => s.name)).toEqual(phases);
  // The tasks added before were never traced: none of their later transitions starts a span.
  const traced = new Set(exporter.getFinishedSpans().map((s) => s.attributes['k8s_jobs.task.id']));
  expect([...traced].filter((id) => id !== undefined)).toEqual(['after']);
});

test('examples/tracing.ts prints the trace of its failing task under the app span', async () => {
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      process.execPath,
      exampleArgs('examples/tracing.ts'),
      { cwd: repoRoot, timeout: 60_000 },
      (err, out, errOut) => (err ? reject(err) : resolve({ stdout: out, stderr: errOut })),
    );
  });
  expect(stderr).toBe('');
  expect(stdout.split('\n')).toEqual([
    'nightly-report',
    '  k8s_jobs.task ERROR(BackoffLimitExceeded) k8s_jobs.task.id=report k8s_jobs.task.priority=0 ' +
      'k8s_jobs.task.outcome=failed k8s_jobs.task.failure.reason=BackoffLimitExceeded k8s_jobs.task.exit_code=3',
    '    k8s_jobs.task.queued',
    '    k8s_jobs.task.creating',
    '    k8s_jobs.task.running',
    '    k8s_jobs.task.harvest k8s_jobs.task.outcome=failed k8s_jobs.task.failure.reason=BackoffLimitExceeded ' +
      'k8s_jobs.task.exit_code=3',
    '    k8s_jobs.task.delete',
    '',
  ]);
});
