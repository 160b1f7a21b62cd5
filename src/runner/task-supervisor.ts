import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { createTaskEffects } from '../effects/task-effects.js';
import { toTaskRecord } from '../machines/task/record.js';
import { taskMachine } from '../machines/task/task-machine.js';
import { supervisorMachine } from '../machines/supervisor/supervisor-machine.js';
import { createInspectionRedactor } from './inspection-redaction.js';
import type { RunnerParts } from './runner-parts.js';
import { createTaskObserver } from './task-observer.js';
import { WakeTimer } from './wake-timer.js';

/** The runner's root actor: the supervisor, its task machines provided with the effects. */
export type TaskSupervisor = Actor<typeof supervisorMachine>;

/**
 * Creates the supervisor (not started) with every task machine's effects over the runner's
 * adapter, and the inspector that turns each task's snapshots into records: kept in the registry,
 * written to the journal (write-ahead: before the new state's effects run), published as
 * transitions. `onFatal` is told if the supervisor fails.
 */
export function createTaskSupervisor(parts: RunnerParts, onFatal: (err: unknown) => void): TaskSupervisor {
  const { options, registry, journal, transitions, log } = parts;
  const effects = createTaskEffects({
    jobs: parts.jobs,
    observer: parts.observer,
    store: parts.store,
    now: Date.now,
    logSnapshotIntervalMs: options.logs.snapshotIntervalMs,
    harvestRetryLimitMs: options.logs.harvestRetryLimitMs,
    harvestBackoff: { baseDelayMs: options.retry.baseDelayMs, maxDelayMs: options.retry.maxDelayMs },
    beforeEffect: (taskId) => journal.whenDurable(taskId),
  });
  const observe = createTaskObserver({
    toRecord: toTaskRecord,
    current: (id) => registry.get(id),
    now: Date.now,
    onChange: ({ record, context, transition }) => {
      registry.update(record);
      // A failed write is reported once through the journal's onFatal, which stops the runner.
      const write = journal.write(record, transition, { context });
      // Once the `deleted` record is durable the store answers for the task: it leaves the open records.
      const evict = record.state === 'deleted' ? () => registry.evict(record.id) : undefined;
      void write.then(evict, () => undefined);
      if (transition) transitions.next(transition);
    },
  });
  const userInspect = options.inspect;
  // Redaction costs a copy per event: only paid when the user attached an inspector. Our own
  // observer keeps the real events (it persists the records from them).
  const redact = userInspect ? createInspectionRedactor() : undefined;
  const inspect = (event: InspectionEvent): void => {
    observe(event);
    if (!redact) return;
    // XState calls inspectors inside event processing: a throw there would drop the event
    // being processed (a task would miss its transition). An inspector is a debugging aid.
    try {
      const shown = redact(event);
      if (typeof userInspect === 'function') userInspect(shown);
      else userInspect?.next?.(shown);
    } catch (err) {
      log.error({ err, inspectionEvent: event.type }, 'the inspect observer threw; the event was not shown to it');
    }
  };
  const machine = supervisorMachine.provide({ actors: { task: taskMachine.provide({ actors: effects }) } });
  const { maxConcurrentJobs, priorityAging } = options;
  const input = { maxConcurrentJobs, ...(priorityAging ? { priorityAging } : {}) };
  const supervisor = createActor(machine, { input, inspect });
  // Tasks queued again with a back-off start once it has passed: the timer tells the supervisor the time.
  const wakeTimer = new WakeTimer(
    (at) => supervisor.send({ type: 'WAKE', at }),
    () => supervisor.getSnapshot().context.delayed.earliest(),
  );
  supervisor.on('task.waiting', ({ taskId, until, waitingFor }) => {
    wakeTimer.arm(until);
    parts.telemetry.report({
      kind: 'taskWaiting',
      taskId,
      until: new Date(until).toISOString(),
      ...(waitingFor ? { waitingFor } : {}),
    });
  });
  // Task actors are not in the supervisor's snapshot (see `ChildIds`): it stops them when it stops or fails.
  const stopTasks = (): void => {
    wakeTimer.stop();
    supervisor.getSnapshot().context.children.stopAll();
  };
  supervisor.subscribe({
    complete: stopTasks,
    error: (err) => {
      stopTasks();
      onFatal(err);
    },
  });
  return supervisor;
}
