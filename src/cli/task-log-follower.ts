/**
 * Streams a task's log to the terminal while a runner runs it, from `runner.logs$`: live lines
 * from the pod (resumed without repeats when the connection drops), then what the stored final
 * snapshot adds.
 */
import type { Subscription } from 'rxjs';
import type { Runner } from '../runner/runner-api.js';

/** A running follower of one task's log. */
export interface TaskLogFollower {
  /**
   * With `final` (the task is `deleted`), waits until the stream has printed the stored tail and
   * ended; without, stops at once. Resolves when done.
   */
  stop(options?: { final?: boolean }): Promise<void>;
}

/**
 * Starts printing the log of task `id` with `write`, a line at a time. A stream that fails is
 * reported to `onError` (the task goes on; its log just stops streaming): it never fails the run.
 *
 * `write` is synchronous (stdout: a pipe, file or terminal is written synchronously on Linux), so
 * a slow reader of the output holds up the log connection itself, and nothing queues here; an
 * asynchronous `write` would need `bufferLogLines` in between.
 */
export function followTaskLog(
  runner: Pick<Runner, 'logs$'>,
  id: string,
  write: (text: string) => void,
  onError: (err: unknown) => void,
): TaskLogFollower {
  let subscription: Subscription | undefined;
  const ended = new Promise<void>((resolve) => {
    subscription = runner.logs$(id).subscribe({
      next: (line) => write(`${line}\n`),
      error: (err: unknown) => {
        onError(err);
        resolve();
      },
      complete: resolve,
    });
  });
  return {
    async stop({ final = true } = {}) {
      if (final) await ended;
      subscription?.unsubscribe();
    },
  };
}
