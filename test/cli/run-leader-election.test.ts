import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';
import { startCli, type CliProcess } from './cli-process.js';

/*
 * `k8s-jobs run --leader-election` as a real child process on a simulated cluster and a
 * PostgreSQL store of its own schema: it takes the Lease, as its `$POD_NAME`, while its task runs
 * (`k8s-jobs status` sees it), and releases it on the way out.
 */

let dir: string;
let cluster: SimulatedCluster;
let kubeconfig: string;
const schema = randomSchema('k8s_jobs_cli_ha');
const store = postgresStoreUrl(schema);
const started: CliProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-run-ha-'));
  cluster = await startSimulatedCluster({ timeScale: 0.05, kubelet: { runtime: 'process' } });
  kubeconfig = join(dir, 'kubeconfig');
  await cluster.writeKubeconfig(kubeconfig);
});
afterAll(async () => {
  for (const cli of started.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
  await cluster.close();
  await rm(dir, { recursive: true, force: true });
  await dropSchemas([schema]);
});

function cli(args: string[], env: Record<string, string> = {}): CliProcess {
  // The child inherits this process's environment, read when it is spawned: set for that instant only.
  const saved = Object.keys(env).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, env);
  try {
    const child = startCli(args);
    started.push(child);
    return child;
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

test('--identity without --leader-election is a usage error (exit 1); $POD_NAME alone is not', async () => {
  const run = cli(['run', '--identity', 'replica-1', '--image', 'busybox:1.36', '--', 'true']);
  expect(await run.exited).toBe(1);
  expect(run.stderr()).toBe('k8s-jobs: --identity is only used with --leader-election <lease-name>\n');
  // $POD_NAME alone (every pod of deploy/ has it) is no mistake: the run goes on to the cluster.
  const fromEnv = cli(['run', '--kubeconfig', join(dir, 'none'), '--image', 'busybox:1.36', '--', 'true'], {
    POD_NAME: 'replica-1',
  });
  expect(await fromEnv.exited).toBe(1);
  expect(fromEnv.stderr()).not.toContain('--identity');
  expect(fromEnv.stderr()).toContain(join(dir, 'none'));
});

test('--leader-election: the run holds the Lease as $POD_NAME while its task runs, and releases it after', async () => {
  const gate = join(dir, 'go');
  const run = cli(
    [
      'run',
      '--kubeconfig',
      kubeconfig,
      '--store',
      store,
      '--leader-election',
      'cli-lease',
      '--id',
      'ha-task',
      '--image',
      'busybox:1.36',
      '--',
      'sh',
      '-c',
      `echo started; while [ ! -e ${gate} ]; do sleep 0.05; done`,
    ],
    { POD_NAME: 'cli-replica-1' },
  );
  await run.waitForOutput(/started\n/);
  const during = cli(['status', '--kubeconfig', kubeconfig, '--lease-name', 'cli-lease', '--store', store, '--json']);
  expect(await during.exited).toBe(0);
  expect(JSON.parse(during.stdout())).toMatchObject({
    leader: 'cli-replica-1',
    lease: { holderIdentity: 'cli-replica-1', expired: false },
    queue: { byState: { running: 1 } },
  });
  await writeFile(gate, '');
  expect(await run.exited).toBe(0);
  const after = cli(['status', '--kubeconfig', kubeconfig, '--lease-name', 'cli-lease', '--json']);
  expect(await after.exited).toBe(3);
  expect(JSON.parse(after.stdout())).toMatchObject({ leader: null, lease: { found: true, holderIdentity: '' } });
});
