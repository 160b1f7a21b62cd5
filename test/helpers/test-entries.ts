/**
 * The TypeScript programs tests start as child processes (the CLI, the crash suite's runner, the
 * examples…), each bundled by esbuild into one ESM file once per test run, run by plain `node`.
 *
 * Why not `node --import tsx`: on Node 20 a module loader's hooks run on a thread of their own, and
 * every import of every module crosses to it and back. Importing client-node (967 ESM files) went
 * from 1.0 s to 2.9 s of wall time (about 2 s more CPU) in each child; `npm test` starts over a
 * hundred. The bundle is what tsx would run (the same esbuild transform), our modules are one
 * file.
 *
 * The pure-JavaScript packages are in the bundle too: resolving and compiling client-node's files
 * one by one was most of a child's start (`node src__cli__main.mjs --help`: 0.8 s of wall time
 * and 1.0 s of CPU with every package imported from `node_modules`, 0.13 s and 0.13 s bundled), and
 * the crash, recovery and failover tests start children one after another. Left as imports from
 * `node_modules` ({@link externalPackages}): native addons, the store adapters with the `keyv` they
 * plug into, the packages that meet a user's copy through a process-wide registry, and node-fetch
 * (Node prints its deprecation warnings once it is outside `node_modules`).
 *
 * The bundles live two folders below the repository (`.tmp/test-entries-…/`), so the paths src/
 * computes from its own module resolve as they do from `src/<folder>/` (`../../package.json`,
 * and the dashboard's `./assets/`, copied beside them), and packages resolve from the
 * repository's `node_modules`. Linked source maps are written: `--enable-source-maps` maps a
 * child's stack traces to the .ts lines.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Where the bundles of this run are: set by {@link useTestEntries} (vitest's global setup calls it). */
const dirVariable = 'K8S_JOBS_TEST_ENTRIES';

/** The programs bundled, as paths from the repository root; every `examples/*.ts` too. */
const fixedEntries = [
  'src/cli/main.ts',
  'test/crash/child-runner.ts',
  'test/crash/harvest-child.ts',
  'test/helpers/log-flood-child.ts',
  'test/helpers/long-run-child.ts',
  'test/recovery/signal-child.ts',
  'test/replicas/replica-child.ts',
  'test/store/fixtures/save-then-hang.ts',
];

/**
 * Packages the bundles import from `node_modules` rather than contain: native addons (`sqlite3`,
 * `pg-native`), the store adapters and `keyv` (an adapter from `node_modules` must meet the same
 * `keyv`), OpenTelemetry (its API finds the SDK a program registers through a global), node-fetch
 * (see below), and the packages only tests and examples use.
 */
const externalPackages = [
  'sqlite3',
  'pg',
  'pg-native',
  'keyv',
  '@keyv/*',
  '@opentelemetry/*',
  '@statelyai/inspect',
  // Node warns of deprecated modules (`punycode`) and calls (`url.parse`) only in code outside
  // `node_modules`: bundled, node-fetch 2 and its whatwg-url would print those warnings on stderr
  // (Node 24), which the CLI tests check is empty.
  'node-fetch',
  'ws',
  'esbuild',
  'playwright*',
];

/** Gives the bundles' CommonJS parts a `require` for Node's modules and the external packages. */
const requireBanner = [
  "import { createRequire as createRequireOfBundle } from 'node:module';",
  'const require = createRequireOfBundle(import.meta.url);',
].join('\n');

let entries: readonly string[] | undefined;

/** Read once per process: {@link testEntry} checks every path it is asked for against it. */
function entryPaths(): readonly string[] {
  entries ??= [
    ...fixedEntries,
    ...readdirSync(join(repoRoot, 'examples'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => `examples/${name}`),
  ];
  return entries;
}

/** The bundle's file name: the path with its folders joined by `__` (`src__cli__main.mjs`). */
const bundleName = (path: string): string => `${path.replace(/\.ts$/, '').replaceAll('/', '__')}.mjs`;

/**
 * Bundles the programs at `paths` (from the repository root) into a new folder two levels below
 * the repository, as the test entries are (see above); `file(path)` names a program's bundle.
 * The benches use it too, to measure a program without tsx's loader in its process: they leave
 * `minifyWhitespace` off, since V8 keeps every script's source in memory and a bench that reads a
 * process's RSS should see what an installed package's code costs.
 */
export async function bundlePrograms(
  paths: readonly string[],
  prefix: string,
  options: { minifyWhitespace?: boolean } = {},
): Promise<{ dir: string; file: (path: string) => string; remove: () => void }> {
  mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, '.tmp', prefix));
  await build({
    entryPoints: paths.map((path) => ({ in: join(repoRoot, path), out: bundleName(path).replace(/\.mjs$/, '') })),
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // The packages every entry bundles go into shared chunks, written and compiled once each.
    splitting: true,
    external: externalPackages,
    banner: { js: requireBanner },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    minifyWhitespace: options.minifyWhitespace ?? false,
    logLevel: 'warning',
  });
  cpSync(join(repoRoot, 'src/dashboard/assets'), join(dir, 'assets'), { recursive: true });
  return {
    dir,
    file: (path) => join(dir, bundleName(path)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Bundles every entry into a new folder and points {@link testEntry} at it (in this process and
 * the ones it starts after, through the environment); `remove()` deletes the folder.
 */
export async function useTestEntries(): Promise<{ dir: string; remove: () => void }> {
  /*
   * Without whitespace the bundles hold 7.4 MB of code instead of 16.8 (client-node's models are
   * most of it), which every child decodes, parses and maps (`--enable-source-maps`) on start:
   * the crash suite's child runner, started and failing on a missing config, used 0.99 s of CPU
   * and now 0.77 (mean of 6 each; as written but without `--enable-source-maps` it used 0.79).
   * `npm test` starts over a hundred children. Names stay as written and stack traces are still
   * mapped to the .ts lines.
   */
  const { dir, remove } = await bundlePrograms(entryPaths(), 'test-entries-', { minifyWhitespace: true });
  process.env[dirVariable] = dir;
  return { dir, remove };
}

/** Whether this process (or the one that started it) has bundled the entries already. */
export function testEntriesReady(): boolean {
  return process.env[dirVariable] !== undefined;
}

/**
 * The bundled file of the program at `path` (from the repository root, e.g. `src/cli/main.ts`),
 * to run as `node <file> …args`.
 */
export function testEntry(path: string): string {
  const dir = process.env[dirVariable];
  if (!dir)
    throw new Error(
      `${dirVariable} is not set: run tests through vitest (its global setup bundles the test entries) or call useTestEntries() first`,
    );
  if (!entryPaths().includes(path))
    throw new Error(`${path} is not among the bundled test entries (test/helpers/test-entries.ts)`);
  return join(dir, bundleName(path));
}
