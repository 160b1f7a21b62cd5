/**
 * What tracing a task costs the runner: one task's seven transitions (queued → … → deleted) fed to
 * `TaskTracing`, with no provider registered (the API's no-op tracer: the default) and with the
 * SDK's provider recording every span into a processor that drops it. Per task, in CPU time.
 */
import { pathToFileURL } from 'node:url';
import type { TracerProvider } from '@opentelemetry/api';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TaskTracing } from '../src/runner/tracing.js';
import type { TaskRecord, TaskState, Transition } from '../src/types.js';
import { round, type BenchRow } from './section.js';

const path: Array<[TaskState | null, TaskState]> = [
  [null, 'queued'],
  ['queued', 'creating'],
  ['creating', 'running'],
  ['running', 'succeeded'],
  ['succeeded', 'deleting'],
  ['deleting', 'deleted'],
];

/** Microseconds of CPU per task, over `tasks` tasks (after a warm-up of a tenth of them). */
function perTask(tracerProvider: TracerProvider | undefined | 'none', tasks: number): number {
  const tracing = new TaskTracing({
    tracerProvider: tracerProvider === 'none' ? undefined : tracerProvider,
    namespace: 'default',
  });
  // 'none': the loop alone (records and transitions built, nothing traced), the baseline.
  const deliver =
    tracerProvider === 'none' ? () => undefined : (t: Transition, r: TaskRecord) => tracing.transition(t, r);
  const at = new Date().toISOString();
  const run = (n: number, prefix: string): void => {
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${String(i)}`;
      const record: TaskRecord = { id, spec: { id, image: 'busybox' }, state: 'queued', jobName: id, createdAt: at };
      for (const [from, to] of path) {
        const t: Transition = { taskId: id, from, to, event: 'E', at };
        if (to === 'succeeded') t.outcome = 'succeeded';
        deliver(t, { ...record, state: to });
      }
    }
  };
  run(Math.ceil(tasks / 10), 'warm');
  const start = process.cpuUsage();
  run(tasks, 't');
  const used = process.cpuUsage(start);
  if (tracing.openCount !== 0) throw new Error(`${String(tracing.openCount)} spans left open`);
  return (used.user + used.system) / tasks;
}

/** The rows: per-task cost without a provider and with the SDK's. */
export async function runTracingBench({ tasks = 20_000 }: { tasks?: number } = {}): Promise<BenchRow[]> {
  const sdk = new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] });
  const rows: BenchRow[] = [
    {
      section: 'tracing',
      name: 'baseline: the loop, nothing traced',
      value: round(perTask('none', tasks), 2),
      unit: 'µs CPU/task',
      note: 'building the 6 transitions and records only: subtract from the rows below',
    },
    {
      section: 'tracing',
      name: 'no provider registered (default)',
      value: round(perTask(undefined, tasks), 2),
      unit: 'µs CPU/task',
      note: `${String(tasks)} tasks × 6 transitions through the API's no-op tracer`,
    },
    {
      section: 'tracing',
      name: 'SDK provider, spans dropped',
      value: round(perTask(sdk, tasks), 2),
      unit: 'µs CPU/task',
      note: '6 spans recorded per task (BasicTracerProvider, NoopSpanProcessor)',
    },
  ];
  await sdk.shutdown();
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await runTracingBench(process.argv[2] ? { tasks: Number(process.argv[2]) } : {});
  console.table(rows.map(({ name, value, unit, note }) => ({ name, value, unit, note: note ?? '' })));
}
