import { randomBytes } from 'node:crypto';
import { messageOf } from '../errors.js';
import { createRunner } from '../runner/create-runner.js';
import { shutdownOnSignals } from '../runner/shutdown-on-signals.js';
import type { TaskRecord } from '../types.js';
import { exitCodeOf, exitInterrupted } from './exit-codes.js';
import { reasonOf } from './format.js';
import { loadKubeConfig } from './kube-config.js';
import { followTaskLog } from './task-log-follower.js';

/** Options of `k8s-jobs run`. */
export interface RunOptions {
  image: string;
  timeout?: number;
  namespace?: string;
  id?: string;
  kubeconfig?: string;
  store: string;
  /** Take part in leader election over this Lease (with a shared PostgreSQL `store`). */
  leaderElection?: string;
  /** This replica's identity in the Lease (default: `$POD_NAME`, else the runner's own). */
  identity?: string;
}

/** The line on stderr for a task that did not succeed. */
function outcomeLine(record: TaskRecord): string {
  const why = [reasonOf(record), record.failure?.message].filter((s) => s).join(': ');
  return `k8s-jobs: task ${record.id} ${record.outcome ?? record.state}${why ? ` — ${why}` : ''}`;
}

/** How long a Ctrl-C (or SIGTERM) waits for the cancelled task's Job to go before detaching. */
export const interruptTimeoutMs = 25_000;

/**
 * Runs one task (`command` on `image`) on the cluster of the kubeconfig, prints its log as it
 * comes, and resolves with the exit code (see `exitCodeOf`). Ctrl-C (SIGINT) or SIGTERM is the
 * library's bounded shutdown (`shutdownOnSignals`, mode `cancel`): the task is cancelled and its
 * Job deleted, waiting at most {@link interruptTimeoutMs}, and it resolves with 130. A second
 * signal exits at once with 130 (the Job may be left; the next run on the store picks it up).
 */
export async function runTask(command: string[], options: RunOptions): Promise<number> {
  const id = options.id ?? `run-${randomBytes(4).toString('hex')}`;
  const runner = await createRunner({
    kubeConfig: loadKubeConfig(options.kubeconfig),
    store: options.store,
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    ...(options.leaderElection !== undefined
      ? {
          leaderElection: {
            leaseName: options.leaderElection,
            ...(options.identity !== undefined ? { identity: options.identity } : {}),
          },
        }
      : {}),
    maxConcurrentJobs: 1,
  });
  let interrupted = false;
  const cancel = (): void => {
    runner.cancel(id).catch((err: unknown) => process.stderr.write(`k8s-jobs: cancelling failed: ${String(err)}\n`));
  };
  const interrupt = (): void => {
    if (interrupted) process.exit(exitInterrupted);
    interrupted = true;
    process.stderr.write(`k8s-jobs: cancelling task ${id} (Ctrl-C again to exit at once)…\n`);
  };
  // Ours first: it says what happens (and exits on a second signal); then the bounded shutdown,
  // which cancels the active task and waits for its Job to go. Its outcome is awaited below.
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const uninstall = shutdownOnSignals(runner, {
    mode: 'cancel',
    timeoutMs: interruptTimeoutMs,
    onShutdown: (err) => {
      if (err !== undefined) process.stderr.write(`k8s-jobs: shutdown failed: ${messageOf(err)}\n`);
    },
  });
  try {
    const record = await runner.addTask({
      id,
      image: options.image,
      command,
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    });
    process.stderr.write(`k8s-jobs: task ${id} (Job ${record.jobName} in namespace ${runner.namespace})\n`);
    // Interrupted while it was being stored: the shutdown found no active task to cancel.
    if (interrupted) cancel();
    const logs = followTaskLog(
      runner,
      id,
      (text) => process.stdout.write(text),
      (err) => process.stderr.write(`k8s-jobs: reading the log of task ${id} failed: ${messageOf(err)}\n`),
    );
    let finished: TaskRecord;
    try {
      finished = await runner.waitFor(id);
    } catch (err) {
      await logs.stop({ final: false });
      throw err;
    }
    await logs.stop();
    if (finished.outcome !== 'succeeded') process.stderr.write(`${outcomeLine(finished)}\n`);
    return interrupted && finished.outcome === 'cancelled' ? exitInterrupted : exitCodeOf(finished);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    uninstall();
    // After a signal, the shutdown under way (the same promise).
    await runner.shutdown();
  }
}
