import { retryPolicySchema, type RetryPolicyInput } from '../validation/retry-policy.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { TracerProvider } from '@opentelemetry/api';
import type Keyv from 'keyv';
import type { InspectionEvent, Observer } from 'xstate';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { StuckPolicy } from '../machines/task/contract.js';
import { defaultStoreUri } from '../store/open-store.js';
import type { Logger } from './logger.js';
import type { MetricsOptions } from './metrics.js';
import { retentionSchema, type RetentionOptions } from './retention-options.js';
import { toValidationIssues } from '../validation/parse.js';
import type { LeaderElectionOptions } from '../leader/options.js';
import type { TaskInput } from '../validation/task-spec.js';
import { podSecurityLevels, type PodSecurityLevel } from '../validation/pod-security.js';

/** Options of `createRunner`. Every field is optional; defaults are what a cluster user expects. */
export interface RunnerOptions {
  /** Namespace of the Jobs. `''` = the kubeconfig context's namespace, or the pod's own in-cluster. @default '' */
  namespace?: string;
  /** Tasks active at once (from `creating` until their Job finished or was deleted). @default 5 */
  maxConcurrentJobs?: number;
  /** Queued (not yet active) tasks; `addTask` rejects with `QueueFullError` past it. @default 100 */
  queueSize?: number;
  /**
   * Priority aging, so that a steady stream of high-priority tasks cannot starve a low one: a
   * queued task's effective priority is `priority + min(max, floor(wait / everySeconds) × step)`,
   * the wait counted from its `createdAt` (durable: the order is the same after a restart). The
   * highest effective priority starts first, the oldest among equals. A task of priority `p` waits
   * at most until `p + max` beats every fresh task, i.e. about `ceil((top − p) / step) × everySeconds`
   * once the top priority is at most `p + max`. `{}` takes the defaults shown.
   * @default off (strict priority: aging reorders the queue, so it is opted into)
   */
  priorityAging?: {
    /** Seconds of waiting per step. @default 60 */
    everySeconds?: number;
    /** Priority added per `everySeconds` waited. @default 1 */
    step?: number;
    /** Most priority added by aging. @default 10 */
    max?: number;
  };
  /**
   * Where tasks are kept: `sqlite://<path>`, `postgres://<user>@<host>:<port>/<database>?schema=<name>`
   * (schema and table created on first use; the password never appears in an error), `memory://`, or
   * a Keyv instance. A store of your own (Redis…) is a Keyv storage adapter: pass `new Keyv(adapter)`
   * and the runner keeps its records, queue and lock through it.
   * @default 'sqlite://./k8s-jobs.sqlite'
   */
  store?: string | Keyv;
  /** @default a KubeConfig loaded with `loadFromDefault()` */
  kubeConfig?: KubeConfig;
  /**
   * An XState inspection observer (e.g. `@statelyai/inspect`'s `inspector.inspect`; see
   * `examples/inspector.ts`): it receives the events of every actor — the supervisor, each task
   * and each task's effects. It sees redacted copies: env values and log lines are
   * `redactedValue` (`"[redacted]"`; secret references stay), actors are read-only
   * `InspectedActorRef` views, the live events and snapshots are untouched.
   * Redacting costs a copy of every event, and `@statelyai/inspect` slows a busy runner several
   * times over: a development aid, not for production. An observer that throws is logged, not fatal.
   */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  cleanup?: {
    /** @default 'Background' */
    propagationPolicy?: 'Background' | 'Foreground';
    /**
     * Leave finished Jobs in the cluster (Kubernetes' ttlSecondsAfterFinished may still remove them). @default false
     */
    keepJobs?: boolean;
    /**
     * The cluster-side backstop: `ttlSecondsAfterFinished` put on every Job whose task sets none,
     * so Kubernetes removes finished Jobs even if the runner never comes back (the runner still
     * harvests the logs and deletes the Job first). `null` leaves it off. A task's own
     * `ttlSecondsAfterFinished` always wins. With `keepJobs: true` it is off unless set here
     * explicitly (kept Jobs are meant to stay). Not part of a task's fingerprint: Jobs created
     * without it by an older runner are still adopted.
     * @default 3600 (null with keepJobs: true)
     */
    ttlSecondsAfterFinished?: number | null;
  };
  logs?: {
    /** Cap of a stored log snapshot (head + marker + tail). @default 1048576 */
    maxBytes?: number;
    /** Interval of log snapshots while a task runs. @default 30000 */
    snapshotIntervalMs?: number;
    /**
     * How long after a task's outcome a failing final log read (no `pods/log` permission, the
     * API erroring) is retried, with the `retry` back-off, while the Job is kept. Once it has
     * passed, the record gets `logs: { lost: true, reason }`, `events$` reports `logsLost`, and
     * cleanup goes on; the outcome is never changed. Counted from `finishedAt`, so a restart does
     * not start it over. Keep it under `cleanup.ttlSecondsAfterFinished`, or Kubernetes may remove
     * the Job first. `0` = one read, no retry.
     * @default 300000 (5 minutes)
     */
    harvestRetryLimitMs?: number;
  };
  /** When stuck pods fail a task. */
  stuck?: Partial<StuckPolicy>;
  /** The client-side timer fires this long after `startTime + timeout`. @default 2000 */
  clientTimeoutGraceMs?: number;
  /** Client-side rate limit of Kubernetes API calls. @default { qps: 20, burst: 30 } */
  rateLimit?: { qps?: number; burst?: number };
  /**
   * Retries. Of transient API errors: `maxAttempts`, `baseDelayMs`, `maxDelayMs`
   * (@default { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 30000 }). Of tasks, by reason (each
   * task's own `retry` goes over these): `disruptions` (pods evicted, preempted or lost with their
   * node, replaced without counting against `backoffLimit`; @default 3), `imagePull` (a new Job
   * after a pull error that may pass; @default 1), `oomKilled` (`{ attempts, memoryFactor: 2,
   * maxMemory }`: a new Job with more memory; @default off). Every retry is on the record
   * (`retries`) and `transitions$`.
   */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number } & RetryPolicyInput;
  /**
   * The back-off of a task queued again (a ResourceQuota had no room for it, or it is retried with
   * a new Job): the n-th wait is `min(maxMs, initialMs × 2^(n-1))`, per reason. A quota wait is
   * not a failure: the task waits as long as it takes, holding no slot, its pending budget not
   * running. @default { initialMs: 1000, maxMs: 60000 }
   */
  requeueBackoff?: { initialMs?: number; maxMs?: number };
  /** The shared watch. @default { timeoutSeconds: 300, stallGraceMs: 30000 } */
  watch?: { timeoutSeconds?: number; stallGraceMs?: number };
  /**
   * What `createRunner` does with an orphan: a Job carrying our label
   * (`app.kubernetes.io/managed-by=k8s-jobs`) in the runner's namespace for which the store has no
   * task at all (e.g. the store file was replaced, or another runner shares the namespace with
   * another store). Every orphan is reported on `runner.events$` (`{ kind: 'orphanJob', name, uid }`);
   * `'delete'` then deletes it (with the cleanup propagation policy). `'adopt'` makes it a task
   * instead: id from its `k8s-jobs.io/task-id` annotation (else the Job's name), spec rebuilt from
   * the Job (the `task` container's image, command, args, env, resources; `activeDeadlineSeconds` →
   * timeout; backoffLimit, ttlSecondsAfterFinished, serviceAccountName, user labels and
   * annotations; a podTemplate is not rebuilt), stored durably as `running` and watched to its
   * outcome, logs harvested and cleaned up like any task (the event's `action` is `'adopted'`).
   * A Job that cannot be rebuilt into a valid task is reported with `error`. Jobs of tasks the
   * store still knows (kept by `cleanup.keepJobs`, or whose cleanup failed) are not orphans.
   * @default 'report'
   */
  orphans?: 'report' | 'delete' | 'adopt';
  /**
   * How often the runner also looks for orphans while it runs (one LIST of our Jobs), not only at
   * start: a Job of ours that no task in memory or in the store accounts for is handled as the
   * `orphans` option says and reported on `events$` (`phase: 'scan'`), once per Job. Jobs of open
   * tasks, of tasks being added, and of tasks whose record is still being written are never
   * flagged. `0` = only at start.
   * @default 300000 (5 minutes)
   */
  orphanScanIntervalMs?: number;
  /**
   * What happens to a running task whose Job vanished (deleted by someone else, while the runner
   * ran or while none did). `'fail'`: outcome `failed`, reason `JobVanished`. `'retry'`: the Job
   * is re-created once (same name, same spec); if that one vanishes too, `failed` / `JobVanished`.
   * @default 'fail'
   */
  jobVanished?: 'fail' | 'retry';
  /**
   * The Pod Security Standard every task's pod must meet: `addTask` checks the pod template the
   * task's Job would carry (the generated one with the task's `podTemplate` merged in) against the
   * level's rules, as Kubernetes' Pod Security Admission would, and refuses a task that breaks one
   * with a `ValidationError` naming the field and the rule (nothing is stored or sent).
   * `'baseline'`: no privileged containers, host namespaces, hostPath volumes, host ports, added
   * capabilities beyond the default set, unmasked procMount, unsafe sysctls, or seccomp, AppArmor
   * and SELinux overrides. `'restricted'` adds runAsNonRoot, dropping ALL capabilities,
   * allowPrivilegeEscalation false, a RuntimeDefault or Localhost seccomp profile and safe volume
   * types only. `'privileged'` checks nothing: an explicit opt-out.
   * @default 'baseline'
   */
  podSecurity?: PodSecurityLevel;
  /**
   * How long finished (`deleted`) tasks stay in the store, per outcome (`succeeded`, `failed`,
   * `timedOut`, `cancelled`): `{ maxAgeSeconds?, maxCount? }`, or `null` to keep them all. A
   * background purge removes each task past a limit — record, transitions, log snapshot and
   * index entries together — in batches of `batchSize`, every `intervalMs`; open tasks are never
   * touched. A rule given replaces that outcome's default. See `docs/runner.md`, "Retention".
   * @default succeeded and cancelled 7 days / 10,000, failed and timedOut 30 days / 10,000
   */
  retention?: RetentionOptions;
  /**
   * Prometheus metrics (prom-client), on `runner.metrics`: tasks by state, transitions, queue wait
   * and run durations, Kubernetes API requests, errors, retries, throttle waits, watch reconnects,
   * queue depth; every name starts with `prefix`. Pass `registry` to register them in the app's own
   * (e.g. prom-client's global `register`); two runners on one registry need distinct prefixes.
   * @default { registry: a new Registry per runner, prefix: 'k8s_jobs_' }
   */
  metrics?: MetricsOptions;
  /**
   * A structured logger with pino's interface (`debug`/`info`/`warn`/`error(fields, message)`,
   * optional `child`); a pino logger fits as is. The runner logs start and stop, orphans, watch
   * reconnects, API retries and task outcomes (task ids and reasons, never specs, env values or
   * logs). @default silent
   */
  logger?: Logger;
  /**
   * The OpenTelemetry tracer provider of the task spans (one per task, a child per phase: see
   * docs/observability.md). @default the globally registered one (`trace.getTracerProvider()`),
   * a no-op until the app registers one
   */
  tracerProvider?: TracerProvider;
  /**
   * Run as one of several replicas over a shared PostgreSQL `store`: the replicas elect a leader
   * through a `coordination.k8s.io/v1` Lease (client-go's algorithm and defaults: 15 s / 10 s /
   * 2 s). Only the leader runs the supervisor and creates, watches and deletes Jobs; every
   * replica accepts tasks and answers reads. See docs/deploy.md, "Running several replicas".
   * @default off (one runner, its own store)
   */
  leaderElection?: LeaderElectionOptions;
  /**
   * Run `runner.preflight()` before the runner starts, and fail `createRunner` with a
   * `PreflightError` listing every problem it found (a missing RBAC verb, a namespace that does
   * not exist, a sample Job the API server refuses). `{ sampleTask }` dry-runs that task's Job
   * instead of the default busybox one. See docs/runner.md, "Preflight".
   * @default false
   */
  preflight?: boolean | { sampleTask?: TaskInput };
}

