import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { findKubernetesPython } from '../helpers/python.js';

/*
 * Leases through the official Kubernetes Python client (Debian `python3-kubernetes`), a client
 * that serializes MicroTimes with Python's `isoformat()` (`+00:00`, not `Z`). Skipped, as
 * python-client.test.ts is, when no python3 imports `kubernetes`.
 */
const script = fileURLToPath(new URL('fixtures/python_leases.py', import.meta.url));

const python = findKubernetesPython();
let cluster: SimulatedCluster | undefined;
let workDir: string | undefined;

afterAll(async () => {
  await cluster?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test.skipIf(!python)(
  'create, read, replace, a stale replace (409 Conflict), watch and list of a Lease',
  async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01 });
    workDir = await mkdtemp(join(tmpdir(), 'k8s-jobs-python-leases-'));
    const kubeconfig = join(workDir, 'kubeconfig');
    await cluster.writeKubeconfig(kubeconfig);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(python!, [script, kubeconfig, 'default'], { timeout: 60_000 }, (err, out, stderr) => {
        if (err) reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
        else resolve(out);
      });
    });
    const results = JSON.parse(stdout);
    // isoformat() sends `+00:00`; the server stores and answers UTC with `Z`, microseconds kept.
    expect(results.sent).toMatch(/\.123456\+00:00$/);
    expect(results.stored).toBe(results.sent.replace('+00:00', 'Z'));
    expect(results.updated).toEqual({ holder: 'py-b', transitions: 1 });
    expect(results.stale).toEqual({
      status: 409,
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on leases.coordination.k8s.io "py-lease": the object has been modified; please apply your changes to the latest version and try again',
    });
    // A watch from now (no resourceVersion) starts with the current object as ADDED.
    expect(results.watch).toEqual([['ADDED', 'py-b']]);
    expect(results.listed).toEqual(['py-lease']);
  },
  90_000,
);
