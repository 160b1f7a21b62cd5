/**
 * Every error k8s-jobs throws: a small taxonomy, each class with a literal `code`, structured
 * fields and the cause attached. Callers branch on `code` or `instanceof`, never on message text.
 */

export type K8sJobsErrorCode =
  | 'VALIDATION'
  | 'QUEUE_FULL'
  | 'DUPLICATE_TASK'
  | 'TASK_NOT_FOUND'
  | 'RUNNER_CLOSED'
  | 'WAIT_TIMEOUT'
  | 'JOB_CONFLICT'
  | 'KUBERNETES_API'
  | 'STORE'
  | 'PREFLIGHT';

/**
 * The message of whatever was thrown (`String(err)` when it is not an `Error`), for the text of
 * another error or a record's field: the thrown value itself stays the `cause`.
 */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Base class: `code` identifies the kind; `cause` carries the underlying error. */
export abstract class K8sJobsError extends Error {
  abstract readonly code: K8sJobsErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One rule one field broke. */
export interface ValidationIssue {
  /** Dotted path into the input, e.g. `env.0.name`, `resources.limits.memory`. */
  field: string;
  /** The rule, in words. */
  rule: string;
}

/** Bad input: nothing was stored or sent. The message names every field and rule. */
export class ValidationError extends K8sJobsError {
  readonly code = 'VALIDATION' as const;

  constructor(
    readonly issues: ValidationIssue[],
    /** What was being validated (`task`, `runner options`). */
    readonly subject = 'task',
    options?: { cause?: unknown },
  ) {
    super(`invalid ${subject}: ${issues.map((i) => `${i.field || '(root)'}: ${i.rule}`).join('; ')}`, options);
  }

  /** The first offending field. */
  get field(): string {
    return this.issues[0]?.field ?? '';
  }
}

/** `addTask` past `queueSize` queued tasks. */
export class QueueFullError extends K8sJobsError {
  readonly code = 'QUEUE_FULL' as const;

  constructor(
    readonly queueSize: number,
    readonly taskId: string,
  ) {
    super(`queue is full (${queueSize} queued tasks): task "${taskId}" was not added`);
  }
}

/** A task id already used with a different spec. */
export class DuplicateTaskError extends K8sJobsError {
  readonly code = 'DUPLICATE_TASK' as const;

  constructor(readonly taskId: string) {
    super(`task "${taskId}" already exists with a different spec`);
  }
}

export class TaskNotFoundError extends K8sJobsError {
  readonly code = 'TASK_NOT_FOUND' as const;

  constructor(readonly taskId: string) {
    super(`task "${taskId}" not found`);
  }
}

/** A call after `shutdown()` (or after the runner stopped on a fatal store error). */
export class RunnerClosedError extends K8sJobsError {
  readonly code = 'RUNNER_CLOSED' as const;

  constructor(
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(`runner is closed: ${operation} rejected`, options);
  }
}

/**
 * `waitFor(id, { timeoutMs })` gave up: the task was not `deleted` within `timeoutMs`. Only the
 * wait ended; the task itself goes on (cancel it with `cancel(id)` if that is what you want).
 */
export class WaitTimeoutError extends K8sJobsError {
  readonly code = 'WAIT_TIMEOUT' as const;

  constructor(
    readonly taskId: string,
    /** The wait's bound (ms). */
    readonly timeoutMs: number,
  ) {
    super(`task "${taskId}" was not deleted within ${timeoutMs} ms: waitFor gave up (the task goes on)`);
  }
}

/** A Job with our deterministic name exists but was made from a different spec. */
export class JobConflictError extends K8sJobsError {
  readonly code = 'JOB_CONFLICT' as const;

  constructor(
    readonly namespace: string,
    readonly jobName: string,
    readonly taskId: string,
    readonly expectedFingerprint: string,
    readonly foundFingerprint: string | undefined,
  ) {
    super(
      `job "${namespace}/${jobName}" already exists for a different spec (task "${taskId}": fingerprint ${foundFingerprint ?? 'none'}, expected ${expectedFingerprint})`,
    );
  }
}

/** A Kubernetes API call that failed for good (4xx), or transiently past the retry budget. */
export class KubernetesApiError extends K8sJobsError {
  readonly code = 'KUBERNETES_API' as const;
  /** The server's `Retry-After` (or Status `details.retryAfterSeconds`), if it sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    /** `create`, `get`, `delete`, `list`, `watch`, `log`. */
    readonly verb: string,
    /** `jobs/name`, `pods/name/log`... */
    readonly resource: string,
    /** HTTP status, 0 for network errors. */
    readonly statusCode: number,
    /** Kubernetes' Status reason (`Forbidden`, `Invalid`, `NotFound`...), if any. */
    readonly reason: string | undefined,
    /** The API's own message. */
    readonly apiMessage: string,
    /** Whether retrying could help (5xx, 429, network). */
    readonly transient: boolean,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(
      `${verb} ${resource} failed: ${statusCode ? `${statusCode} ${reason ?? ''}`.trim() : 'network error'}: ${apiMessage}`,
      options,
    );
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The store cannot be opened, read or written. */
export class StoreError extends K8sJobsError {
  readonly code = 'STORE' as const;

  constructor(
    message: string,
    /** The file or URI of the store. */
    readonly location: string,
    options?: { cause?: unknown },
  ) {
    super(`${message} (store: ${location})`, options);
  }
}

/**
 * Another runner holds the store (its lock row has a fresh heartbeat): two runners on one store
 * would both run its queue. `code` is `'STORE'`; branch on `instanceof StoreLockedError`.
 */
export class StoreLockedError extends StoreError {
  constructor(
    location: string,
    /** Who holds the lock (`host:pid:random`). */
    readonly owner: string,
    /** ISO 8601 time of the holder's latest heartbeat. */
    readonly heartbeatAt: string,
    options?: { cause?: unknown },
  ) {
    super(
      `the store is in use by another runner (${owner}, last heartbeat ${heartbeatAt}); stop it first, or wait until its lock is stale`,
      location,
      options,
    );
  }
}

/** One thing a preflight found wrong. */
export interface PreflightProblem {
  /** The check that found it (`access: create jobs.batch`, `namespace`, `dry-run job`, `dry-run pod`). */
  check: string;
  /** What is wrong, naming the verb, resource or namespace, with the API's own message when it gave one. */
  problem: string;
}

/**
 * The runner's preflight (`createRunner({ preflight })`) found the cluster unfit for it: every
 * problem at once, so that one fix-and-retry round fixes them all. The checks' `cause` errors, if
 * any, are in `problems`' text and in `cause` (an AggregateError).
 */
export class PreflightError extends K8sJobsError {
  readonly code = 'PREFLIGHT' as const;

  constructor(
    /** The namespace the runner's Jobs go to. */
    readonly namespace: string,
    /** Every problem found, in the order of the checks. */
    readonly problems: PreflightProblem[],
    options?: { cause?: unknown },
  ) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      `preflight in namespace "${namespace}" found ${count}: ${problems.map((p) => `${p.check}: ${p.problem}`).join('; ')}`,
      options,
    );
  }
}
