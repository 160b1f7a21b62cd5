import { createRequire } from 'node:module';
import {
  context,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  trace,
  type Attributes,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { TaskRecord, TaskState, Transition } from '../types.js';

/** The instrumentation scope: the tracer's name, and the package's version as its version. */
export const tracerName = 'k8s-jobs';

/** Names of the spans: one per task, one child per phase of it. */
export const taskSpanName = 'k8s_jobs.task';

/** A task's phases as child spans: the outcome states (`succeeded`…) are one phase, the log harvest. */
export type TaskPhase = 'queued' | 'creating' | 'running' | 'retry' | 'harvest' | 'delete';

/** The phase a state belongs to (`deleted` ends the task: no phase). */
export function phaseOf(state: TaskState): TaskPhase | undefined {
  switch (state) {
    case 'queued':
    case 'creating':
    case 'running':
      return state;
    case 'retrying':
      return 'retry';
    case 'succeeded':
    case 'failed':
    case 'timedOut':
    case 'cancelled':
      return 'harvest';
    case 'deleting':
      return 'delete';
    case 'deleted':
      return undefined;
  }
}

/**
 * Span attribute names: OpenTelemetry's semantic conventions where one exists (`k8s.*`,
 * `error.type`), `k8s_jobs.*` for the rest.
 */
export const spanAttributes = {
  taskId: 'k8s_jobs.task.id',
  jobName: 'k8s.job.name',
  namespace: 'k8s.namespace.name',
  priority: 'k8s_jobs.task.priority',
  /** The span continues a task a previous process started (it cannot continue that process's span). */
  resumed: 'k8s_jobs.task.resumed',
  /** The state the task was in when this span started (on a resumed task's span). */
  resumedState: 'k8s_jobs.task.resumed_state',
  state: 'k8s_jobs.task.state',
  /** The event that ended a phase (`xstate.done.actor.createJob`, `CLUSTER.OBSERVED`, `CANCEL`…). */
  event: 'k8s_jobs.transition.event',
  outcome: 'k8s_jobs.task.outcome',
  reason: 'k8s_jobs.task.failure.reason',
  errorType: 'error.type',
  exitCode: 'k8s_jobs.task.exit_code',
  oomKilled: 'k8s_jobs.task.oom_killed',
  cleanupError: 'k8s_jobs.task.cleanup_error',
  /** On the harvest phase: why the final logs could not be stored. */
  logsLost: 'k8s_jobs.task.logs_lost',
  /** The runner stopped (shutdown, detach) with the task still open: the span ends without it. */
  detached: 'k8s_jobs.runner.detached',
} as const;

interface OpenTask {
  span: Span;
  /** The task span's context: every phase span is its child. */
  context: Context;
  phase?: { name: TaskPhase; span: Span };
  /** The Job of the task's current attempt (a retry with a new Job names another). */
  jobName?: string;
}

/** This package's version, the tracer's: src/runner/ and dist/runner/ are both two levels below package.json. */
function packageVersion(): string | undefined {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : undefined;
}

/**
 * OpenTelemetry tracing of tasks, from the runner's transitions: one span per task (from `addTask`
 * to `deleted`), a child span per phase (queued, creating, running, harvest, delete), the outcome
 * and failure reason as attributes, status ERROR on `failed` and `timedOut`. Only
 * `@opentelemetry/api`: with no tracer provider registered its tracer is a no-op.
 *
 * A span belongs to one process: a task resumed after a restart gets a new span (attribute
 * `k8s_jobs.task.resumed`), a root one (the old span's context is not stored). Spans are held
 * only for open tasks whose span records; `detach()` ends them all (on shutdown). A task whose
 * span the tracer does not record (no provider registered when it was added) is held nowhere, and
 * none of its later transitions starts a span: 100,000 queued tasks hold nothing here.
 */
export class TaskTracing {
  readonly #tracer: Tracer;
  readonly #namespace: string;
  readonly #open = new Map<string, OpenTask>();

  constructor(options: { tracerProvider?: TracerProvider | undefined; namespace: string }) {
    const provider = options.tracerProvider ?? trace.getTracerProvider();
    this.#tracer = provider.getTracer(tracerName, packageVersion());
    this.#namespace = options.namespace;
  }

  /** Whether this task has a recording span open here (replicas: the one that added a task follows it). */
  has(taskId: string): boolean {
    return this.#open.has(taskId);
  }

  /** Task spans open now (bench/tracing.ts checks none is left behind). */
  get openCount(): number {
    return this.#open.size;
  }

  /**
   * Follows one transition. A task's first one (`from: null`) starts its span as a child of the
   * context active now: the runner delivers the `ADD` transition inside the `addTask` caller's context.
   */
  transition(t: Transition, record: TaskRecord | undefined): void {
    let open = this.#open.get(t.taskId);
    if (!open) {
      // Only a first transition starts a span (a resumed task's starts in `resumed`): a later one of a
      // task held nowhere belongs to a span the tracer did not record, and stays unrecorded.
      if (t.from !== null) return;
      open = this.#start(t.taskId, record, new Date(t.at), context.active(), t.from);
      if (!open) return;
    }
    const at = new Date(t.at);
    // Each retry (or quota wait) is an event on the task's span, whatever phase it happens in.
    if (t.retry) {
      const { reason, action, attempt, message, podName, jobName } = t.retry;
      open.span.addEvent(
        'k8s_jobs.retry',
        {
          'k8s_jobs.retry.reason': reason,
          'k8s_jobs.retry.action': action,
          'k8s_jobs.retry.attempt': attempt,
          'k8s_jobs.retry.message': message,
          [spanAttributes.jobName]: jobName,
          ...(podName ? { 'k8s.pod.name': podName } : {}),
        },
        at,
      );
    }
    if (open.phase) {
      open.phase.span.setAttribute(spanAttributes.event, t.event);
      if (open.phase.name === 'harvest' && record?.logs?.lost)
        open.phase.span.setAttribute(spanAttributes.logsLost, record.logs.reason);
    }
    const outcome = t.outcome !== undefined && t.to === t.outcome ? this.#outcome(open, t, record) : undefined;
    const phase = phaseOf(t.to);
    if (open.phase?.name === phase) return;
    open.phase?.span.end(at);
    open.phase = undefined;
    if (phase === undefined) {
      if (record?.cleanupError !== undefined) open.span.setAttribute(spanAttributes.cleanupError, record.cleanupError);
      open.span.end(at);
      this.#open.delete(t.taskId);
      return;
    }
    // A retry with a new Job: the phases from here on, and the task span, name the attempt's Job.
    if (record?.jobName !== undefined && record.jobName !== open.jobName) {
      open.jobName = record.jobName;
      open.span.setAttribute(spanAttributes.jobName, record.jobName);
    }
    open.phase = this.#startPhase(open, phase, t.to, at);
    // The harvest phase carries the outcome too: it is what the logs were harvested for.
    if (outcome) open.phase.span.setAttributes(outcome);
  }

  /**
   * Starts the spans of tasks a restart brought back (in their stored state, which no transition
   * reports): a new root span each, marked resumed.
   */
  resumed(records: Iterable<TaskRecord>): void {
    const at = new Date();
    for (const record of records) {
      if (record.state === 'deleted' || this.#open.has(record.id)) continue;
      const open = this.#start(record.id, record, at, undefined, record.state);
      const phase = phaseOf(record.state);
      if (phase && open) open.phase = this.#startPhase(open, phase, record.state, at);
    }
  }

  /** Ends every open span, marked detached: the runner stops, the tasks stay for the next start. */
  detach(): void {
    for (const open of this.#open.values()) {
      open.phase?.span.setAttribute(spanAttributes.detached, true);
      open.phase?.span.end();
      open.span.setAttribute(spanAttributes.detached, true);
      open.span.end();
    }
    this.#open.clear();
  }

  /** Starts the task's span; `undefined` (and nothing held) when the tracer does not record it. */
  #start(
    taskId: string,
    record: TaskRecord | undefined,
    at: Date,
    parent: Context | undefined,
    from: TaskState | null,
  ): OpenTask | undefined {
    const attributes: Attributes = { [spanAttributes.taskId]: taskId, [spanAttributes.namespace]: this.#namespace };
    if (record) {
      attributes[spanAttributes.jobName] = record.jobName;
      attributes[spanAttributes.priority] = record.spec.priority ?? 0;
    }
    if (from !== null) {
      attributes[spanAttributes.resumed] = true;
      attributes[spanAttributes.resumedState] = from;
    }
    // A resumed task's span is a root: the context active at boot is not the task's.
    const span = this.#tracer.startSpan(
      taskSpanName,
      { attributes, startTime: at, ...(parent ? {} : { root: true }) },
      parent,
    );
    // The no-op tracer's span records nothing: an entry per such task cost 45 bytes each, and
    // with the store's index state (also dropped) 13 MiB of RSS at 100,000 queued (the heap grows
    // in proportion to what lives).
    if (!span.isRecording()) return undefined;
    const open: OpenTask = {
      span,
      ...(record ? { jobName: record.jobName } : {}),
      context: trace.setSpan(parent ?? ROOT_CONTEXT, span),
    };
    this.#open.set(taskId, open);
    return open;
  }

  #startPhase(open: OpenTask, phase: TaskPhase, state: TaskState, at: Date): { name: TaskPhase; span: Span } {
    const span = this.#tracer.startSpan(
      `${taskSpanName}.${phase}`,
      {
        attributes: {
          [spanAttributes.state]: state,
          ...(open.jobName !== undefined ? { [spanAttributes.jobName]: open.jobName } : {}),
        },
        startTime: at,
      },
      open.context,
    );
    return { name: phase, span };
  }

  /** The task reached its outcome: its attributes (returned) and status go on the task span. */
  #outcome(open: OpenTask, t: Transition, record: TaskRecord | undefined): Attributes {
    const attributes: Attributes = { [spanAttributes.outcome]: t.to };
    const failure = record?.failure;
    if (failure) {
      attributes[spanAttributes.reason] = failure.reason;
      if (failure.exitCode !== undefined) attributes[spanAttributes.exitCode] = failure.exitCode;
      if (failure.oomKilled) attributes[spanAttributes.oomKilled] = true;
    }
    // Only failures are errors: a cancelled task was asked to stop; success stays unset (OTel's advice).
    if (t.to === 'failed' || t.to === 'timedOut') {
      const reason = failure?.reason ?? t.to;
      attributes[spanAttributes.errorType] = reason;
      // The reason, not the failure's message: that may quote the container's termination message.
      open.span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    }
    open.span.setAttributes(attributes);
    return attributes;
  }
}
