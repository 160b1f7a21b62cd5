/**
 * Simulator throughput: Jobs/s through create → Complete → delete with the scripted runtime's
 * instant containers, client-node over HTTP, a bounded number in flight, completion seen on a watch.
 *
 * Run alone with `npx tsx bench/sim-throughput.ts`; `bench/run.ts` collects its rows.
 */
import { pathToFileURL } from 'node:url';
import { startSimulatedCluster } from '../src/sim/index.js';
import { round, type BenchRow } from './section.js';
import { churnJobs, quantile } from './sim-churn.js';

/** Workload size. */
export interface SimThroughputOptions {
  /** @default 10000 */
  jobs?: number;
  /** Jobs between create and gone at any time. @default 64 */
  inFlight?: number;
  /** Cluster time scale (the controller's own batching delays). @default 0.001 */
  timeScale?: number;
}

/** Runs the throughput bench and returns its figures. */
export async function runSimThroughputBench(options: SimThroughputOptions = {}): Promise<BenchRow[]> {
  const jobs = options.jobs ?? 10_000;
  const inFlight = options.inFlight ?? 64;
  const timeScale = options.timeScale ?? 0.001;
  const cluster = await startSimulatedCluster({ timeScale, recordRequests: false, kubelet: { runtime: 'scripted' } });
  try {
    // Warm-up: JIT and sockets, outside the figure.
    await churnJobs(cluster, { count: 200, inFlight, label: 'warmup' });
    const { elapsedMs, completeLatencies } = await churnJobs(cluster, { count: jobs, inFlight, label: 'throughput' });
    const how = `${jobs} Jobs, ${inFlight} in flight, scripted instant runtime, timeScale ${timeScale}; client and cluster share this process`;
    return [
      {
        section: 'sim',
        name: 'Jobs through create → Complete → delete',
        value: round(jobs / (elapsedMs / 1000)),
        unit: 'Jobs/s',
        note: how,
      },
      {
        section: 'sim',
        name: 'create sent → Complete seen on the watch, p50',
        value: round(quantile(completeLatencies, 0.5), 1),
        unit: 'ms',
        note: 'per Job, under that load',
      },
      {
        section: 'sim',
        name: 'create sent → Complete seen on the watch, p99',
        value: round(quantile(completeLatencies, 0.99), 1),
        unit: 'ms',
        note: 'per Job, under that load',
      },
    ];
  } finally {
    await cluster.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runSimThroughputBench());
}