const positiveInt = (max: number) => z.number().int().min(1).max(max);
const nonNegativeMs = z
  .number()
  .int()
  .min(0)
  .max(7 * 24 * 3600 * 1000);

const optionsSchema = z.strictObject({
  namespace: z
    .string()
    .max(63)
    .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, {
      error: 'must be a DNS-1123 label (or empty for the current namespace)',
    })
    .default(''),
  maxConcurrentJobs: positiveInt(10_000).default(5),
  queueSize: positiveInt(10_000_000).default(100),
  priorityAging: z
    .strictObject({
      everySeconds: z
        .number()
        .positive()
        .max(365 * 24 * 3600)
        .default(60),
      step: positiveInt(1_000_000).default(1),
      max: positiveInt(1_000_000_000).default(10),
    })
    .optional(),
  store: z
    .union([
      z.string().regex(/^(sqlite|memory|postgres|postgresql):\/\//, {
        error: 'must be "sqlite://<path>", "postgres://<user>@<host>/<database>", "memory://" or a Keyv instance',
      }),
      z.custom<Keyv>((v) => typeof v === 'object' && v !== null && typeof (v as Keyv).set === 'function', {
        error: 'must be a Keyv instance',
      }),
    ])
    .default(defaultStoreUri),
  kubeConfig: z
    .custom<KubeConfig>(
      (v) => typeof v === 'object' && v !== null && typeof (v as KubeConfig).makeApiClient === 'function',
      { error: 'must be a @kubernetes/client-node KubeConfig' },
    )
    .optional(),
  inspect: z
    .custom<RunnerOptions['inspect']>(
      (v) =>
        typeof v === 'function' ||
        (typeof v === 'object' && v !== null && typeof (v as Observer<InspectionEvent>).next === 'function'),
      { error: 'must be an inspection observer' },
    )
    .optional(),
  cleanup: z
    .strictObject({
      propagationPolicy: z.enum(['Background', 'Foreground']).default('Background'),
      keepJobs: z.boolean().default(false),
      ttlSecondsAfterFinished: z
        .number()
        .int()
        .min(0)
        .max(10 * 365 * 24 * 3600)
        .nullable()
        .optional(),
    })
    .prefault({}),
  logs: z
    .strictObject({
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .max(256 * 1024 * 1024)
        .default(1024 * 1024),
      snapshotIntervalMs: z.number().int().min(100).default(30_000),
      harvestRetryLimitMs: nonNegativeMs.default(300_000),
    })
    .prefault({}),
  stuck: z
    .strictObject({
      pendingBudgetMs: nonNegativeMs.default(600_000),
      imagePullGraceMs: nonNegativeMs.default(300_000),
      createContainerConfigGraceMs: nonNegativeMs.default(120_000),
      crashLoopBackOffGraceMs: nonNegativeMs.default(300_000),
      unschedulableGraceMs: nonNegativeMs.optional(),
    })
    .prefault({}),
  clientTimeoutGraceMs: nonNegativeMs.default(2000),
  rateLimit: z
    .strictObject({ qps: z.number().positive().max(100_000).default(20), burst: positiveInt(100_000).default(30) })
    .prefault({}),
  retry: z
    .strictObject({
      maxAttempts: positiveInt(100).default(8),
      baseDelayMs: nonNegativeMs.default(200),
      maxDelayMs: nonNegativeMs.default(30_000),
      ...retryPolicySchema.shape,
    })
    .prefault({}),
  requeueBackoff: z
    .strictObject({ initialMs: nonNegativeMs.default(1000), maxMs: nonNegativeMs.default(60_000) })
    .prefault({}),
  watch: z
    .strictObject({ timeoutSeconds: positiveInt(3600).default(300), stallGraceMs: nonNegativeMs.default(30_000) })
    .prefault({}),
  orphans: z.enum(['report', 'delete', 'adopt']).default('report'),
  orphanScanIntervalMs: nonNegativeMs.default(300_000),
  jobVanished: z.enum(['fail', 'retry']).default('fail'),
  podSecurity: z.enum(podSecurityLevels).default('baseline'),
  retention: retentionSchema,
  metrics: z
    .strictObject({
      registry: z
        .custom<NonNullable<MetricsOptions['registry']>>(
          (v) => isObjectWith(v, ['registerMetric', 'metrics', 'getMetricsAsJSON']),
          { error: 'must be a prom-client Registry' },
        )
        .optional(),
      prefix: z
        .string()
        .max(100)
        .regex(/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/, {
          error: 'must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)',
        })
        .default('k8s_jobs_'),
    })
    .prefault({}),
  logger: z
    .custom<Logger>((v) => isObjectWith(v, ['debug', 'info', 'warn', 'error']), {
      error: 'must be a logger with debug, info, warn and error methods (pino-compatible)',
    })
    .optional(),
  tracerProvider: z
    .custom<TracerProvider>((v) => isObjectWith(v, ['getTracer']), {
      error: 'must be an OpenTelemetry TracerProvider (with getTracer)',
    })
    .optional(),
  // Checked by resolveLeaderElectionOptions (its own rules, client-go's).
  leaderElection: z
    .custom<LeaderElectionOptions>((v) => typeof v === 'object' && v !== null, { error: 'must be an object' })
    .optional(),
  // The sample task is parsed by the preflight itself (a ValidationError naming its fields).
  preflight: z
    .union([
      z.boolean(),
      z.strictObject({
        sampleTask: z
          .custom<TaskInput>((v) => typeof v === 'object' && v !== null, { error: 'must be an object' })
          .optional(),
      }),
    ])
    .default(false),
});

