/**
 * OpenTelemetry tracing: the app registers a tracer provider (here the SDK's, recording in memory,
 * on the simulated cluster); a task added inside the app's span is traced as its child, one span
 * per phase below it. Prints the trace as a tree.
 */
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createRunner } from '../src/index.js';
import { behaviourAnnotation, startSimulatedCluster } from '../src/sim/index.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// The global provider and context manager, as an app's OpenTelemetry setup registers them.
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
const runner = await createRunner({ kubeConfig: cluster.kubeConfig, store: 'memory://' });
try {
  const tracer = trace.getTracer('my-app');
  await tracer.startActiveSpan('nightly-report', async (span) => {
    const script = JSON.stringify({ exitCode: 3 });
    await runner.addTask({ id: 'report', image: 'my-app:1.0', annotations: { [behaviourAnnotation]: script } });
    await runner.waitFor('report');
    span.end();
  });
  printTree(exporter.getFinishedSpans());
} finally {
  await runner.shutdown();
  await cluster.close();
  await provider.shutdown();
}

/** Each span under its parent, in start order, with its status and the task's attributes. */
function printTree(spans: ReadableSpan[]): void {
  const children = (parent: string | undefined) =>
    spans
      .filter((s) => s.parentSpanContext?.spanId === parent)
      .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  const print = (span: ReadableSpan, depth: number): void => {
    const attributes = Object.entries(span.attributes)
      .filter(([key]) => key.startsWith('k8s_jobs.task.') && key !== 'k8s_jobs.task.state')
      .map(([key, value]) => ` ${key}=${String(value)}`);
    const status = span.status.code === SpanStatusCode.ERROR ? ` ERROR(${span.status.message})` : '';
    console.log(`${'  '.repeat(depth)}${span.name}${status}${attributes.join('')}`);
    for (const child of children(span.spanContext().spanId)) print(child, depth + 1);
  };
  for (const root of children(undefined)) print(root, 0);
}
