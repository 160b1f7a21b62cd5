import { messageOf } from '../errors.js';
import type { Runner, ShutdownMode } from './runner-api.js';
import { checkTimeoutMs } from './timeout-option.js';

/** Options of `shutdownOnSignals`. */
export interface ShutdownOnSignalsOptions {
  /** The shutdown's mode on the first signal. @default 'drain' */
  mode?: ShutdownMode;
  /**
   * Bound of the drain or cancel (see `ShutdownOptions.timeoutMs`): past it the runner detaches.
   * Keep it a few seconds under the pod's `terminationGracePeriodSeconds` (30 s by default), which
   * is when Kubernetes sends SIGKILL: persisting and closing after the wait take a moment too.
   * @default 25000
   */
  timeoutMs?: number;
  /** @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /**
   * Called once the shutdown settled, with its error if it failed (the listeners are already
   * removed then). The default exits the process: code 0, or 1 after a failed shutdown (the error
   * is written to stderr).
   */
  onShutdown?: (error: unknown) => void;
}

/** What the default `onShutdown` does: the process ends, as it would have on the signal. */
function exitProcess(error: unknown): void {
  if (error !== undefined) process.stderr.write(`k8s-jobs: shutdown failed: ${messageOf(error)}\n`);
  process.exit(error === undefined ? 0 : 1);
}

/**
 * Wires process signals to a bounded shutdown of `runner`: the first of `signals` starts
 * `runner.shutdown({ mode, timeoutMs })` (a drain of at most 25 s by default, then a detach that
 * leaves the Jobs still running to the next start); a second signal during it detaches at once;
 * when the shutdown settled, `onShutdown` runs (by default the process exits). Returns a function
 * that removes the listeners (the process then handles the signals as before). A bad `timeoutMs`
 * throws a `ValidationError` at once, not on the signal.
 *
 * @example
 * ```ts
 * const runner = await createRunner({ store: 'sqlite:///data/k8s-jobs.sqlite' });
 * // With the Deployment's terminationGracePeriodSeconds: 60, drain for at most 50 s.
 * const uninstall = shutdownOnSignals(runner, { mode: 'drain', timeoutMs: 50_000 });
 * ```
 */
export function shutdownOnSignals(runner: Runner, options: ShutdownOnSignalsOptions = {}): () => void {
  const { mode = 'drain', signals = ['SIGTERM', 'SIGINT'], onShutdown = exitProcess } = options;
  const timeoutMs = checkTimeoutMs(options.timeoutMs ?? 25_000, 'shutdownOnSignals options');
  let shuttingDown = false;
  const uninstall = (): void => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  function onSignal(): void {
    if (shuttingDown) {
      // The shutdown under way stops waiting and detaches; its promise settles as below.
      runner.shutdown({ mode: 'detach' }).catch(() => undefined);
      return;
    }
    shuttingDown = true;
    void runner.shutdown({ mode, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }).then(
      () => {
        uninstall();
        onShutdown(undefined);
      },
      (err: unknown) => {
        uninstall();
        onShutdown(err);
      },
    );
  }
  for (const signal of signals) process.on(signal, onSignal);
  return uninstall;
}
