import { KubeConfig } from '@kubernetes/client-node';
import { openTaskStore } from '../store/open-store.js';
import { newLockOwner } from '../store/store-lock.js';
import { resolveRunnerOptions, type RunnerOptions } from './options.js';
import { assertPreflight } from './preflight.js';
import { TaskRunner } from './runner.js';
import type { Runner } from './runner-api.js';

/**
 * Creates a runner: opens the store, connects to the cluster, starts the shared watch and the
 * supervisor. See `RunnerOptions` for the defaults.
 *
 * @example
 * ```ts
 * const runner = await createRunner({ namespace: 'default', maxConcurrentJobs: 5, queueSize: 100 });
 * await runner.addTask({ id: 'unique-job-id', image: 'busybox', command: ['echo', 'Hello World'], timeout: 30 });
 * const done = await runner.waitFor('unique-job-id');
 * await runner.shutdown();
 * ```
 */
export async function createRunner(options: RunnerOptions = {}): Promise<Runner> {
  const resolved = resolveRunnerOptions(options);
  const kubeConfig = resolved.kubeConfig ?? loadDefaultKubeConfig();
  // Replicas share the store and its lock: one owner name for all of them keeps a runner of its
  // own (another owner) off their store, while each replica's heartbeat renews it.
  const owner = resolved.leaderElection ? `leader-election:${resolved.leaderElection.leaseName}` : newLockOwner();
  const store = await openTaskStore(resolved.store, { lock: { owner } });
  let runner: TaskRunner;
  try {
    runner = new TaskRunner(resolved, kubeConfig, store);
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    // After the adapter exists (the cluster is reachable), before anything is started or sent.
    if (resolved.preflight) {
      const sample = resolved.preflight === true ? undefined : resolved.preflight.sampleTask;
      assertPreflight(await runner.preflight(sample));
    }
    await runner.start();
    return runner;
  } catch (err) {
    // The watch or the supervisor may be running already: stop them too (this closes the store).
    await runner.shutdown().catch((stopErr: unknown) => {
      const message = 'createRunner failed, and so did stopping what it had started';
      throw new AggregateError([err, stopErr], message, { cause: err });
    });
    throw err;
  }
}

function loadDefaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}
