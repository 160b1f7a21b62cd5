import { AuthorizationV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { KubernetesApiError } from '../errors.js';
import { buildJobManifest, type JobManifestInput } from './job-manifest.js';
import { kubeCall, withSignal, type KubeCallPolicy } from './kube-call.js';
import { createKubeClient } from './kube-client.js';
import { RateLimiter } from './rate-limiter.js';
import type { RetryPolicy } from './retry.js';

/*
 * The calls of the runner's preflight: SelfSubjectAccessReviews, a read of the namespace and a
 * server-side dry-run create of a Job. Kept here so that client-node stays inside src/kube/.
 */

/** One permission to ask about, as `authorization.k8s.io/v1` ResourceAttributes. */
export interface AccessQuery {
  verb: string;
  /** `''` for the core group. */
  group: string;
  resource: string;
  subresource?: string;
  /** Only this object (a Role's `resourceNames`). */
  name?: string;
  /** The namespace the permission is needed in. */
  namespace: string;
}

/** The authorizer's answer to one {@link AccessQuery}. */
export interface AccessDecision {
  allowed: boolean;
  /** Why, when the authorizer says (RBAC gives none for a refusal). */
  reason?: string;
  /** The authorizer could not decide (a webhook down, an RBAC object unreadable). */
  evaluationError?: string;
}

/** The answer to a dry-run create: admitted (with the apiserver's warnings) or refused. */
export type DryRunOutcome = { admitted: true; warnings: string[] } | { admitted: false; error: KubernetesApiError };

export interface PreflightApi {
  /** The namespace the runner's Jobs go to (resolved as the adapter resolves it). */
  readonly namespace: string;
  /** One SelfSubjectAccessReview. */
  reviewAccess(query: AccessQuery, signal?: AbortSignal): Promise<AccessDecision>;
  /** GET of the namespace: true, false on 404; any other failure (a 403 included) is thrown. */
  namespaceExists(signal?: AbortSignal): Promise<boolean>;
  /**
   * `POST …/jobs?dryRun=All` of the Job `buildJobManifest` makes from `input`: validation and
   * every admission plugin run, nothing is stored. A 4xx is the outcome, not an exception;
   * transient failures are retried and then thrown.
   */
  dryRunCreateJob(input: Omit<JobManifestInput, 'namespace'>, signal?: AbortSignal): Promise<DryRunOutcome>;
  /**
   * `POST …/pods?dryRun=All` of a pod as the Job controller makes it from that Job's template
   * (`generateName` `<job>-`, the `job-name` labels): the pod-level admission a Job create never
   * meets (LimitRange, Pod Security enforce, compute quota). Needs `create pods`, which the runner
   * itself does not.
   */
  dryRunCreatePod(input: Omit<JobManifestInput, 'namespace'>, signal?: AbortSignal): Promise<DryRunOutcome>;
}

/** The pod the Job controller would create for `input`'s Job (no owner: a dry-run Job has no uid). */
export function podOfJob(input: JobManifestInput): V1Pod {
  const template = buildJobManifest(input).spec?.template ?? {};
  const jobLabels = { 'batch.kubernetes.io/job-name': input.jobName, 'job-name': input.jobName };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...template.metadata,
      generateName: `${input.jobName}-`,
      namespace: input.namespace,
      labels: { ...template.metadata?.labels, ...jobLabels },
    },
    spec: template.spec ?? { containers: [] },
  };
}

/** A 4xx answer is the outcome of a dry run; transient failures (retried already) and the rest are thrown. */
function refusal(err: unknown): DryRunOutcome {
  if (err instanceof KubernetesApiError && !err.transient && err.statusCode >= 400 && err.statusCode < 500)
    return { admitted: false, error: err };
  throw err;
}

export interface PreflightApiOptions {
  kubeConfig: KubeConfig;
  /** `''` = the kubeconfig context's namespace, else the pod's own, else `default`. */
  namespace: string;
  retry?: RetryPolicy;
  /** @default 30000 */
  requestTimeoutMs?: number;
}

/** A `Warning` header (`299 - "text", 299 - "other"`) as its texts, unescaped. */
export function parseWarningHeader(header: string | undefined): string[] {
  if (!header) return [];
  const texts: string[] = [];
  for (const match of header.matchAll(/\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g))
    texts.push((match[1] ?? '').replace(/\\(.)/g, '$1'));
  return texts;
}

/**
 * The preflight's calls over a client of their own (a handful of requests, once: they get their
 * own rate limiter rather than a share of the runner's), with the runner's retry policy.
 *
 * @example
 * ```ts
 * const api = createPreflightApi({ kubeConfig, namespace: 'default' });
 * const query = { verb: 'create', group: 'batch', resource: 'jobs', namespace: api.namespace };
 * const { allowed } = await api.reviewAccess(query);
 * ```
 */
export function createPreflightApi(options: PreflightApiOptions): PreflightApi {
  const client = createKubeClient(options.kubeConfig, options.namespace);
  const { namespace, batch, core } = client;
  const authorization = client.kubeConfig.makeApiClient(AuthorizationV1Api);
  const policy: KubeCallPolicy = {
    limiter: new RateLimiter(),
    retry: options.retry,
    requestTimeoutMs: options.requestTimeoutMs,
  };

  return {
    namespace,

    async reviewAccess(query, signal) {
      const resourceAttributes = {
        namespace: query.namespace,
        verb: query.verb,
        group: query.group,
        resource: query.resource,
        ...(query.subresource ? { subresource: query.subresource } : {}),
        ...(query.name ? { name: query.name } : {}),
      };
      const review = await kubeCall(
        policy,
        'create',
        'selfsubjectaccessreviews',
        (s) =>
          authorization.createSelfSubjectAccessReview(
            {
              body: {
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SelfSubjectAccessReview',
                spec: { resourceAttributes },
              },
            },
            withSignal(s),
          ),
        signal,
      );
      const status = review.status;
      return {
        allowed: status?.allowed === true,
        ...(status?.reason ? { reason: status.reason } : {}),
        ...(status?.evaluationError ? { evaluationError: status.evaluationError } : {}),
      };
    },

    async namespaceExists(signal) {
      try {
        await kubeCall(
          policy,
          'get',
          `namespaces/${namespace}`,
          (s) => core.readNamespace({ name: namespace }, withSignal(s)),
          signal,
        );
        return true;
      } catch (err) {
        if (err instanceof KubernetesApiError && err.statusCode === 404) return false;
        throw err;
      }
    },

    async dryRunCreateJob(input, signal) {
      const body = buildJobManifest({ ...input, namespace });
      try {
        const answer = await kubeCall(
          policy,
          'create',
          `jobs/${input.jobName}`,
          (s) => batch.createNamespacedJobWithHttpInfo({ namespace, body, dryRun: 'All' }, withSignal(s)),
          signal,
        );
        const headers = answer.headers as Record<string, string | undefined>;
        return { admitted: true, warnings: parseWarningHeader(headers['warning'] ?? headers['Warning']) };
      } catch (err) {
        return refusal(err);
      }
    },

    async dryRunCreatePod(input, signal) {
      const body = podOfJob({ ...input, namespace });
      try {
        const answer = await kubeCall(
          policy,
          'create',
          'pods',
          (s) => core.createNamespacedPodWithHttpInfo({ namespace, body, dryRun: 'All' }, withSignal(s)),
          signal,
        );
        const headers = answer.headers as Record<string, string | undefined>;
        return { admitted: true, warnings: parseWarningHeader(headers['warning'] ?? headers['Warning']) };
      } catch (err) {
        return refusal(err);
      }
    },
  };
}