/** Duck typing: an app may hold another copy of prom-client (or its own logger class). */
function isObjectWith(value: unknown, methods: readonly string[]): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')
  );
}

/** Options with every default filled in. */
export type ResolvedRunnerOptions = z.output<typeof optionsSchema>;

/** Validates `createRunner` options; throws `ValidationError` naming the field and rule. */
export function resolveRunnerOptions(options: RunnerOptions = {}): ResolvedRunnerOptions {
  const result = optionsSchema.safeParse(options);
  if (!result.success)
    throw new ValidationError(toValidationIssues(result.error), 'runner options', { cause: result.error });
  return result.data;
}

/** Default of `cleanup.ttlSecondsAfterFinished`. */
export const defaultJobTtlSeconds = 3600;

/**
 * The `ttlSecondsAfterFinished` the runner puts on a Job whose task sets none: the option when
 * given (`null` = none), else none with `keepJobs`, else `defaultJobTtlSeconds`.
 */
export function jobTtlBackstop(cleanup: ResolvedRunnerOptions['cleanup']): number | undefined {
  const { ttlSecondsAfterFinished, keepJobs } = cleanup;
  if (ttlSecondsAfterFinished !== undefined) return ttlSecondsAfterFinished ?? undefined;
  return keepJobs ? undefined : defaultJobTtlSeconds;
}
