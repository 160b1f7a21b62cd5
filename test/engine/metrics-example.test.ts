import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { exampleArgs, startExampleCluster, type ExampleCluster } from './example-cluster.js';

let sim: ExampleCluster;
let child: ChildProcessWithoutNullStreams | undefined;

beforeAll(async () => {
  sim = await startExampleCluster();
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill();
  await sim.close();
});

/** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
function lineMatching(
  proc: ChildProcessWithoutNullStreams,
  output: { stdout: string; stderr: string },
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = output.stdout.match(pattern);
      if (!match) return;
      proc.stdout.off('data', check);
      proc.off('exit', exited);
      resolve(match);
    };
    const exited = (code: number | null): void =>
      reject(new Error(`the example exited (${code}) before printing ${pattern}:\n${output.stdout}\n${output.stderr}`));
    proc.stdout.on('data', check);
    proc.once('exit', exited);
    check();
  });
}

test('examples/metrics.ts serves the runner metrics on /metrics while it runs, and exits cleanly when stdin closes', async () => {
  const proc = spawn(process.execPath, exampleArgs('examples/metrics.ts'), {
    cwd: sim.dir,
    env: { ...sim.env, PORT: '0' },
  });
  child = proc;
  const output = { stdout: '', stderr: '' };
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  const [, url] = await lineMatching(proc, output, /^metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m);
  const early = await fetch(url ?? '');
  expect(early.status).toBe(200);
  expect(await early.text()).toContain('# TYPE k8s_jobs_task_transitions_total counter');
  expect((await fetch((url ?? '').replace(/\/metrics$/, '/other'))).status).toBe(404);

  await lineMatching(proc, output, /^tasks done/m);
  expect(output.stdout).toContain('task metrics-hello: succeeded\n');
  expect(output.stdout).toContain('task metrics-fails: failed\n');
  const scraped = await fetch(url ?? '');
  expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await scraped.text();
  expect(text).toContain('k8s_jobs_tasks{state="deleted"} 2\n');
  expect(text).toContain('k8s_jobs_task_transitions_total{from="running",to="succeeded"} 1\n');
  expect(text).toContain('k8s_jobs_task_transitions_total{from="running",to="failed"} 1\n');
  expect(text).toContain('k8s_jobs_kube_api_requests_total{verb="create",resource="jobs",code="2xx"} 2\n');
  expect(text).toMatch(/^k8s_jobs_task_run_duration_seconds_count\{outcome="failed"\} 1$/m);

  proc.stdin.end();
  expect(await exit).toBe(0);
  expect(output.stderr).toBe('');
  expect(sim.cluster.objects('jobs')).toEqual([]);
}, 60_000);
