/**
 * `npm run bench`: runs every section and prints one table. Benchmarks measure; they assert
 * nothing. `npm run bench -- sim store:x` runs only the sections named (`sim` = every `sim:*`).
 *
 * To add a section, write a module returning `BenchRow[]` and list it in `sections`.
 */
import { runEngineBench } from './engine.js';
import { runEngineSplitBench } from './engine-split.js';
import { runEngineMachinesBench } from './engine-machines.js';
import { round, type BenchRow, type BenchSection } from './section.js';
import { runSimFanoutBench } from './sim-fanout.js';
import { simMemorySection } from './sim-memory.js';
import { runSimThroughputBench } from './sim-throughput.js';
import { runBootBench, runEnqueueBench } from './boot.js';
import { runStoreBench } from './store.js';
import { runStoreListBench } from './store-list.js';
import { runRetentionBench } from './retention.js';
import { runTracingBench } from './tracing.js';
import { runTaskQueueBench } from './task-queue.js';
import { runReplicasBench } from './replicas.js';

const sections: BenchSection[] = [
  { name: 'sim:throughput', run: runSimThroughputBench },
  { name: 'sim:fanout', run: runSimFanoutBench },
  simMemorySection,
  { name: 'store', run: () => runStoreBench() },
  { name: 'store:enqueue', run: () => runEnqueueBench() },
  { name: 'store:boot', run: () => runBootBench() },
  { name: 'store:list', run: () => runStoreListBench() },
  { name: 'store:retention', run: () => runRetentionBench() },
  { name: 'engine', run: () => runEngineBench() },
  { name: 'engine:split', run: () => runEngineSplitBench() },
  { name: 'engine:machines', run: () => runEngineMachinesBench() },
  { name: 'tracing', run: () => runTracingBench() },
  { name: 'queue', run: () => Promise.resolve(runTaskQueueBench()) },
  { name: 'replicas', run: () => runReplicasBench() },
];

/** Peak resident set size of this process so far (`resourceUsage().maxRSS` is in KiB). */
function peakRssRow(after: string): BenchRow {
  return {
    section: 'process',
    name: `peak RSS after the ${after} section`,
    value: round(process.resourceUsage().maxRSS / 1024),
    unit: 'MiB',
    note: 'whole bench process, monotonic',
  };
}

const wanted = process.argv.slice(2);
const named = (section: BenchSection): boolean =>
  wanted.some((w) => section.name === w || section.name.startsWith(`${w}:`));
const chosen = wanted.length === 0 ? sections : sections.filter(named);
if (chosen.length === 0)
  throw new Error(`no bench section named ${wanted.join(', ')}; sections: ${sections.map((s) => s.name).join(', ')}`);

const rows: BenchRow[] = [];
for (const section of chosen) {
  const started = performance.now();
  process.stderr.write(`bench: ${section.name}… `);
  rows.push(...(await section.run()), peakRssRow(section.name));
  process.stderr.write(`${round((performance.now() - started) / 1000, 1)} s\n`);
}
rows.push({
  section: 'process',
  name: 'heap used at the end',
  value: round(process.memoryUsage().heapUsed / 2 ** 20),
  unit: 'MiB',
});
console.table(rows.map(({ section, name, value, unit, note }) => ({ section, name, value, unit, note: note ?? '' })));
