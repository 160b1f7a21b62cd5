import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { messageOf } from '../errors.js';
import { createRunner } from '../runner/create-runner.js';
import type { TaskRecord } from '../types.js';
import { exitCodeOf, exitInterrupted } from './exit-codes.js';
import { reasonOf } from './format.js';
import { followTaskLog } from './task-log-follower.js';

/** Options of `k8s-jobs run`. */
export interface RunOptions {
  image: string;
  timeout?: number;
  namespace?: string;
  id?: string;
  kubeconfig?: string;
  store: string;
}

function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}

/** The line on stderr for a task that did not succeed. */
function outcomeLine(record: TaskRecord): string {
  const why = [reasonOf(record), record.failure?.message].filter((s) => s).join(': ');
  return `k8s-jobs: task ${record.id} ${record.outcome ?? record.state}${why ? ` — ${why}` : ''}`;
}

/**
 * Runs one task (`command` on `image`) on the cluster of the kubeconfig, prints its log as it
 * comes, and resolves with the exit code (see `exitCodeOf`). Ctrl-C (SIGINT) or SIGTERM cancels
 * the task, waits for its Job to be deleted, and resolves with 130.
 */
export async function runTask(command: string[], options: RunOptions): Promise<number> {
  const id = options.id ?? `run-${randomBytes(4).toString('hex')}`;
  const runner = await createRunner({
    kubeConfig: loadKubeConfig(options.kubeconfig),
    store: options.store,
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    maxConcurrentJobs: 1,
  });
  let interrupted = false;
  let added = false;
  const cancel = (): void => {
    runner.cancel(id).catch((err: unknown) => process.stderr.write(`k8s-jobs: cancelling failed: ${String(err)}\n`));
  };
  const interrupt = (): void => {
    if (interrupted) process.exit(exitInterrupted);
    interrupted = true;
    process.stderr.write(`k8s-jobs: cancelling task ${id} (Ctrl-C again to exit at once)…\n`);
    // Before the task is stored there is nothing to cancel yet: it is cancelled once it is.
    if (added) cancel();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    const record = await runner.addTask({
      id,
      image: options.image,
      command,
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    });
    added = true;
    process.stderr.write(`k8s-jobs: task ${id} (Job ${record.jobName} in namespace ${runner.namespace})\n`);
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
    await runner.shutdown();
  }
}
