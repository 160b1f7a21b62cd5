import { execFile } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { exampleArgs, startExampleCluster, type ExampleCluster } from './example-cluster.js';

let sim: ExampleCluster;

beforeAll(async () => {
  sim = await startExampleCluster();
});
afterAll(async () => {
  await sim.close();
});

/** Runs an example in a child process, its kubeconfig the sim's, its working directory the temp dir. */
function runExample(path: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      exampleArgs(path),
      { cwd: sim.dir, env: sim.env, timeout: 60_000 },
      (err, out, errOut) =>
        err && typeof err.code !== 'number'
          ? reject(err)
          : resolve({ stdout: out, stderr: errOut, code: typeof err?.code === 'number' ? err.code : 0 }),
    );
  });
}

test('examples/basic.ts (the Go usage example) runs a task to success on the default kubeconfig and cleans up', async () => {
  const { stdout, stderr, code } = await runExample('examples/basic.ts');
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toContain('task unique-job-id: succeeded');
  expect(stdout).toContain('Hello World');
  // Exactly one Job was created for the task, and it is gone after cleanup.
  expect(sim.cluster.jobCreations().map((j) => j.name)).toEqual(['unique-job-id']);
  expect(sim.cluster.objects('jobs')).toEqual([]);
});

test('examples/streams.ts follows its task through transitions$, logs$ and task$', async () => {
  const { stdout, stderr, code } = await runExample('examples/streams.ts');
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const lines = stdout.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('transition: '))).toEqual([
    'transition: count ∅ → queued',
    'transition: count queued → creating',
    'transition: count creating → running',
    'transition: count running → succeeded',
    'transition: count succeeded → deleting',
    'transition: count deleting → deleted',
  ]);
  expect(lines.filter((l) => l.startsWith('log: '))).toEqual(['log: line 1', 'log: line 2', 'log: line 3']);
  expect(lines.at(-1)).toBe('final: deleted, succeeded');
});
