import type { RunnerClosedError } from '../errors.js';
import type { RunnerParts } from './runner-parts.js';
import type { TaskSupervisor } from './task-supervisor.js';

/**
 * Stops what a runner started, in order: its streams complete, the supervisor stops, pending
 * writes settle, the watch and the store close; then `waitFor` callers are rejected with `reason`
 * and the runner's Subjects complete. Every step runs even when one fails; the first failure is
 * rethrown at the end.
 */
export async function stopRunner(
  parts: RunnerParts,
  supervisor: TaskSupervisor | undefined,
  reason: RunnerClosedError,
): Promise<void> {
  const errors: unknown[] = [];
  // First: streams complete now, rather than fail on the store and the watch closing under them.
  parts.streams.close();
  const step = async (fn: () => unknown) => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };
  await step(() => supervisor?.stop());
  await step(() => parts.journal.flush());
  await step(() => parts.observer.stop());
  await step(() => parts.store.close());
  parts.registry.rejectWaiters(reason);
  parts.telemetry.flush();
  parts.transitions.complete();
  parts.events.complete();
  parts.log.info({ errors: errors.length }, 'runner stopped');
  if (errors.length > 0) throw errors[0];
}
