import { KubernetesApiError, messageOf, PreflightError, type PreflightProblem } from '../errors.js';
import { fingerprintSpec } from '../jobs/fingerprint.js';
import { jobNameFor } from '../jobs/job-name.js';
import type { DryRunOutcome, PreflightApi } from '../kube/preflight-api.js';
import { parseTaskSpec } from '../validation/parse.js';
import type { TaskInput } from '../validation/task-spec.js';
import { describeAccess, requiredAccess, type LeaseTarget, type RequiredAccess } from './preflight-access.js';

/** One check of a preflight. */
export interface PreflightCheck {
  /** `access: create jobs.batch`, `namespace`, `dry-run job`, `dry-run pod`. */
  check: string;
  /** Whether the check passed (or, saying so in `detail`, could not run and is no problem). */
  ok: boolean;
  /** What is wrong, when `ok` is false. */
  problem?: string;
  /** What was found or done (the authorizer's reason, the apiserver's warnings, how the namespace was verified). */
  detail?: string;
}

/** What `runner.preflight()` found: every check, and the problems among them. */
export interface PreflightReport {
  /** True when no check found a problem. */
  ok: boolean;
  /** The namespace of the runner's Jobs. */
  namespace: string;
  /** Every check, in order: the access reviews, the namespace, the Job dry run, the pod dry run. */
  checks: PreflightCheck[];
  /** The checks that failed, as `PreflightError` lists them. */
  problems: PreflightProblem[];
}

/** The sample task of a preflight when none is given: what the smallest task would be. */
export const defaultPreflightTask: TaskInput = { id: 'k8s-jobs-preflight', image: 'busybox', command: ['true'] };

/** What a preflight needs from the runner. */
export interface PreflightInput {
  api: PreflightApi;
  /** The Lease of leader election, when it is on. */
  lease?: LeaseTarget;
  /** The runner's `ttlSecondsAfterFinished` backstop, as its Jobs carry it. */
  defaultTtlSecondsAfterFinished?: number;
}

/** The apiserver's PodSecurity warning on a workload: its pods will be refused under an enforce label at that level. */
const podSecurityWarning = /would violate PodSecurity/;

