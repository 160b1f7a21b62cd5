import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startCli, type CliProcess } from './cli-process.js';

let dir: string;
const started: CliProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-cli-'));
});
afterEach(async () => {
  // A failed assertion must not leave a server running.
  for (const cli of started.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

function sim(...args: string[]): CliProcess {
  const cli = startCli(['sim', ...args]);
  started.push(cli);
  return cli;
}

function run(
  file: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

test('k8s-jobs sim serves a cluster client-node and kubectl use as printed, and exits 0 on SIGTERM', async () => {
  const kubeconfig = join(dir, 'sim.kubeconfig');
  const cli = sim('--port', '0', '--kubeconfig-out', kubeconfig, '--runtime', 'scripted', '--time-scale', '0.01');
  const [, url] = await cli.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
  const [, kubectlLine] = await cli.waitForOutput(/Try: (kubectl --kubeconfig \S+ get jobs)\n/);
  expect(kubectlLine).toBe(`kubectl --kubeconfig ${kubeconfig} get jobs`);

  const written = parseYaml(await readFile(kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  expect(written.clusters[0]?.cluster.server).toBe(url);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const batch = kc.makeApiClient(BatchV1Api);
  await batch.createNamespacedJob({
    namespace: 'default',
    // `false` would fail as a process: Complete proves the scripted runtime (instant success) runs it.
    body: {
      metadata: { name: 'from-client-node' },
      spec: {
        backoffLimit: 0,
        template: {
          spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', command: ['false'] }] },
        },
      },
    },
  });

  const [file, ...args] = (kubectlLine ?? '').split(' ');
  const listed = await run(file ?? 'kubectl', [...args, '-o', 'name'], { KUBECACHEDIR: join(dir, 'kubectl-cache') });
  expect(listed).toMatchObject({ code: 0, stdout: 'job.batch/from-client-node\n' });
  const waited = await run(
    file ?? 'kubectl',
    [...args.slice(0, 2), 'wait', '--for=condition=complete', 'job/from-client-node', '--timeout=30s'],
    { KUBECACHEDIR: join(dir, 'kubectl-cache') },
  );
  expect(waited).toMatchObject({ code: 0, stdout: 'job.batch/from-client-node condition met\n' });

  cli.child.kill('SIGTERM');
  expect(await cli.exited).toBe(0);
  expect(cli.stdout()).toMatch(/SIGTERM: stopping the simulated cluster…\nStopped\.\n$/);
  expect(cli.stderr()).toBe('');
  // The port is released.
  await expect(fetch(`${url}/version`)).rejects.toThrow();
});

test('SIGINT (Ctrl+C) stops it cleanly too, with a watch open', async () => {
  const kubeconfig = join(dir, 'sigint.kubeconfig');
  const cli = sim('--kubeconfig-out', kubeconfig);
  const [, url] = await cli.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
  await cli.waitForOutput(/Press Ctrl\+C to stop\.\n/);
  const watch = await fetch(`${url}/apis/batch/v1/namespaces/default/jobs?watch=true`);
  expect(watch.status).toBe(200);
  const reading = watch.text().then(
    () => 'ended',
    () => 'cut',
  );
  cli.child.kill('SIGINT');
  expect(await cli.exited).toBe(0);
  expect(await reading).toMatch(/ended|cut/);
});

test('bad options are refused before anything starts', async () => {
  const cli = sim('--runtime', 'docker');
  expect(await cli.exited).toBe(1);
  expect(cli.stderr()).toContain(
    `error: option '--runtime <runtime>' argument 'docker' is invalid. Allowed choices are process, scripted.`,
  );
  expect(cli.stdout()).toBe('');
});
