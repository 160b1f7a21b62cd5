/**
 * The process of the enqueue bench (`bench/boot.ts`, `runEnqueueBench`): a runner as an
 * application holds it (SQLite store, one slot so the tasks stay queued) against the cluster
 * whose kubeconfig it is given, `addTask` called with `inFlight` calls outstanding until `tasks`
 * are durable. Writes its figures as JSON on stdout. Bundled and run by plain `node
 * --expose-gc`, so its memory is Node's, the package's and the runner's: no tsx loader, no sim.
 *
 * argv: `<options JSON>`; environment: `K8S_JOBS_BENCH_KUBECONFIG` (the kubeconfig's text).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createRunner } from '../src/runner/create-runner.js';
import { countQueued } from './queued-count.js';

/** Workload of the enqueue bench. */
export interface EnqueueBenchOptions {
  /** Tasks enqueued. @default 100000 */
  tasks?: number;
  /** `addTask` calls in flight at once (an application enqueueing from many requests). @default 1000 */
  inFlight?: number;
}

/** What the enqueue run measured, in the process that ran it. */
export interface EnqueueFigures {
  tasks: number;
  inFlight: number;
  seconds: number;
  /** `process.cpuUsage()` over the enqueues: every thread of the process, SQLite's included. */
  cpuMs: number;
  /** Before the runner started: Node and the modules. */
  rssBefore: number;
  /** Right after the last enqueue resolved: what the process holds, garbage not yet collected included. */
  rss: number;
  /** The JS heap in use after a full collection, every task still queued: what the runner retains. */
  heapRetained: number;
  queued: number;
}

const kubeConfigText = process.env.K8S_JOBS_BENCH_KUBECONFIG;
if (kubeConfigText === undefined) throw new Error('K8S_JOBS_BENCH_KUBECONFIG is not set: run through bench/boot.ts');
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const { tasks = 100_000, inFlight = 1000 } = JSON.parse(process.argv[2] ?? '{}') as EnqueueBenchOptions;

const kubeConfig = new KubeConfig();
kubeConfig.loadFromString(kubeConfigText);
const dir = mkdtempSync(join(tmpdir(), 'k8s-jobs-enqueue-'));
try {
  const rssBefore = process.memoryUsage().rss;
  const runner = await createRunner({
    kubeConfig,
    namespace: 'default',
    store: `sqlite://${join(dir, 'enqueue.sqlite')}`,
    queueSize: tasks + 1,
    maxConcurrentJobs: 1,
  });
  let next = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (next < tasks) {
      const i = next++;
      await runner.addTask({ id: `task-${i}`, image: 'busybox', command: ['echo', String(i)], priority: i % 3 });
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, tasks) }, worker));
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  const rss = process.memoryUsage().rss;
  gc();
  const heapRetained = process.memoryUsage().heapUsed;
  const queued = await countQueued(runner);
  await runner.shutdown({ mode: 'detach' });
  const figures: EnqueueFigures = {
    tasks,
    inFlight,
    seconds,
    cpuMs: (used.user + used.system) / 1000,
    rssBefore,
    rss,
    heapRetained,
    queued,
  };
  process.stdout.write(JSON.stringify(figures));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
