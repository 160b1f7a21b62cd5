import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let cluster: SimulatedCluster;
let dir: string;

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-basic-'));
  await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
});
afterAll(async () => {
  await cluster.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs an example in a child process, its kubeconfig the sim's, its working directory the temp dir. */
function runExample(path: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', join(repoRoot, 'node_modules/tsx/dist/loader.mjs'), join(repoRoot, path)],
      { cwd: dir, env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') }, timeout: 60_000 },
      (err, out, errOut) => (err && typeof err.code !== 'number' ? reject(err) : resolve({ stdout: out, stderr: errOut, code: typeof err?.code === 'number' ? err.code : 0 })),
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
  expect(cluster.jobCreations().map((j) => j.name)).toEqual(['unique-job-id']);
  expect(cluster.objects('jobs')).toEqual([]);
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
