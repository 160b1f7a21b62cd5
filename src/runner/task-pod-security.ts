import { buildJobManifest } from '../kube/job-manifest.js';
import { jobNameFor } from '../jobs/job-name.js';
import type { TaskSpec } from '../types.js';
import { assertPodSecurity, type PodSecurityLevel } from '../validation/pod-security.js';

/**
 * `addTask`'s Pod Security gate: the pod template the task's Job would carry (the generated one
 * with the task's `podTemplate` merged in, exactly as it would be sent) checked against the
 * runner's `podSecurity` level. Throws `ValidationError`; nothing has been stored or sent yet.
 */
export function checkTaskPodSecurity(spec: TaskSpec, namespace: string, level: PodSecurityLevel): void {
  if (level === 'privileged') return;
  // The fingerprint only goes into an annotation, which no check reads.
  const job = buildJobManifest({ taskId: spec.id, jobName: jobNameFor(spec.id), namespace, spec, fingerprint: '' });
  assertPodSecurity(job.spec?.template ?? {}, level);
}
