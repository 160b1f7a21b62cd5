import type { FieldError } from './api-error.js';
import { notSupported } from './pod-template.js';
import type { KubeObject } from './types.js';

/** What a failed pod means under a Job's `spec.podFailurePolicy` (`matchPodFailurePolicy`). */
export interface PodFailureMatch {
  /** Set when a `FailJob` rule matched: the FailureTarget/Failed condition's message. */
  failJobMessage?: string;
  /** False when an `Ignore` rule matched: the failure does not count toward backoffLimit. */
  countFailed: boolean;
}

interface ExitCodesRequirement {
  containerName?: string;
  operator?: string;
  values?: number[];
}

interface Rule {
  action?: string;
  onExitCodes?: ExitCodesRequirement;
  onPodConditions?: { type?: string; status?: string }[];
}

interface ContainerStatus {
  name: string;
  state?: { terminated?: { exitCode?: number } };
}

function rulesOf(policy: unknown): Rule[] {
  const rules = (policy as { rules?: unknown } | undefined)?.rules;
  return Array.isArray(rules) ? (rules as Rule[]) : [];
}

/** The first terminated, non-zero container (regular before init) the requirement matches. */
function matchExitCodes(pod: KubeObject, requirement: ExitCodesRequirement): ContainerStatus | undefined {
  for (const field of ['containerStatuses', 'initContainerStatuses']) {
    const statuses = (pod.status?.[field] ?? []) as ContainerStatus[];
    for (const status of statuses) {
      const exitCode = status.state?.terminated?.exitCode;
      if (exitCode === undefined || exitCode === 0) continue;
      if (requirement.containerName !== undefined && requirement.containerName !== status.name) continue;
      const listed = (requirement.values ?? []).includes(exitCode);
      if ((requirement.operator === 'In' && listed) || (requirement.operator === 'NotIn' && !listed)) return status;
    }
  }
  return undefined;
}

/**
 * Rules in order; the first that matches decides: `FailJob` fails the Job with Kubernetes'
 * message, `Ignore` keeps the failure out of backoffLimit, `Count` counts it as usual.
 * (`FailIndex` needs backoffLimitPerIndex, which the simulator does not run: it counts.)
 */
export function matchPodFailurePolicy(policy: unknown, pod: KubeObject): PodFailureMatch {
  const where = `${pod.metadata.namespace}/${pod.metadata.name}`;
  for (const [index, rule] of rulesOf(policy).entries()) {
    let failJobMessage: string | undefined;
    if (rule.onExitCodes) {
      const container = matchExitCodes(pod, rule.onExitCodes);
      if (!container) continue;
      failJobMessage = `Container ${container.name} for pod ${where} failed with exit code ${container.state?.terminated?.exitCode} matching FailJob rule at index ${index}`;
    } else if (rule.onPodConditions) {
      const conditions = (pod.status?.conditions ?? []) as { type?: string; status?: string }[];
      const condition = conditions.find((c) =>
        rule.onPodConditions?.some((p) => p.type === c.type && p.status === c.status),
      );
      if (!condition) continue;
      failJobMessage = `Pod ${where} has condition ${condition.type} matching FailJob rule at index ${index}`;
    } else continue;
    if (rule.action === 'Ignore') return { countFailed: false };
    if (rule.action === 'FailJob') return { failJobMessage, countFailed: true };
    if (rule.action === 'Count' || rule.action === 'FailIndex') return { countFailed: true };
  }
  return { countFailed: true };
}

/** `validatePodFailurePolicy`, with its messages. */
export function validatePodFailurePolicy(
  policy: unknown,
  containerNames: string[],
  hasBackoffLimitPerIndex: boolean,
): FieldError[] {
  const errors: FieldError[] = [];
  const path = 'spec.podFailurePolicy.rules';
  const rules = rulesOf(policy);
  const actions = ['Count', 'FailIndex', 'FailJob', 'Ignore'];
  rules.forEach((rule, i) => {
    const at = `${path}[${i}]`;
    if (!rule.action)
      errors.push({
        field: `${at}.action`,
        type: 'FieldValueRequired',
        detail: `valid values: ${JSON.stringify(actions).replaceAll(',', ' ')}`,
      });
    else if (rule.action === 'FailIndex' && !hasBackoffLimitPerIndex)
      errors.push({
        field: `${at}.action`,
        type: 'FieldValueInvalid',
        value: rule.action,
        detail: 'requires the backoffLimitPerIndex to be set',
      });
    else if (!actions.includes(rule.action)) errors.push(notSupported(`${at}.action`, rule.action, actions));
    const onExitCodes = rule.onExitCodes;
    if (onExitCodes) {
      const requirement = `${at}.onExitCodes`;
      if (!onExitCodes.operator)
        errors.push({
          field: `${requirement}.operator`,
          type: 'FieldValueRequired',
          detail: 'valid values: ["In" "NotIn"]',
        });
      else if (!['In', 'NotIn'].includes(onExitCodes.operator))
        errors.push(notSupported(`${requirement}.operator`, onExitCodes.operator, ['In', 'NotIn']));
      if (onExitCodes.containerName !== undefined && !containerNames.includes(onExitCodes.containerName)) {
        errors.push({
          field: `${requirement}.containerName`,
          type: 'FieldValueInvalid',
          value: onExitCodes.containerName,
          detail: 'must be one of the container or initContainer names in the pod template',
        });
      }
      const values = onExitCodes.values ?? [];
      if (values.length === 0)
        errors.push({
          field: `${requirement}.values`,
          type: 'FieldValueInvalid',
          value: values,
          detail: 'at least one value is required',
        });
      const seen = new Set<number>();
      values.forEach((value, j) => {
        if (onExitCodes.operator === 'In' && value === 0)
          errors.push({
            field: `${requirement}.values[${j}]`,
            type: 'FieldValueInvalid',
            value,
            detail: 'must not be 0 for the In operator',
          });
        if (seen.has(value))
          errors.push({ field: `${requirement}.values[${j}]`, type: 'FieldValueDuplicate', value, detail: '' });
        seen.add(value);
      });
      if (values.some((v, j) => j > 0 && (values[j - 1] ?? 0) > v))
        errors.push({
          field: `${requirement}.values`,
          type: 'FieldValueInvalid',
          value: values,
          detail: 'must be ordered',
        });
    }
    const hasConditions = (rule.onPodConditions?.length ?? 0) > 0;
    if (onExitCodes && hasConditions)
      errors.push({
        field: at,
        type: 'FieldValueInvalid',
        detail: 'specifying both OnExitCodes and OnPodConditions is not supported',
      });
    if (!onExitCodes && !hasConditions)
      errors.push({
        field: at,
        type: 'FieldValueInvalid',
        detail: 'specifying one of OnExitCodes and OnPodConditions is required',
      });
  });
  return errors;
}
