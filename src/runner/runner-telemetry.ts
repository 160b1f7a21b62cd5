import { messageOf } from '../errors.js';
import type { KubeTelemetry, KubeTelemetryEvent } from '../kube/telemetry.js';
import type { TaskRecord, Transition } from '../types.js';
import type { Logger } from './logger.js';
import type { RunnerMetrics } from './metrics.js';
import type { RunnerEvent } from './runner-events.js';

/** What `RunnerTelemetry` reports to. */
export interface RunnerTelemetryOptions {
  metrics: RunnerMetrics;
  logger: Logger;
  /** Publishes a runner event (on `events$`). */
  emit: (event: RunnerEvent) => void;
  /** Throttling is reported at most once per this window. @default 1000 */
  throttleWindowMs?: number;
}

/**
 * Turns what the runner and its Kubernetes side report into metrics, log records and
 * `events$`. Only ids, names, reasons, codes and durations are logged: never a spec, an env
 * value or a log line (they may hold secrets).
 */
export class RunnerTelemetry {
  readonly #metrics: RunnerMetrics;
  readonly #log: Logger;
  readonly #emit: (event: RunnerEvent) => void;
  readonly #throttleWindowMs: number;
  /** Throttling in the current window, reported when it ends. */
  #throttled: { requests: number; waitedMs: number; timer: NodeJS.Timeout } | undefined;

  constructor(options: RunnerTelemetryOptions) {
    this.#metrics = options.metrics;
    this.#log = options.logger;
    this.#emit = options.emit;
    this.#throttleWindowMs = options.throttleWindowMs ?? 1000;
  }

  /** The hook for `createKubeAdapter({ telemetry })`. */
  readonly kube: KubeTelemetry = (event) => {
    this.#metrics.kube(event);
    this.#onKube(event);
  };

  /** Publishes a runner event and logs it. */
  report(event: RunnerEvent): void {
    switch (event.kind) {
      case 'orphanJob':
        this.#metrics.orphan(event.action);
        this.#log.warn(
          {
            job: event.name,
            uid: event.uid,
            taskId: event.taskId,
            action: event.action,
            phase: event.phase,
            error: event.error,
          },
          'orphan Job found',
        );
        break;
      case 'watchReconnect':
        if (event.error === undefined)
          this.#log.debug({ resource: event.resource, delayMs: event.delayMs }, 'watch restarted');
        else
          this.#log.warn(
            { resource: event.resource, delayMs: event.delayMs, error: event.error },
            'watch failed, reconnecting',
          );
        break;
      case 'watchExpired':
        this.#log.info({ resource: event.resource }, 'watch expired (410 Gone), relisting');
        break;
      case 'watchStalled':
        this.#log.warn({ resource: event.resource }, 'watch stalled, restarting it');
        break;
      case 'throttled':
        this.#log.debug(
          { requests: event.requests, waitedMs: event.waitedMs },
          'client-side rate limit held requests back',
        );
        break;
      case 'apiRetry': {
        const fields = {
          verb: event.verb,
          resource: event.resource,
          attempt: event.attempt,
          delayMs: event.delayMs,
          statusCode: event.statusCode,
          error: event.error,
        };
        // One retry is routine; a request still failing after several attempts is worth a look.
        if (event.attempt >= 3) this.#log.warn(fields, 'Kubernetes API request still failing, retrying');
        else this.#log.debug(fields, 'Kubernetes API request failed, retrying');
        break;
      }
      case 'logsLost':
        this.#log.warn(
          { taskId: event.taskId, job: event.jobName, outcome: event.outcome, reason: event.reason },
          'the final logs of a task could not be read: marked lost',
        );
        break;
      case 'leadership':
        this.#metrics.leadership(event.change);
        this.#log.info(
          { identity: event.identity, change: event.change, leader: event.leader, reason: event.reason },
          event.change === 'leading'
            ? 'leading: this replica runs the tasks'
            : event.change === 'stoppedLeading'
              ? 'stopped leading'
              : 'the Lease has a new holder',
        );
        break;
      case 'replicationFailed':
        this.#log.warn({ phase: event.phase, error: event.error }, 'replica notifications: a step failed');
        break;
      case 'retentionFailed':
        this.#log.warn(
          { outcome: event.outcome, error: event.error },
          'purging finished tasks failed, trying again later',
        );
        break;
      case 'shutdownDetached':
        this.#log.warn(
          { mode: event.mode, reason: event.reason, timeoutMs: event.timeoutMs, remaining: event.remaining },
          event.reason === 'timeout'
            ? `shutdown ${event.mode} timed out: detaching, ${event.remaining.length} task(s) left to the next start`
            : `shutdown ${event.mode} cut short: detaching, ${event.remaining.length} task(s) left to the next start`,
        );
        break;
    }
    this.#emit(event);
  }

  /** Counts a transition; logs it (debug) and the task's outcome (info: id, outcome, reason). */
  transition(t: Transition, record: TaskRecord | undefined): void {
    this.#metrics.transition(t, record);
    this.#log.debug({ taskId: t.taskId, from: t.from, to: t.to, event: t.event }, 'task transition');
    if (t.outcome !== undefined && t.to === t.outcome) {
      this.#log.info(
        { taskId: t.taskId, outcome: t.outcome, reason: record?.failure?.reason, exitCode: record?.failure?.exitCode },
        'task finished',
      );
    }
    // Leaving the outcome state is when the harvest ended: once per task (a restart resumes past it).
    if (record?.logs?.lost && t.from !== null && t.from === record.outcome && t.to !== t.from) {
      this.report({
        kind: 'logsLost',
        taskId: t.taskId,
        jobName: record.jobName,
        outcome: record.outcome,
        reason: record.logs.reason,
      });
    }
  }

  /** Reports throttling still pending (on shutdown, before `events$` completes). */
  flush(): void {
    const pending = this.#throttled;
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#throttled = undefined;
    this.report({ kind: 'throttled', requests: pending.requests, waitedMs: Math.round(pending.waitedMs) });
  }

  #onKube(event: KubeTelemetryEvent): void {
    switch (event.type) {
      case 'request':
        return;
      case 'retry':
        this.report({
          kind: 'apiRetry',
          verb: event.verb,
          resource: event.resource,
          attempt: event.attempt,
          delayMs: Math.round(event.delayMs),
          statusCode: event.error.statusCode,
          error: event.error.message,
        });
        return;
      case 'throttled':
        this.#throttled ??= {
          requests: 0,
          waitedMs: 0,
          timer: setTimeout(() => this.flush(), this.#throttleWindowMs).unref(),
        };
        this.#throttled.requests += 1;
        this.#throttled.waitedMs += event.waitedMs;
        return;
      case 'watch': {
        const watch = event.event;
        switch (watch.type) {
          case 'reconnecting':
            this.report({
              kind: 'watchReconnect',
              resource: watch.resource,
              delayMs: Math.round(watch.delayMs),
              ...(watch.error ? { error: watch.error.message } : {}),
            });
            return;
          case 'expired':
            this.report({ kind: 'watchExpired', resource: watch.resource });
            return;
          case 'stalled':
            this.report({ kind: 'watchStalled', resource: watch.resource });
            return;
          case 'listed':
            this.#log.debug({ resource: watch.resource, items: watch.items }, 'watch listed');
            return;
          case 'lookup-failed':
            this.#log.warn(
              { job: watch.jobName, error: messageOf(watch.error) },
              'could not look up a Job the watch has not shown',
            );
            return;
          case 'listener-error':
            this.#log.error({ job: watch.jobName, error: messageOf(watch.error) }, 'a task observer threw');
            return;
        }
      }
    }
  }
}
