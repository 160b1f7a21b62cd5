import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from '../cli/cli-process.js';

/*
 * Every TypeScript example in README.md is a file in examples/ (type-checked with the rest), shown
 * in the README with the import users write ('k8s-jobs/sim'). These tests keep the two the same
 * and run each file.
 */

const marker = /<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g;

/** The file as the README shows it: without its leading doc comment, importing the package. */
function asShownInReadme(source: string): string {
  return source.replace(/^\/\*\*[\s\S]*?\*\/\n/, '').replaceAll("from '../src/sim/index.js'", "from 'k8s-jobs/sim'").replaceAll("from '../src/index.js'", "from 'k8s-jobs'");
}

function runExample(path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', path], { cwd: repoRoot, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

describe('README.md', async () => {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const examples = [...readme.matchAll(marker)].map(([, path, code]) => ({ path: path ?? '', code: code ?? '' }));

  test('every TypeScript block is an example file, shown as it is', async () => {
    // examples/basic.ts and streams.ts need a cluster: test/engine/basic-example.test.ts runs them against the sim.
    expect(examples.map((e) => e.path)).toEqual(['examples/basic.ts', 'examples/streams.ts', 'examples/sim-with-runner.ts', 'examples/sim-basic.ts', 'examples/sim-faults.ts']);
    expect(readme.match(/```ts\n/g)).toHaveLength(examples.length);
    for (const { path, code } of examples) {
      expect(code, `README block for ${path}`).toBe(asShownInReadme(await readFile(join(repoRoot, path), 'utf8')));
    }
  });

  test('the runner-on-the-sim example sees its three scripted outcomes', async () => {
    const { code, stdout, stderr } = await runExample('examples/sim-with-runner.ts');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe('all three tasks ended as expected\n');
  });

  test('the k8s-jobs/sim example runs a Job to completion and prints its logs', async () => {
    const { code, stdout, stderr } = await runExample('examples/sim-basic.ts');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^conditions: SuccessCriteriaMet, Complete\nlogs: hello from the simulated cluster\nrequests served: \d+\n$/);
  });

  test('the fault injection example prints the same faults on every run, and the 403', async () => {
    const { code, stdout, stderr } = await runExample('examples/sim-faults.ts');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines.slice(0, 10)).toEqual([
      'job-0: created',
      'job-1: HTTP 429',
      'job-2: created',
      'job-3: created',
      'job-4: HTTP 429',
      'job-5: created',
      'jobs listed: 4',
      'lost-reply: ECONNRESET',
      'exists anyway: lost-reply',
      '403 jobs.batch "job-0" is forbidden: User "system:serviceaccount:default:k8s-jobs" cannot delete resource "jobs" in API group "batch" in the namespace "default"',
    ]);
    expect(stdout).toContain("errorsByStatus: { '429': 2, '500': 0, '503': 0 }");
  });
});

test('every file in examples/ is run by a test (one that spawns it by path)', async () => {
  const examples = (await readdir(join(repoRoot, 'examples'))).filter((f) => f.endsWith('.ts'));
  const testFiles = (await readdir(join(repoRoot, 'test'), { recursive: true })).filter((f) => f.endsWith('.test.ts'));
  const sources = await Promise.all(testFiles.map((f) => readFile(join(repoRoot, 'test', f), 'utf8')));
  // The path handed to node/tsx: `join(repoRoot, 'examples/x.ts')` or `runExample('examples/x.ts')`.
  const spawned = (name: string) => sources.some((source) => source.includes(`'examples/${name}')`));
  expect(examples.filter((name) => !spawned(name))).toEqual([]);
  expect(examples.length).toBeGreaterThanOrEqual(5);
});

