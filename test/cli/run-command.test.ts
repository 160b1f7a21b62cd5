import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { startCli, type CliProcess } from './cli-process.js';

/*
 * `k8s-jobs run` as a real child process against a simulated cluster this test starts (process
 * runtime: the `sh -c` commands really run), through the kubeconfig the cluster writes.
 */

let dir: string;
let cluster: SimulatedCluster;
let kubeconfig: string;
const started: CliProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-run-'));
  cluster = await startSimulatedCluster({ timeScale: 0.05, kubelet: { runtime: 'process' } });
  kubeconfig = join(dir, 'kubeconfig');
  await cluster.writeKubeconfig(kubeconfig);
});
// The tests run concurrently: what a failed one left running is killed once all are done.
afterAll(async () => {
  for (const cli of started.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
  await cluster.close();
  await rm(dir, { recursive: true, force: true });
});

/** `k8s-jobs run` with its own store file, on the test's cluster. */
function run(id: string, args: string[]): CliProcess {
  const cli = startCli([
    'run',
    '--kubeconfig',
    kubeconfig,
    '--store',
    `sqlite://${join(dir, `${id}.sqlite`)}`,
    '--id',
    id,
    '--image',
    'busybox:1.36',
    ...args,
  ]);
  started.push(cli);
  return cli;
}

describe.concurrent('k8s-jobs run', () => {
  test('streams the log while the task runs, and exits 0 when it succeeds', async () => {
    const gate = join(dir, 'go');
    // The task waits for the test: its first line must be printed while it still runs.
    const cli = run('streams', [
      '--',
      'sh',
      '-c',
      `echo "first line"; while [ ! -e ${gate} ]; do sleep 0.05; done; echo "second line"`,
    ]);
    await cli.waitForOutput(/first line\n/);
    expect(cli.child.exitCode).toBeNull();
    expect(cli.stdout()).not.toContain('second line');
    await writeFile(gate, '');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toBe('first line\nsecond line\n');
    expect(cli.stderr()).toMatch(/^k8s-jobs: task streams \(Job streams in namespace default\)\n$/);
    const store = await openTaskStore(`sqlite://${join(dir, 'streams.sqlite')}`, { readOnly: true });
    try {
      expect(await store.getTask('streams')).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
    } finally {
      await store.close();
    }
  });

  test("exits with the container's exit code, the reason on stderr", async () => {
    const cli = run('exit-three', ['--', 'sh', '-c', 'echo "about to fail" >&2; exit 3']);
    expect(await cli.exited).toBe(3);
    expect(cli.stdout()).toBe('about to fail\n');
    expect(cli.stderr()).toMatch(
      /k8s-jobs: task exit-three failed — exit code 3 \(BackoffLimitExceeded\): .*exited with code 3/,
    );
  });

  test('exits 124 when the task times out, like timeout(1)', async () => {
    const cli = run('too-slow', ['--timeout', '1', '--', 'sh', '-c', 'echo "started"; sleep 30']);
    expect(await cli.exited).toBe(124);
    // Kubernetes deletes the pod at the deadline: a log not read by then is gone (on a loaded machine, it may be).
    expect(['started\n', '']).toContain(cli.stdout());
    expect(cli.stderr()).toMatch(/k8s-jobs: task too-slow timedOut — DeadlineExceeded/);
  });

  test('exits 1 with the reason when the task fails without an exit code (image pull)', async () => {
    const cli = run('no-image', ['--image', 'registry.example.com/does-not-exist:1.0', '--', 'true']);
    expect(await cli.exited).toBe(1);
    // ErrImagePull, or ImagePullBackOff when a loaded machine lets the kubelet reach its back-off first.
    expect(cli.stderr()).toMatch(/k8s-jobs: task no-image failed — (ErrImagePull|ImagePullBackOff): .*not found/);
  });

  test('Ctrl-C cancels the task, waits for its Job to be deleted, and exits 130', async () => {
    const cli = run('interrupted', ['--', 'sh', '-c', 'echo "working"; sleep 30']);
    await cli.waitForOutput(/working\n/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(130);
    expect(cli.stderr()).toContain('k8s-jobs: cancelling task interrupted');
    expect(cluster.objects('jobs').map((j) => j.metadata.name)).not.toContain('interrupted');
  });

  test('a kubeconfig that does not exist: exit 1 with the reason, no store created', async () => {
    const store = join(dir, 'unused.sqlite');
    const cli = startCli([
      'run',
      '--kubeconfig',
      join(dir, 'missing-kubeconfig'),
      '--store',
      `sqlite://${store}`,
      '--image',
      'busybox',
      '--',
      'true',
    ]);
    started.push(cli);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/^k8s-jobs: .*missing-kubeconfig/);
    expect(existsSync(store)).toBe(false);
  });

  test('--help documents the exit codes', async () => {
    const cli = startCli(['run', '--help']);
    started.push(cli);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toMatch(/124 +the task timed out/);
    expect(cli.stdout()).toMatch(/130 +interrupted with Ctrl-C/);
  });
});
