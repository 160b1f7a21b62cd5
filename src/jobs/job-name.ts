import { createHash } from 'node:crypto';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const maxLength = 63;
const hashLength = 8;

function shortHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex').slice(0, hashLength);
}

/**
 * The Job name of a task: the id itself when it already is a DNS-1123 label (≤ 63 characters),
 * else the id sanitized (lowercase, runs of other characters as `-`, cut to fit) plus `-` and
 * 8 hex digits of sha256(id). Deterministic, so a restarted runner finds the same Job; the hash
 * keeps ids that sanitize alike (`A_b`, `a.b`, `a-B`) apart.
 *
 * (63, not 253: the Job controller copies the name into the `batch.kubernetes.io/job-name`
 * label of its pods, and label values stop at 63.)
 *
 * @example
 * ```ts
 * jobNameFor('nightly-report'); // 'nightly-report'
 * jobNameFor('Nightly_Report'); // 'nightly-report-<8 hex>'
 * ```
 */
export function jobNameFor(taskId: string): string {
  if (taskId.length <= maxLength && dns1123Label.test(taskId)) return taskId;
  const sanitized = taskId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, maxLength - hashLength - 1)
    .replace(/^-+|-+$/g, '');
  return `${sanitized || 'task'}-${shortHash(taskId)}`;
}

/**
 * The value of the `k8s-jobs.io/task-id` label: the id when it is a valid label value, else the
 * Job name (itself a valid label value, unique per id). The full id is always in the annotation.
 */
export function taskIdLabelValue(taskId: string): string {
  return taskId.length <= maxLength && labelValue.test(taskId) ? taskId : jobNameFor(taskId);
}

/**
 * The Job name of a task's `attempt` (a retry with a new Job: after `OOMKilled`, a pull error, a
 * disruption the cluster did not absorb): the first attempt's name as is, later ones that name cut
 * to fit, `-a<attempt>-` and 8 hex digits of sha256(id, attempt), so it cannot be another task's
 * plain name by accident. Deterministic: a restarted runner finds the attempt's Job.
 */
export function attemptJobName(taskId: string, attempt: number): string {
  const base = jobNameFor(taskId);
  if (attempt <= 1) return base;
  const suffix = `-a${attempt}-${shortHash(`${taskId}\u0000${attempt}`)}`;
  return `${base.slice(0, maxLength - suffix.length).replace(/-+$/, '')}${suffix}`;
}
