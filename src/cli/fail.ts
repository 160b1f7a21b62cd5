/**
 * How a CLI action reports an error: one readable line on stderr (the error's message, and its
 * cause's), exit code 1. Nothing is swallowed: an error without a message is printed whole.
 */
import { exitFailure } from './exit-codes.js';

/** A failure the user caused (unknown id, bad value): its message is the whole story. */
export class CliUsageError extends Error {
  /** Stable code, like the library's errors. */
  readonly code = 'CLI_USAGE' as const;
  override readonly name = 'CliUsageError';
}

/** The line printed for `err`: `k8s-jobs: <message> (cause: <cause's message>)`. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return `k8s-jobs: ${String(err)}`;
  const cause =
    err.cause instanceof Error && !err.message.includes(err.cause.message) ? ` (cause: ${err.cause.message})` : '';
  return `k8s-jobs: ${err.message}${cause}`;
}

/** Wraps a commander action: an error it throws is printed on stderr and the exit code set to 1. */
export function reportErrors<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      process.stderr.write(`${describeError(err)}\n`);
      process.exitCode = exitFailure;
    }
  };
}
