import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from '../cli/cli-process.js';
import { testEntry } from '../helpers/test-entries.js';
import { allCodeBlocks, asShownInDocs, at, markerValue, matchesOutput } from './markdown.js';

/*
 * Every `<!-- example: examples/x.ts -->` block of README.md and docs/ is a file in examples/
 * (type-checked with the rest), shown with the import users write ('k8s-jobs', 'k8s-jobs/sim').
 * These tests keep the two the same, run the files, and compare what they print with the
 * `<!-- output: examples/x.ts -->` blocks. (The other blocks: doc-blocks.test.ts.)
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function spawnExample(path: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [testEntry(path)], { cwd: repoRoot, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(err.message, { cause: err }));
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

/** Each example runs once per test file, however many tests look at its output. */
const runs = new Map<string, Promise<Run>>();
function runExample(path: string): Promise<Run> {
  let run = runs.get(path);
  if (!run) {
    run = spawnExample(path);
    runs.set(path, run);
  }
  return run;
}

const blocks = await allCodeBlocks();
const exampleBlocks = blocks.flatMap((block) => {
  const path = markerValue(block, 'example');
  return path === undefined ? [] : [{ ...block, path }];
});
const outputBlocks = blocks.flatMap((block) => {
  const path = markerValue(block, 'output');
  return path?.startsWith('examples/') ? [{ ...block, path }] : [];
});

describe('the examples shown in README.md and docs/', () => {
  test('every example block is its file in examples/, shown as it is', async () => {
    // examples/basic.ts and streams.ts need a cluster: test/engine/basic-example.test.ts runs them against the sim.
    expect(exampleBlocks.map((b) => `${b.file}: ${b.path}`)).toEqual([
      'README.md: examples/basic.ts',
      'docs/observability.md: examples/streams.ts',
      'docs/observability.md: examples/tracing.ts',
      'docs/sim.md: examples/sim-with-runner.ts',
      'docs/sim.md: examples/sim-basic.ts',
      'docs/sim.md: examples/sim-faults.ts',
    ]);
    for (const block of exampleBlocks) {
      expect(block.language, at(block)).toBe('ts');
      expect(block.code, `${at(block)} shows ${block.path}`).toBe(
        asShownInDocs(await readFile(join(repoRoot, block.path), 'utf8')),
      );
    }
  });

  test('every output block is what its example prints', async () => {
    expect(outputBlocks.map((b) => `${b.file}: ${b.path}`)).toEqual([
      'docs/observability.md: examples/tracing.ts',
      'docs/sim.md: examples/sim-basic.ts',
    ]);
    for (const block of outputBlocks) {
      expect(block.language, at(block)).toBe('text');
      const { code, stdout, stderr } = await runExample(block.path);
      expect({ code, stderr }, `${block.path} ran cleanly`).toEqual({ code: 0, stderr: '' });
      expect(matchesOutput(block.code, stdout), `${at(block)} shows what ${block.path} prints:\n${stdout}`).toBe(true);
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
    expect(stdout).toMatch(
      /^conditions: SuccessCriteriaMet, Complete\nlogs: hello from the simulated cluster\nrequests served: \d+\n$/,
    );
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