async function accessCheck(api: PreflightApi, access: RequiredAccess, signal?: AbortSignal): Promise<PreflightCheck> {
  const check = `access: ${describeAccess(access)}`;
  try {
    const decision = await api.reviewAccess(access, signal);
    if (decision.allowed) return { check, ok: true, ...(decision.reason ? { detail: decision.reason } : {}) };
    const why = decision.evaluationError ? ` (the authorizer said: ${decision.evaluationError})` : '';
    return {
      check,
      ok: false,
      problem: `not allowed to ${describeAccess(access)} in namespace "${access.namespace}", needed for ${access.why}${why}`,
      ...(decision.reason ? { detail: decision.reason } : {}),
    };
  } catch (err) {
    if (signal?.aborted) throw err;
    return { check, ok: false, problem: `could not ask the API server (SelfSubjectAccessReview): ${messageOf(err)}` };
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/**
 * The namespace: a GET answers it. The runner's Role need not grant `get namespaces` (deploy/rbac.yaml
 * does not): on a 403 the dry-run create answers instead, as a create in a missing namespace is a 404.
 */
function namespaceCheck(namespace: string, read: Settled<boolean>, dryRun: Settled<DryRunOutcome>): PreflightCheck {
  const check = 'namespace';
  const missing = { check, ok: false, problem: `namespace "${namespace}" does not exist` };
  if (read.ok) return read.value ? { check, ok: true, detail: `namespace "${namespace}" exists` } : missing;
  if (!(read.error instanceof KubernetesApiError && read.error.statusCode === 403))
    return { check, ok: false, problem: `could not read namespace "${namespace}": ${messageOf(read.error)}` };
  const fallback = 'not allowed to get namespaces (the Role need not grant it)';
  if (dryRun.ok && dryRun.value.admitted)
    return { check, ok: true, detail: `${fallback}; the dry-run create found namespace "${namespace}"` };
  if (dryRun.ok && !dryRun.value.admitted && dryRun.value.error.statusCode === 404) return missing;
  return { check, ok: true, detail: `${fallback}, and the dry-run create could not tell: not verified` };
}

/** The API server's refusal, in its own words. */
const refusalText = (error: KubernetesApiError): string =>
  `${error.statusCode} ${error.reason ?? ''}: ${error.apiMessage}`.replace(' :', ':');

/**
 * The Job's dry run. A PodSecurity warning on it says its pods would break the namespace's
 * warn level (enforce's, when only enforce is set): a problem when the pod dry run could not run
 * to say whether enforce refuses them, else only a detail.
 */
function jobDryRunCheck(jobName: string, dryRun: Settled<DryRunOutcome>, podChecked: boolean): PreflightCheck {
  const check = 'dry-run job';
  if (!dryRun.ok)
    return { check, ok: false, problem: `could not dry-run create Job "${jobName}": ${messageOf(dryRun.error)}` };
  const outcome = dryRun.value;
  if (!outcome.admitted) {
    // A 409: a Job of that name exists, so admission ran and passed before the storage refused it.
    if (outcome.error.statusCode === 409)
      return { check, ok: true, detail: `admitted; Job "${jobName}" already exists (${outcome.error.apiMessage})` };
    return { check, ok: false, problem: `the API server refused the sample Job: ${refusalText(outcome.error)}` };
  }
  const podSecurity = outcome.warnings.filter((w) => podSecurityWarning.test(w));
  const detail = outcome.warnings.length > 0 ? `admitted, with warnings: ${outcome.warnings.join('; ')}` : 'admitted';
  if (podSecurity.length > 0 && !podChecked)
    return { check, ok: false, problem: `the sample Job's pods would be refused: ${podSecurity.join('; ')}`, detail };
  return { check, ok: true, detail };
}

/** The pod dry run: run only when the user may create pods (the runner need not). */
type PodDryRun = { ran: true; outcome: Settled<DryRunOutcome> } | { ran: false; why: string };

function podDryRunCheck(pod: PodDryRun): PreflightCheck {
  const check = 'dry-run pod';
  const unchecked = "the pods' own admission (LimitRange, Pod Security enforce, compute quota) is not checked";
  if (!pod.ran) return { check, ok: true, detail: `skipped: ${pod.why}; ${unchecked}` };
  if (!pod.outcome.ok)
    return { check, ok: false, problem: `could not dry-run create a pod: ${messageOf(pod.outcome.error)}` };
  const outcome = pod.outcome.value;
  if (outcome.admitted)
    return {
      check,
      ok: true,
      detail: outcome.warnings.length > 0 ? `admitted, with warnings: ${outcome.warnings.join('; ')}` : 'admitted',
    };
  // The namespace's absence is the namespace check's problem.
  if (outcome.error.statusCode === 404) return { check, ok: true, detail: `skipped: ${outcome.error.apiMessage}` };
  return {
    check,
    ok: false,
    problem: `the API server would refuse the sample Job's pods: ${refusalText(outcome.error)}`,
  };
}

async function podDryRun(
  api: PreflightApi,
  manifest: Parameters<PreflightApi['dryRunCreatePod']>[0],
  signal?: AbortSignal,
): Promise<PodDryRun> {
  const access = { verb: 'create', group: '', resource: 'pods', namespace: api.namespace };
  const decision = await settle(api.reviewAccess(access, signal));
  if (!decision.ok)
    return { ran: false, why: `could not ask whether pods may be created: ${messageOf(decision.error)}` };
  if (!decision.value.allowed) return { ran: false, why: 'not allowed to create pods (the runner does not need to)' };
  return { ran: true, outcome: await settle(api.dryRunCreatePod(manifest, signal)) };
}

/**
 * Checks that the cluster will take the runner's work before any task is sent: a
 * SelfSubjectAccessReview for every permission the runner uses (`requiredAccess`), that the
 * namespace exists, a server-side dry-run create of the Job the runner would make for
 * `sampleTask` (validation, ResourceQuota's count of Jobs, every admission plugin on Jobs; Pod
 * Security's warning on its template), and, when the user may create pods, a dry-run create of
 * the pod the Job controller would make from it (LimitRange, Pod Security enforce, compute
 * quota: the admission a Job never meets itself). Nothing is stored. Every check runs, whatever
 * the others found. Throws only for a `sampleTask` that is not a valid task (`ValidationError`)
 * or on abort; problems are in the report.
 */
export async function runPreflight(
  input: PreflightInput,
  sampleTask: TaskInput = defaultPreflightTask,
  signal?: AbortSignal,
): Promise<PreflightReport> {
  const { api } = input;
  const spec = parseTaskSpec(sampleTask);
  const jobName = jobNameFor(spec.id);
  const manifest = {
    taskId: spec.id,
    jobName,
    spec,
    fingerprint: fingerprintSpec(spec),
    defaultTtlSecondsAfterFinished: input.defaultTtlSecondsAfterFinished,
  };
  const [access, read, jobDryRun, pod] = await Promise.all([
    Promise.all(requiredAccess(api.namespace, input.lease).map((a) => accessCheck(api, a, signal))),
    settle(api.namespaceExists(signal)),
    settle(api.dryRunCreateJob(manifest, signal)),
    podDryRun(api, manifest, signal),
  ]);
  signal?.throwIfAborted();
  const checks = [
    ...access,
    namespaceCheck(api.namespace, read, jobDryRun),
    jobDryRunCheck(jobName, jobDryRun, pod.ran),
    podDryRunCheck(pod),
  ];
  const problems = checks.flatMap((c) => (c.ok ? [] : [{ check: c.check, problem: c.problem ?? 'failed' }]));
  return { ok: problems.length === 0, namespace: api.namespace, checks, problems };
}

/** Throws `PreflightError` listing every problem of `report`, if it has any. */
export function assertPreflight(report: PreflightReport): void {
  if (!report.ok) throw new PreflightError(report.namespace, report.problems);
}
