import type { KubeConfig } from '@kubernetes/client-node';
import { createPreflightApi } from '../kube/preflight-api.js';
import type { TaskInput } from '../validation/task-spec.js';
import { jobTtlBackstop, type ResolvedRunnerOptions } from './options.js';
import { runPreflight, type PreflightReport } from './preflight.js';

/**
 * `runner.preflight()`: the preflight of a runner with these options, over a client of its own
 * on the runner's KubeConfig (the same namespace, retries and Job backstop the runner's Jobs get;
 * the Lease's verbs only with `leaderElection`).
 */
export function preflightRunner(
  options: ResolvedRunnerOptions,
  kubeConfig: KubeConfig,
  sampleTask?: TaskInput,
  signal?: AbortSignal,
): Promise<PreflightReport> {
  const { retry, leaderElection } = options;
  const api = createPreflightApi({
    kubeConfig,
    namespace: options.namespace,
    retry: { maxAttempts: retry.maxAttempts, baseMs: retry.baseDelayMs, maxMs: retry.maxDelayMs },
  });
  const lease = leaderElection
    ? { name: leaderElection.leaseName, namespace: leaderElection.namespace ?? api.namespace }
    : undefined;
  return runPreflight(
    { api, lease, defaultTtlSecondsAfterFinished: jobTtlBackstop(options.cleanup) },
    sampleTask,
    signal,
  );
}
