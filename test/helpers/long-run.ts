import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { startSimulatedCluster } from '../../src/sim/index.js';
import type { LongRunSample } from './long-run-child.js';
import { testEntry } from './test-entries.js';

/** What a long run measured. */
export interface LongRunFigures {
  samples: LongRunSample[];
  /** Slope of the heap after forced GC, past the warm-up, in bytes per 1,000 tasks (see `slope`). */
  heapSlopePer1000: number;
  /** The last sample's RSS and heap, in bytes. */
  rss: number;
  heapUsed: number;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/**
 * Drives `tasks` lifecycles through one runner in a child process (`node --expose-gc`, see
 * `long-run-child.ts`) on a simulated cluster served from this process (scripted instant pods),
 * sampling every `every` tasks; prints the samples and the heap slope past `warmUp` tasks.
 */
export async function longRun(options: {
  tasks: number;
  every: number;
  warmUp: number;
  store: 'sqlite' | 'memory';
  inFlight?: number;
  /** Run with `retention: { succeeded: { maxCount: keepSucceeded } }`. */
  keepSucceeded?: number;
}): Promise<LongRunFigures> {
  const cluster = await startSimulatedCluster({ timeScale: 0.001, kubelet: { runtime: 'scripted' } });
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-long-run-'));
  try {
    const child = spawn(process.execPath, ['--expose-gc', testEntry('test/helpers/long-run-child.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        LONG_RUN_KUBECONFIG: cluster.kubeConfig.exportConfig(),
        LONG_RUN_TASKS: String(options.tasks),
        LONG_RUN_EVERY: String(options.every),
        LONG_RUN_IN_FLIGHT: String(options.inFlight ?? 200),
        LONG_RUN_STORE: options.store === 'sqlite' ? `sqlite://${join(dir, 'store.sqlite')}` : 'memory://',
        ...(options.keepSucceeded !== undefined ? { LONG_RUN_KEEP_SUCCEEDED: String(options.keepSucceeded) } : {}),
      },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`the long-run child exited with ${String(code)}:\n${err}`);
    const samples = out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LongRunSample);
    const measured = samples.filter((s) => s.tasks > options.warmUp);
    const heapSlopePer1000 = slope(measured.map((s) => [s.tasks / 1000, s.heapUsed]));
    const last = samples[samples.length - 1];
    if (!last) throw new Error(`the long-run child printed no sample:\n${out}\n${err}`);
    const figures = { samples, heapSlopePer1000, rss: last.rss, heapUsed: last.heapUsed };
    const rows = samples.map(
      (s) =>
        `  ${String(s.tasks).padStart(6)} tasks  heap ${mb(s.heapUsed).padStart(9)}  rss ${mb(s.rss).padStart(9)}` +
        `  registry ${String(s.records)} (open ${String(s.openRecords)})` +
        `  stored succeeded ${String(s.succeededStored)}` +
        (s.storeBytes === undefined ? '' : `  store ${mb(s.storeBytes)}`),
    );
    console.log(
      [
        `long run: ${String(options.tasks)} lifecycles, ${options.store} store, runner in its own process`,
        ...rows,
        `  heap slope past ${String(options.warmUp)} tasks: ${mb(heapSlopePer1000)} per 1,000 tasks; ` +
          `final rss ${mb(figures.rss)}, heap ${mb(figures.heapUsed)}`,
      ].join('\n'),
    );
    return figures;
  } finally {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The Theil–Sen slope of `points` ([x, y]): the median of the slopes between every two of them. A
 * heap that grows with the task count moves every pair; one sample a collection left high (a
 * reading 0.9 MB over its neighbours, back the next time) moves only the pairs it is in. A
 * least-squares fit let such a sample near the end decide: 0.55 MB per 1,000 tasks in a CI run,
 * 0.33 without that sample; this gives 0.37 with it and 0.33 without.
 */
function slope(points: [number, number][]): number {
  if (points.length < 2) throw new Error('a slope needs at least two samples past the warm-up');
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const [x1, y1] = points[i] as [number, number];
      const [x2, y2] = points[j] as [number, number];
      if (x2 !== x1) slopes.push((y2 - y1) / (x2 - x1));
    }
  }
  slopes.sort((a, b) => a - b);
  const middle = slopes.length >> 1;
  return slopes.length % 2 === 1
    ? (slopes[middle] as number)
    : ((slopes[middle - 1] as number) + (slopes[middle] as number)) / 2;
}

/**
 * What a bounded runner shows at every sample (taken with nothing in flight): no open record, at
 * most `finishedCacheSize` finished ones (exactly that many without retention; purged tasks leave
 * the cache too), no stream or waiter left; and a heap slope under `maxSlopeMbPer1000` past the
 * warm-up.
 */
export function expectBoundedMemory(
  figures: LongRunFigures,
  maxSlopeMbPer1000: number,
  finishedCacheSize: number,
  { purged = false }: { purged?: boolean } = {},
): void {
  for (const sample of figures.samples) {
    const label = `sample after ${String(sample.tasks)} tasks`;
    expect(sample, label).toMatchObject({ openRecords: 0, taskStreams: 0, logStreams: 0, waiters: 0 });
    if (purged) expect(sample.records, label).toBeLessThanOrEqual(Math.min(sample.tasks, finishedCacheSize));
    else expect(sample.records, label).toBe(Math.min(sample.tasks, finishedCacheSize));
  }
  expect(figures.heapSlopePer1000 / 1024 / 1024).toBeLessThan(maxSlopeMbPer1000);
}

/**
 * What retention of `keep` succeeded tasks shows: never more than `keep` stored at a sample, and a
 * store whose size has levelled off: its last sample is within 10% of the one halfway through
 * (without the purge it would be about twice as big).
 */
export function expectBoundedStore(figures: LongRunFigures, keep: number): void {
  const { samples } = figures;
  for (const sample of samples) {
    expect(sample.succeededStored, `stored succeeded after ${String(sample.tasks)} tasks`).toBeLessThanOrEqual(keep);
  }
  const last = samples.at(-1)?.storeBytes;
  const halfway = samples[Math.floor((samples.length - 1) / 2)]?.storeBytes;
  expect(last, 'the store size at the last sample').toBeDefined();
  expect(halfway, 'the store size halfway').toBeDefined();
  expect(last).toBeLessThanOrEqual((halfway ?? 0) * 1.1);
}
