/**
 * What loading `k8s-jobs` costs an application: the native `sqlite3` addon only once a
 * `sqlite://` store is opened, and none of the CLI's own dependencies at all. Each case runs in a
 * child process, the package installed by name (installed-package.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { installPackage, type InstalledPackage } from './installed-package.js';

let installed: InstalledPackage;
beforeAll(() => {
  installed = installPackage(['keyv']);
});
afterAll(() => installed.remove());

describe('the sqlite3 addon', () => {
  // The shared objects of the process, as its diagnostic report lists them: a loaded addon is one.
  const runnerScript = () =>
    installed.script(
      'runner-on-store.mjs',
      `import Keyv from 'keyv';
import { createRunner } from 'k8s-jobs';
import { startSimulatedCluster } from 'k8s-jobs/sim';

const [option] = process.argv.slice(2);
const cluster = await startSimulatedCluster();
const runner = await createRunner({ kubeConfig: cluster.kubeConfig, store: option === 'own-keyv' ? new Keyv({ store: new Map() }) : option });
await runner.shutdown();
await cluster.close();
const addons = process.report.getReport().sharedObjects.filter((path) => path.endsWith('.node'));
console.log(JSON.stringify({ sqlite3: addons.some((path) => path.endsWith('node_sqlite3.node')) }));
`,
    );

  test.each([
    ['memory://', false],
    ['own-keyv', false],
    ['sqlite://./tasks.sqlite', true],
  ])('a runner on %s: loaded %s', async (store, loaded) => {
    const { code, stdout, stderr } = await installed.node([runnerScript(), store]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({ sqlite3: loaded });
  });
});

describe('the CLI-only dependencies', () => {
  const cliOnly = ['commander', 'log-update', 'cli-table3', 'yaml', '@keyv/sqlite', 'sqlite3'];

  /** The URLs the ES module loader resolved while `entry` was imported, and their packages. */
  async function loadedBy(entry: string): Promise<{ urls: string[]; packages: Set<string> }> {
    const log = join(installed.appDir, `resolved-${entry.replace(/\W/g, '-')}.log`);
    // A resolve hook (module.register) appends every URL it resolves to the log.
    const hooks = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');
  return resolved;
}`;
    const recorder = installed.script(
      'record-resolved.mjs',
      `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});
`,
    );
    const { code, stderr } = await installed.node([
      '--import',
      recorder,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(entry)});`,
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const packages = urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []);
    return { urls, packages: new Set(packages) };
  }

  test("importing 'k8s-jobs' loads none of them, nor any module of the sim or the CLI", async () => {
    const { urls, packages } = await loadedBy('k8s-jobs');
    expect(packages).toContain('xstate'); // the hook sees the engine's own dependencies
    expect(cliOnly.filter((name) => packages.has(name))).toEqual([]);
    expect(urls.filter((url) => /\/k8s-jobs\/dist\/(sim|cli)\//.test(url))).toEqual([]);
  });

  test("importing 'k8s-jobs/sim' loads yaml and the sim's modules (the hook sees them)", async () => {
    const { urls, packages } = await loadedBy('k8s-jobs/sim');
    expect(packages).toContain('yaml');
    expect(urls).toContainEqual(expect.stringMatching(/\/k8s-jobs\/dist\/sim\/cluster\.js$/));
  });
});
