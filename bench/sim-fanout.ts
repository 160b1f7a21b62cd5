/**
 * Watch fan-out: events/s delivered to 10 concurrent client-node watchers of Jobs while Jobs
 * churn through create → Complete → delete.
 *
 * Run alone with `npx tsx bench/sim-fanout.ts`; `bench/run.ts` collects its rows.
 */
import { pathToFileURL } from 'node:url';
import { Watch } from '@kubernetes/client-node';
import { startSimulatedCluster } from '../src/sim/index.js';
import { round, type BenchRow } from './section.js';
import { churnJobs } from './sim-churn.js';

/** Workload size. */
export interface SimFanoutOptions {
  /** @default 10 */
  watchers?: number;
  /** Jobs churned while they watch. @default 2000 */
  jobs?: number;
  /** @default 64 */
  inFlight?: number;
  /** @default 0.001 */
  timeScale?: number;
}

/** Runs the fan-out bench and returns its figures. */
export async function runSimFanoutBench(options: SimFanoutOptions = {}): Promise<BenchRow[]> {
  const watchers = options.watchers ?? 10;
  const jobs = options.jobs ?? 2000;
  const inFlight = options.inFlight ?? 64;
  const timeScale = options.timeScale ?? 0.001;
  const cluster = await startSimulatedCluster({ timeScale, recordRequests: false, kubelet: { runtime: 'scripted' } });
  const counts = new Array<number>(watchers).fill(0);
  const deletions = new Array<number>(watchers).fill(0);
  const controllers: AbortController[] = [];
  try {
    for (let i = 0; i < watchers; i++) {
      controllers.push(
        await new Watch(cluster.kubeConfig).watch(
          '/apis/batch/v1/namespaces/default/jobs',
          { labelSelector: 'bench=fanout' },
          (type) => {
            counts[i]!++;
            if (type === 'DELETED') deletions[i]!++;
          },
          () => {},
        ),
      );
    }
    const started = performance.now();
    await churnJobs(cluster, { count: jobs, inFlight, label: 'fanout' });
    // The churn has seen every DELETED on its own watch; the fan-out ends when every watcher has.
    while (deletions.some((d) => d < jobs)) await new Promise((resolve) => setImmediate(resolve));
    const elapsedMs = performance.now() - started;
    const delivered = counts.reduce((a, b) => a + b, 0);
    const note = `${watchers} watchers + the churn's own, ${jobs} Jobs churned, ${inFlight} in flight; client and cluster share this process`;
    return [
      {
        section: 'sim',
        name: `watch events delivered to ${watchers} watchers`,
        value: round(delivered / (elapsedMs / 1000)),
        unit: 'events/s',
        note,
      },
      {
        section: 'sim',
        name: 'watch events per Job, per watcher',
        value: round(delivered / watchers / jobs, 1),
        unit: 'events',
        note: 'ADDED, each status change, DELETED',
      },
    ];
  } finally {
    for (const controller of controllers) controller.abort();
    await cluster.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.table(await runSimFanoutBench());
}
