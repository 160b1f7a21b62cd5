import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that take 8 s or more of `npm test` (measured with `--reporter=json` on a fresh clone),
 * longest first. On a fresh clone vitest knows no durations and starts the largest files first;
 * these are small files that wait on real time (child processes killed and relaunched, thousands
 * of lifecycles), and one of them started last ends the run alone while the other workers are idle.
 */
const knownLongFiles = [
  'test/crash/crash.test.ts',
  'test/runner/bounded-memory.test.ts',
  'test/crash/soak.test.ts',
  'test/engine/stale-deadline.test.ts',
  'test/examples/doc-blocks.test.ts',
  'test/cli/demo-command.test.ts',
  'test/dashboard/dashboard-browser.test.ts',
  'test/recovery/signals.test.ts',
  'test/replicas/fencing.test.ts',
  'test/recovery/reconciliation.test.ts',
  'test/replicas/failover.test.ts',
  'test/package/lazy-dependencies.test.ts',
  'test/engine/retries.test.ts',
];

/**
 * Orders the files longest first within each project, and the projects with `all` last. vitest's
 * own sequencer queues `all` first, then the engine passes (`engine-memory`, `engine-rbac`), so
 * the passes' long files started last and ended the run alone while the other workers were idle;
 * queued first, they are done while `all` runs, and its last files are its shortest. A project's
 * files stay together: a worker that moves to another project imports everything afresh (mixing
 * them cost more CPU than it saved). A file's duration is its last run's in this project, else in
 * `all` (the passes run the same files), else its place in `knownLongFiles`; files with none of
 * these follow, largest first, as vitest does.
 */
export class LongestFirstSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const cache = this.ctx.cache;
    const weigh = (spec: TestSpecification): { project: string; duration: number; size: number } => {
      const path = relative(root, spec.moduleId);
      const project = spec.project.name;
      const result = cache.getFileTestResults(`${project}:${path}`) ?? cache.getFileTestResults(`all:${path}`);
      const known = knownLongFiles.indexOf(path);
      // A known long file without a recorded run ranks after every recorded one of 10 s or more.
      const duration = result?.duration ?? (known >= 0 ? 10_000 - known : 0);
      const size = cache.getFileStats(`${project}:${path}`)?.size ?? 0;
      return { project, duration, size };
    };
    // `all` last; the passes in name order.
    const projectRank = (name: string): [number, string] => [name === 'all' ? 1 : 0, name];
    const weights = new Map(files.map((spec) => [spec, weigh(spec)]));
    return Promise.resolve(
      [...files].sort((a, b) => {
        const wa = weights.get(a)!;
        const wb = weights.get(b)!;
        const [rankA, nameA] = projectRank(wa.project);
        const [rankB, nameB] = projectRank(wb.project);
        const byProject = rankA - rankB || (nameA < nameB ? -1 : nameA > nameB ? 1 : 0);
        return byProject || wb.duration - wa.duration || wb.size - wa.size;
      }),
    );
  }
}
