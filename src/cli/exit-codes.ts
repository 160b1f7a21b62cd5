/**
 * The exit codes of `k8s-jobs run`, from the task's record: what a shell script branches on.
 */
import type { TaskRecord } from '../types.js';

/** `run`: the task timed out (as `timeout(1)` does). */
export const exitTimedOut = 124;
/** `run`: interrupted by Ctrl-C (128 + SIGINT); the task was cancelled. */
export const exitInterrupted = 130;
/** Any other failure: an outcome without an exit code of its own, or an error of the CLI. */
export const exitFailure = 1;

/**
 * The exit code for a finished task: 0 on success; the container's exit code when the task
 * failed with one; 124 for a timeout; 1 otherwise (cancelled, or failed without a container exit
 * code: image pull, unschedulable...).
 */
export function exitCodeOf(record: Pick<TaskRecord, 'outcome' | 'failure'>): number {
  switch (record.outcome) {
    case 'succeeded':
      return 0;
    case 'timedOut':
      return exitTimedOut;
    case 'failed': {
      const code = record.failure?.exitCode;
      return code !== undefined && code > 0 && code < 256 ? code : exitFailure;
    }
    default:
      return exitFailure;
  }
}
