import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StatusReport } from '../../src/cli/lease-status.js';
import { CoreV1Api } from '@kubernetes/client-node';
import { createLeaseLock, type LeaseLockRecord } from '../../src/kube/lease-lock.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { record, transition } from '../store/task-store-contract.js';
import { startCli } from './cli-process.js';

/*
 * `k8s-jobs status` as a real child process, reading Leases the test writes through the lease
 * lock (client-node's CoordinationV1Api) on a simulated cluster, over the kubeconfig it writes.
 */

let dir: string;
let cluster: SimulatedCluster;
let kubeconfig: string;
let storeUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-status-'));
  cluster = await startSimulatedCluster({ timeScale: 0.05, kubelet: { runtime: 'scripted' } });
  kubeconfig = join(dir, 'kubeconfig');
  await cluster.writeKubeconfig(kubeconfig);
  await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'ha' } } });
  // A store with two queued tasks, one running and one finished (not open: not counted).
  storeUrl = `sqlite://${join(dir, 'status.sqlite')}`;
  const store = await openTaskStore(storeUrl);
  try {
    const open = [
      ['q1', 'queued'],
      ['q2', 'queued'],
      ['r1', 'running'],
    ] as const;
    for (const [seq, [id, state]] of open.entries())
      await store.saveTask(record(id, state), transition(id, null, state), { queue: { priority: 0, seq } });
    await store.saveTask(record('done', 'deleted', { outcome: 'succeeded' }), transition('done', null, 'deleted'));
  } finally {
    await store.close();
  }
});
afterAll(async () => {
  await cluster.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `k8s-jobs status --kubeconfig <the sim's> …args` to its end. */
async function status(...args: string[]): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const child = startCli(['status', '--kubeconfig', kubeconfig, ...args]);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

const hoursAgo = (hours: number): string => new Date(Date.now() - hours * 3_600_000).toISOString();

/** Creates the Lease `name` with `record`, as an elector does the first time. */
async function writeLease(name: string, record: LeaseLockRecord, namespace = 'default'): Promise<void> {
  await createLeaseLock(cluster.kubeConfig, { namespace, name }).create(record, AbortSignal.timeout(10_000));
}

describe.concurrent('k8s-jobs status', () => {
  test('no Lease: says there is none, and exits 3 (no leader); --store adds the open tasks by state', async () => {
    const text = await status('--store', storeUrl);
    expect(text).toMatchObject({ code: 3, stderr: '' });
    expect(text.stdout).toMatch(/^No Lease default\/k8s-jobs: no runner with leaderElection has used it yet/);
    expect(text.stdout).toContain('\nOpen tasks: 3 (queued 2, running 1).\n');
  });

  test('--json: no Lease, and the open tasks (finished ones not counted)', async () => {
    const json = await status('--store', storeUrl, '--json');
    expect(json).toMatchObject({ code: 3, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({
      leader: null,
      lease: { namespace: 'default', name: 'k8s-jobs', found: false },
      queue: { open: 3, byState: { queued: 2, running: 1 } },
    });
  });

  test('a held Lease: its holder, age since renewTime, duration, transitions; exits 0', async () => {
    // Renewed two hours ago with a day-long lease: old enough to read a known age, far from expiry.
    const acquireTime = hoursAgo(3);
    const renewTime = hoursAgo(2);
    await writeLease(
      'held',
      { holderIdentity: 'replica-a', leaseDurationSeconds: 86_400, acquireTime, renewTime, leaseTransitions: 4 },
      'ha',
    );
    const [text, json] = await Promise.all([
      status('--lease-name', 'held', '--namespace', 'ha'),
      status('--lease-name', 'held', '--namespace', 'ha', '--json'),
    ]);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toMatch(/│ lease +│ ha\/held +│/);
    expect(text.stdout).toMatch(/│ holder +│ replica-a +│/);
    // The Lease keeps microseconds: the milliseconds written, then 000.
    expect(text.stdout).toMatch(new RegExp(`│ renewed +│ 1[23]\\dm\\d\\ds ago \\(${renewTime.slice(0, 23)}000Z\\) +│`));
    expect(text.stdout).toMatch(/│ acquired +│ 1[89]\dm\d\ds ago \(/);
    expect(text.stdout).toMatch(/│ lease duration +│ 86400s +│/);
    expect(text.stdout).toMatch(/│ transitions +│ 4 +│/);
    expect(text.stdout).toMatch(/│ expired +│ no +│/);
    expect(text.stdout).toContain('\nLeader: replica-a.\n');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report).toMatchObject({
      leader: 'replica-a',
      lease: {
        namespace: 'ha',
        name: 'held',
        found: true,
        holderIdentity: 'replica-a',
        renewTime: `${renewTime.slice(0, 23)}000Z`,
        acquireTime: `${acquireTime.slice(0, 23)}000Z`,
        leaseDurationSeconds: 86_400,
        leaseTransitions: 4,
        expired: false,
      },
    });
    expect(report.lease.ageSeconds).toBeGreaterThanOrEqual(7200);
    expect(report.lease.ageSeconds).toBeLessThan(86_400);
    expect(report.queue).toBeUndefined();
  });

  test('an expired Lease: the holder that stopped renewing, no leader; exits 3', async () => {
    await writeLease('expired', {
      holderIdentity: 'replica-b',
      leaseDurationSeconds: 15,
      acquireTime: hoursAgo(2),
      renewTime: hoursAgo(1),
      leaseTransitions: 0,
    });
    const text = await status('--lease-name', 'expired');
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/│ holder +│ replica-b +│/);
    expect(text.stdout).toMatch(/│ expired +│ yes +│/);
    expect(text.stdout).toContain('No leader: replica-b has not renewed the Lease within its 15s');
  });

  test('a released Lease (empty holder, as a leader leaves it on shutdown): no leader; exits 3', async () => {
    const at = hoursAgo(0);
    await writeLease('released', {
      holderIdentity: '',
      leaseDurationSeconds: 15,
      acquireTime: at,
      renewTime: at,
      leaseTransitions: 7,
    });
    const text = await status('--lease-name', 'released');
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/│ holder +│ none \(released\) +│/);
    expect(text.stdout).toMatch(/│ transitions +│ 7 +│/);
    expect(text.stdout).toContain('No leader: the Lease was released');
  });

  test('an API server that does not answer: exits 1, naming the Lease', async () => {
    // A port nobody listens on: the one a server just released.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    const deadConfig = join(dir, 'dead.kubeconfig');
    const text = await readFile(kubeconfig, 'utf8');
    await writeFile(deadConfig, text.replace(/http:\/\/127\.0\.0\.1:\d+/g, `http://127.0.0.1:${port}`));
    const child = startCli(['status', '--kubeconfig', deadConfig]);
    expect(await child.exited).toBe(1);
    expect(child.stdout()).toBe('');
    expect(child.stderr()).toMatch(/^k8s-jobs: get leases\/k8s-jobs failed: network error/);
  });
});
