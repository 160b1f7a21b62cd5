/**
 * One log method, pino's shape: structured fields first, then the message. The runner only ever
 * passes task ids, names, reasons and counts in `fields` — never a spec, an env value or a log.
 */
export type LogMethod = (fields: Record<string, unknown>, message?: string) => void;

/**
 * The structured logger `createRunner({ logger })` accepts: pino's interface (a pino logger fits
 * as is), or anything with these four methods. `child`, when present, is called once with
 * `{ component: 'k8s-jobs' }` so the runner's records can be told apart.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const runner = await createRunner({ logger: pino({ level: 'info' }) });
 * ```
 */
export interface Logger {
  /** Every transition, watch restarts, first retries, throttling. */
  debug: LogMethod;
  /** Start and stop, task outcomes (id, outcome, reason, exit code), relists after 410. */
  info: LogMethod;
  /** Orphan Jobs, failed or stalled watches, requests still failing after several retries. */
  warn: LogMethod;
  /** Fatal errors that stop the runner (e.g. a failed store write), a task observer that threw. */
  error: LogMethod;
  /** Makes a logger that adds `bindings` to every record. */
  child?: (bindings: Record<string, unknown>) => Logger;
}

const discard: LogMethod = () => undefined;

/** The default: logs nothing. */
export const silentLogger: Logger = { debug: discard, info: discard, warn: discard, error: discard };

/** The logger the runner writes to: the app's (as its child when it can make one), else silent. */
export function runnerLogger(logger: Logger | undefined): Logger {
  if (!logger) return silentLogger;
  return logger.child?.({ component: 'k8s-jobs' }) ?? logger;
}
