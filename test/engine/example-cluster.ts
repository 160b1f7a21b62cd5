import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testEntry } from '../helpers/test-entries.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';

/** A simulated cluster for examples run as child processes, the way a user runs them. */
export interface ExampleCluster {
  cluster: SimulatedCluster;
  /** A temp directory, the examples' working directory, holding the cluster's `kubeconfig`. */
  dir: string;
  /** This process's environment with `KUBECONFIG` pointing at the cluster. */
  env: NodeJS.ProcessEnv;
  /** Closes the cluster and removes the directory. */
  close(): Promise<void>;
}

/** Starts the process-runtime sim (cluster durations 100× faster) and writes its kubeconfig. */
export async function startExampleCluster(): Promise<ExampleCluster> {
  const cluster = await startSimulatedCluster({ timeScale: 0.01 });
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-example-'));
  await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
  return {
    cluster,
    dir,
    env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') },
    async close() {
      await cluster.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Node's arguments to run the example at `path` (from the repository root), bundled (test-entries.ts). */
export function exampleArgs(path: string): string[] {
  return [testEntry(path)];
}
