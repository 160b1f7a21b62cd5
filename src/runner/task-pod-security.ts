import { buildJobManifest } from '../kube/job-manifest.js';
import { jobNameFor } from '../jobs/job-name.js';
import type { TaskSpec } from '../types.js';
import {
  checkPodSecurity,
  throwPodSecurityViolations,
  type PodSecurityLevel,
  type PodSecurityViolation,
} from '../validation/pod-security.js';

/** What a spec without `podTemplate` and `annotations` violates, per level (see {@link checkTaskPodSecurity}). */
const plainSpecViolations = new Map<PodSecurityLevel, readonly PodSecurityViolation[]>();

/**
 * `addTask`'s Pod Security gate: the pod template the task's Job would carry (the generated one
 * with the task's `podTemplate` merged in, exactly as it would be sent) checked against the
 * runner's `podSecurity` level. Throws `ValidationError`; nothing has been stored or sent yet.
 *
 * A spec with neither `podTemplate` nor `annotations` gets the verdict of the first such spec
 * checked at that level, kept: the checks read security contexts, host namespaces, ports, volumes,
 * sysctls and the pod's annotations, and in the generated template only those two fields can set
 * any of them (its one container, `task`, has no security context, ports or volumes). Building and
 * checking the template for every such task was a tenth of an `addTask`'s CPU and a fifth of what
 * it allocated. A test compares the kept verdict with a full check over specs that vary every
 * other field.
 */
export function checkTaskPodSecurity(spec: TaskSpec, namespace: string, level: PodSecurityLevel): void {
  if (level === 'privileged') return;
  const plain = spec.podTemplate === undefined && spec.annotations === undefined;
  let violations = plain ? plainSpecViolations.get(level) : undefined;
  if (violations === undefined) {
    // The fingerprint only goes into an annotation, which no check reads.
    const job = buildJobManifest({ taskId: spec.id, jobName: jobNameFor(spec.id), namespace, spec, fingerprint: '' });
    violations = checkPodSecurity(job.spec?.template ?? {}, { level });
    if (plain) plainSpecViolations.set(level, violations);
  }
  throwPodSecurityViolations(violations, level);
}
