import type { KubeConfig } from '@kubernetes/client-node';
import type Keyv from 'keyv';
import type { InspectionEvent, Observer } from 'xstate';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { StuckPolicy } from '../machines/task/contract.js';
import { toValidationIssues } from '../validation/parse.js';

/** Options of `createRunner`. Every field is optional; defaults are what a cluster user expects. */
export interface RunnerOptions {
  /** Namespace of the Jobs. `''` = the kubeconfig context's namespace, or the pod's own in-cluster. @default '' */
  namespace?: string;
  /** Tasks active at once (from `creating` until their Job finished or was deleted). @default 5 */
  maxConcurrentJobs?: number;
  /** Queued (not yet active) tasks; `addTask` rejects with `QueueFullError` past it. @default 100 */
  queueSize?: number;
  /** `sqlite://<path>`, `memory://`, or any Keyv instance. @default 'sqlite://./k8s-jobs.sqlite' */
  store?: string | Keyv;
  /** @default a KubeConfig loaded with `loadFromDefault()` */
  kubeConfig?: KubeConfig;
  /** An XState inspection observer (e.g. `@statelyai/inspect`'s `inspector.inspect`), attached to every actor. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  cleanup?: {
    /** @default 'Background' */
    propagationPolicy?: 'Background' | 'Foreground';
    /** Leave finished Jobs in the cluster (Kubernetes' ttlSecondsAfterFinished may still remove them). @default false */
    keepJobs?: boolean;
  };
  logs?: {
    /** Cap of a stored log snapshot (head + marker + tail). @default 1048576 */
    maxBytes?: number;
    /** Interval of log snapshots while a task runs. @default 30000 */
    snapshotIntervalMs?: number;
  };
  /** When stuck pods fail a task. */
  stuck?: Partial<StuckPolicy>;
  /** The client-side timer fires this long after `startTime + timeout`. @default 2000 */
  clientTimeoutGraceMs?: number;
  /** Client-side rate limit of Kubernetes API calls. @default { qps: 20, burst: 30 } */
  rateLimit?: { qps?: number; burst?: number };
  /** Retries of transient API errors. @default { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 30000 } */
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
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
   * What happens to a running task whose Job vanished (deleted by someone else, while the runner
   * ran or while none did). `'fail'`: outcome `failed`, reason `JobVanished`. `'retry'`: the Job
   * is re-created once (same name, same spec); if that one vanishes too, `failed` / `JobVanished`.
   * @default 'fail'
   */
  jobVanished?: 'fail' | 'retry';
}

const positiveInt = (max: number) => z.number().int().min(1).max(max);
const nonNegativeMs = z.number().int().min(0).max(7 * 24 * 3600 * 1000);

const optionsSchema = z.strictObject({
  namespace: z.string().max(63).regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, { error: 'must be a DNS-1123 label (or empty for the current namespace)' }).default(''),
  maxConcurrentJobs: positiveInt(10_000).default(5),
  queueSize: positiveInt(10_000_000).default(100),
  store: z.union([z.string().regex(/^(sqlite|memory):\/\//, { error: 'must be "sqlite://<path>", "memory://" or a Keyv instance' }), z.custom<Keyv>((v) => typeof v === 'object' && v !== null && typeof (v as Keyv).set === 'function', { error: 'must be a Keyv instance' })]).default('sqlite://./k8s-jobs.sqlite'),
  kubeConfig: z.custom<KubeConfig>((v) => typeof v === 'object' && v !== null && typeof (v as KubeConfig).makeApiClient === 'function', { error: 'must be a @kubernetes/client-node KubeConfig' }).optional(),
  inspect: z.custom<RunnerOptions['inspect']>((v) => typeof v === 'function' || (typeof v === 'object' && v !== null && typeof (v as Observer<InspectionEvent>).next === 'function'), { error: 'must be an inspection observer' }).optional(),
  cleanup: z.strictObject({ propagationPolicy: z.enum(['Background', 'Foreground']).default('Background'), keepJobs: z.boolean().default(false) }).prefault({}),
  logs: z.strictObject({ maxBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024), snapshotIntervalMs: z.number().int().min(100).default(30_000) }).prefault({}),
  stuck: z.strictObject({
    pendingBudgetMs: nonNegativeMs.default(600_000),
    imagePullGraceMs: nonNegativeMs.default(300_000),
    createContainerConfigGraceMs: nonNegativeMs.default(120_000),
    crashLoopBackOffGraceMs: nonNegativeMs.default(300_000),
    unschedulableGraceMs: nonNegativeMs.optional(),
  }).prefault({}),
  clientTimeoutGraceMs: nonNegativeMs.default(2000),
  rateLimit: z.strictObject({ qps: z.number().positive().max(100_000).default(20), burst: positiveInt(100_000).default(30) }).prefault({}),
  retry: z.strictObject({ maxAttempts: positiveInt(100).default(8), baseDelayMs: nonNegativeMs.default(200), maxDelayMs: nonNegativeMs.default(30_000) }).prefault({}),
  watch: z.strictObject({ timeoutSeconds: positiveInt(3600).default(300), stallGraceMs: nonNegativeMs.default(30_000) }).prefault({}),
  orphans: z.enum(['report', 'delete', 'adopt']).default('report'),
  jobVanished: z.enum(['fail', 'retry']).default('fail'),
});

/** Options with every default filled in. */
export type ResolvedRunnerOptions = z.output<typeof optionsSchema>;

/** Validates `createRunner` options; throws `ValidationError` naming the field and rule. */
export function resolveRunnerOptions(options: RunnerOptions = {}): ResolvedRunnerOptions {
  const result = optionsSchema.safeParse(options);
  if (!result.success) throw new ValidationError(toValidationIssues(result.error), 'runner options', { cause: result.error });
  return result.data;
}
