import {
  checkPodSecurity,
  formatPodSecurityViolations,
  isPodSecurityVersion,
  podSecurityLevels,
  podSecurityPolicyName,
  type PodSecurityLevel,
  type PodSecurityPolicy,
} from '../validation/pod-security.js';
import { forbidden, type FieldError } from './api-error.js';
import type { SimContext } from './context.js';
import type { KubeObject } from './types.js';

/*
 * The PodSecurity admission plugin (kubernetes/pod-security-admission), enforce mode only: a
 * namespace's `pod-security.kubernetes.io/enforce` label (and `enforce-version`) decides the
 * Pod Security Standard its pods must meet; a pod that breaks it is refused with 403 Forbidden,
 * which the Job controller turns into `FailedCreate` events on the Job. Workloads (Jobs) are
 * never refused: only their pods are. No AdmissionConfiguration: without labels every namespace
 * is `privileged:latest`. Audit and warn modes are not simulated.
 */

const labelPrefix = 'pod-security.kubernetes.io/';
/** The namespace label that sets the enforced level. */
export const enforceLevelLabel = `${labelPrefix}enforce`;
/** The namespace label that sets the enforced level's version (`latest` or `v1.N`). */
export const enforceVersionLabel = `${labelPrefix}enforce-version`;
/** Every PodSecurity label, in the order the plugin parses them. */
const podSecurityLabels = ['enforce', 'enforce-version', 'audit', 'audit-version', 'warn', 'warn-version'].map(
  (l) => labelPrefix + l,
);

const isLevel = (value: string): value is PodSecurityLevel => (podSecurityLevels as readonly string[]).includes(value);

/**
 * `PolicyToEvaluate` for enforce: absent labels are `privileged:latest`; a bad level is
 * `restricted` and a bad version `latest` (fail closed, as the plugin does for a namespace whose
 * labels predate their validation).
 */
export function enforcedPolicy(labels: Record<string, string> | undefined): PodSecurityPolicy {
  const level = labels?.[enforceLevelLabel];
  const version = labels?.[enforceVersionLabel];
  return {
    level: level === undefined ? 'privileged' : isLevel(level) ? level : 'restricted',
    version: version !== undefined && isPodSecurityVersion(version) ? version : 'latest',
  };
}

/**
 * The plugin's check of a namespace write: every PodSecurity label must be valid, else 422. On an
 * update only when the labels' errors changed (a namespace whose bad labels predate the plugin
 * may still be updated otherwise).
 */
export function validatePodSecurityLabels(obj: KubeObject, old?: KubeObject): FieldError[] {
  const errors = labelErrors(obj.metadata.labels);
  if (errors.length === 0 || !old) return errors;
  const before = labelErrors(old.metadata.labels);
  return JSON.stringify(before) === JSON.stringify(errors) ? [] : errors;
}

function labelErrors(labels: Record<string, string> | undefined): FieldError[] {
  const errors: FieldError[] = [];
  for (const label of podSecurityLabels) {
    const value = labels?.[label];
    if (value === undefined) continue;
    const valid = label.endsWith('-version') ? isPodSecurityVersion(value) : isLevel(value);
    if (valid) continue;
    errors.push({
      field: `metadata.labels[${label}]`,
      type: 'FieldValueInvalid',
      value,
      detail: label.endsWith('-version')
        ? 'must be "latest" or "v1.x"'
        : `must be one of ${podSecurityLevels.join(', ')}`,
    });
  }
  return errors;
}

/**
 * Admission of a pod create in `namespace`: throws 403 Forbidden
 * (`pods "NAME" is forbidden: violates PodSecurity "baseline:latest": privileged (…)`) when the
 * pod breaks the namespace's enforced level. Runs after the name is generated, as validating
 * admission does, so NAME is the pod's final name; dry runs are checked too.
 */
export function admitPodSecurity(ctx: SimContext, pod: KubeObject): void {
  const namespace = pod.metadata.namespace;
  if (namespace === undefined) return;
  const labels = ctx.store.read('namespaces', undefined, namespace)?.metadata.labels;
  const policy = enforcedPolicy(labels);
  const violations = checkPodSecurity(pod, policy);
  if (violations.length === 0) return;
  const name = pod.metadata.name;
  const info = ctx.strategies.get('pods')?.info;
  throw forbidden(
    `pods "${name}" is forbidden: violates PodSecurity "${podSecurityPolicyName(policy)}": ${formatPodSecurityViolations(violations)}`,
    info,
    name,
  );
}
