import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { LongestFirstSequencer } from './test/helpers/longest-first-sequencer.js';

/*
 * One vitest process runs every test file once, as project `all`. `npm test` sets
 * K8S_JOBS_TEST_PASSES=all: the engine suite then runs twice more in the same process, on the Map
 * store (`engine-memory`) and as deploy/rbac.yaml's service account (`engine-rbac`), so the three
 * passes share one pool of workers instead of running one after the other. Without it (one file,
 * one folder) only `all` runs, as before.
 */
const engineTests = 'test/engine/**/*.test.ts';
/*
 * Engine files that never start the harness's runner (test/engine/harness.ts, the one reader of
 * K8S_JOBS_TEST_STORE and K8S_JOBS_TEST_RBAC): each runs an example from examples/ as a child
 * process, with the store the example names itself and the sim's admin kubeconfig. The Map-store
 * and RBAC passes would run them exactly as `all` does, so they run in `all` only.
 */
const passIndependentEngineTests = [
  'test/engine/basic-example.test.ts',
  'test/engine/inspector-example.test.ts',
  'test/engine/metrics-example.test.ts',
];
const enginePass = (name: string, env: Record<string, string>): TestProjectInlineConfiguration => ({
  extends: true,
  test: { name, include: [engineTests], exclude: [...configDefaults.exclude, ...passIndependentEngineTests], env },
});
const enginePasses: TestProjectInlineConfiguration[] = [
  enginePass('engine-memory', { K8S_JOBS_TEST_STORE: 'memory' }),
  enginePass('engine-rbac', { K8S_JOBS_TEST_RBAC: 'deploy/rbac.yaml' }),
];

/*
 * vitest's default is one worker per core less one: a single worker on a two-core machine, the
 * files one after the other, while most of a test's time is spent waiting (scaled cluster timers,
 * child processes, HTTP round trips). Two workers per core: with one per core the suite used about
 * one of this machine's two cores (CPU time / wall time, `time npm test`: 285 s of CPU in 287 s);
 * with two, 1.6 (299 s in 188 s). Many tests hold real-time budgets (a pending budget of 2.5 s,
 * stuck graces of 1.2 s, child launches), which a machine loaded far past its cores can miss; at
 * 1.6 of 2 cores three tests missed theirs at first, and were made to hold (the soak's rate check,
 * a 1 s Job deadline, a read of a store a commit early). K8S_JOBS_TEST_WORKERS overrides it (1
 * runs the files one at a time, as a loaded machine may need).
 */
const requestedWorkers = Number(process.env.K8S_JOBS_TEST_WORKERS);
const maxWorkers =
  Number.isInteger(requestedWorkers) && requestedWorkers > 0 ? requestedWorkers : 2 * availableParallelism();

export default defineConfig({
  test: {
    // The long runs: `npm run test:slow` (vitest.slow.config.ts).
    exclude: [...configDefaults.exclude, 'test/slow/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Bundles the programs tests run as child processes (test/helpers/test-entries.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    /*
     * A worker runs its files one after another in one module graph, instead of a fresh one per
     * file: importing @kubernetes/client-node (967 ESM files, about 1 s of CPU) and the rest again
     * for each of the 211 files took 268 s of the suite's 810 s of test time; without isolation,
     * 32 s. `npm test` on an idle 2-core machine: 585 s → 388 s, every test passing either way.
     * What a test file changes globally (the OpenTelemetry API, fake timers) it puts back in
     * `afterEach`; the runners, sims and stores a file starts it closes. `--isolate` gives each
     * file a fresh process again, to rule out a file disturbing the next.
     */
    isolate: false,
    maxWorkers,
    // The engine passes first, then `all`; longest files first (test/helpers/longest-first-sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'all', include: ['test/**/*.test.ts'] } },
      ...(process.env.K8S_JOBS_TEST_PASSES === 'all' ? enginePasses : []),
    ],
  },
});
