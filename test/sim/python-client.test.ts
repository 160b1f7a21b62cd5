import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { findKubernetesPython } from '../helpers/python.js';

/*
 * The official Kubernetes Python client (Debian package `python3-kubernetes`) against the
 * simulated cluster: it spells booleans `True` (`watch=True`, `follow=True`), a client that
 * neither kubectl nor client-node exercises. `PYTHON` picks the interpreter; otherwise the first
 * of `python3` and `/usr/bin/python3` that can import `kubernetes` (a pyenv `python3` on PATH
 * does not see Debian's packages). CI installs the package, so there the test always runs.
 */
const script = fileURLToPath(new URL('fixtures/python_client.py', import.meta.url));

const python = findKubernetesPython();
if (!python) {
  console.warn(
    'python-client.test.ts skipped: no python3 that imports `kubernetes` (apt-get install -y python3-kubernetes)',
  );
}

interface ErrorAnswer {
  status: number;
  reason: string;
  message: string;
}

interface DeleteAnswer {
  kind: string;
  finalizers?: string[];
  deleting?: boolean;
  status?: string;
  podsLeft: number;
  podsRunning: number;
  podsOwned: number;
  getAfter: ErrorAnswer;
}

interface PythonResults {
  created: { name: string; uid: string };
  createAgain: ErrorAnswer;
  watch: { complete: boolean; firstEvent: string; events: number };
  logs: { whole: string; tailLines: string; limitBytes: string };
  follow: { text: string };
  invalid: ErrorAnswer;
  delete: Record<'Foreground' | 'Background' | 'Orphan', DeleteAnswer>;
}

let cluster: SimulatedCluster;
let workDir: string;
let results: PythonResults;

beforeAll(async () => {
  if (!python) return;
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  workDir = await mkdtemp(join(tmpdir(), 'k8s-jobs-python-'));
  const kubeconfig = join(workDir, 'kubeconfig');
  await cluster.writeKubeconfig(kubeconfig);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(python, [script, kubeconfig, 'default'], { timeout: 120_000 }, (err, out, stderr) => {
      if (err) reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
      else resolve(out);
    });
  });
  results = JSON.parse(stdout) as PythonResults;
}, 150_000);

afterAll(async () => {
  if (!python) return;
  await cluster.close();
  await rm(workDir, { recursive: true, force: true });
});

test.skipIf(!python)('create_namespaced_job, then the same name again: 409 AlreadyExists', () => {
  expect(results.created.name).toBe('py-logs');
  expect(
    cluster
      .jobCreations()
      .filter((c) => c.name === 'py-logs')
      .map((c) => c.uid),
  ).toEqual([results.created.uid]);
  expect(results.createAgain).toEqual({
    status: 409,
    reason: 'AlreadyExists',
    message: 'jobs.batch "py-logs" already exists',
  });
});

test.skipIf(!python)('watch.Watch().stream (watch=True) follows the Job to Complete', () => {
  expect(results.watch).toMatchObject({ complete: true, firstEvent: 'ADDED' });
  expect(results.watch.events).toBeGreaterThan(1);
  // The sim took watch=True for a watch, not a list.
  expect(cluster.stats().requests['watch jobs']).toBeGreaterThanOrEqual(1);
});

test.skipIf(!python)('read_namespaced_pod_log: whole, tail_lines, limit_bytes', () => {
  expect(results.logs).toEqual({
    whole: 'line 1\nline 2\nline 3\nline 4\nline 5\n',
    tailLines: 'line 4\nline 5\n',
    limitBytes: 'line 1\nli',
  });
});

test.skipIf(!python)(
  'read_namespaced_pod_log(follow=True) streams the lines printed later and ends with the container',
  () => {
    expect(results.follow.text).toBe('start\ntick 1\ntick 2\ntick 3\n');
  },
);

test.skipIf(!python)('an invalid Job (no containers): 422 Invalid', () => {
  expect(results.invalid).toEqual({
    status: 422,
    reason: 'Invalid',
    message: 'Job.batch "py-invalid" is invalid: spec.template.spec.containers: Required value',
  });
});

test.skipIf(!python)('delete_namespaced_job with each propagation policy, then a GET: 404', () => {
  const gone = (name: string) => ({ status: 404, reason: 'NotFound', message: `jobs.batch "${name}" not found` });
  // Foreground: the Job comes back holding `foregroundDeletion`; it goes only after its pods.
  expect(results.delete.Foreground).toEqual({
    kind: 'Job',
    finalizers: ['foregroundDeletion'],
    deleting: true,
    podsLeft: 0,
    podsRunning: 0,
    podsOwned: 0,
    getAfter: gone('py-foreground'),
  });
  // Background: a Status at once; the garbage collector then deletes the pods.
  expect(results.delete.Background).toEqual({
    kind: 'Status',
    status: 'Success',
    podsLeft: 0,
    podsRunning: 0,
    podsOwned: 0,
    getAfter: gone('py-background'),
  });
  // Orphan: the Job holds `orphan` until the collector has released its pod, which keeps running.
  expect(results.delete.Orphan).toEqual({
    kind: 'Job',
    finalizers: ['orphan'],
    deleting: true,
    podsLeft: 1,
    podsRunning: 1,
    podsOwned: 0,
    getAfter: gone('py-orphan'),
  });
});
