import {
  checkPodSecurity,
  formatPodSecurityViolations,
  isPodSecurityVersion,
  podSecurityLevels,
  podSecurityPolicyName,
  type PodLike,
  type PodSecurityLevel,
  type PodSecurityPolicy,
} from '../validation/pod-security.js';
import type { SimContext } from './context.js';
import { enforceLevelLabel, enforceVersionLabel, enforcedPolicy } from './pod-security-admission.js';
import type { KubeObject } from './types.js';

/*
 * The PodSecurity admission plugin's warn mode on workloads (kubernetes/pod-security-admission
 * `admission.go` `ValidatePodController`): a Job's pod template is never refused, only checked
 * against the namespace's warn level, and a violation comes back as a `Warning` header on the
 * (dry-run or real) create — its pods are the ones enforce refuses later. Without a warn label,
 * warn copies enforce when enforce is stricter (`PolicyToEvaluate`), so an enforce label alone
 * warns too. Audit mode is not simulated.
 */

const warnLevelLabel = 'pod-security.kubernetes.io/warn';
const warnVersionLabel = 'pod-security.kubernetes.io/warn-version';

const rank = (level: PodSecurityLevel): number => podSecurityLevels.indexOf(level);
const isLevel = (value: string): value is PodSecurityLevel => (podSecurityLevels as readonly string[]).includes(value);

/**
 * The warn policy of a namespace: its warn label (a bad level is `privileged`, a bad version
 * `latest`); absent, the enforce policy when that is stricter than privileged, with the warn
 * version if one is set.
 */
export function warnPolicy(labels: Record<string, string> | undefined): PodSecurityPolicy {
  const level = labels?.[warnLevelLabel];
  const rawVersion = labels?.[warnVersionLabel];
  const version = rawVersion !== undefined && isPodSecurityVersion(rawVersion) ? rawVersion : undefined;
  if (level !== undefined) return { level: isLevel(level) ? level : 'privileged', version: version ?? 'latest' };
  const enforce = enforcedPolicy(labels);
  if (labels?.[enforceLevelLabel] === undefined || rank(enforce.level) === 0) return { level: 'privileged' };
  const enforceVersion = labels[enforceVersionLabel] !== undefined ? enforce.version : undefined;
  return { level: enforce.level, version: version ?? enforceVersion ?? 'latest' };
}

/**
 * The warnings a Job create gets in `namespace` (`would violate PodSecurity "restricted:latest": …`),
 * none for other resources or a template that meets the warn level.
 */
export function podSecurityWarnings(ctx: SimContext, resource: string, obj: KubeObject): string[] {
  if (resource !== 'jobs' || obj.metadata.namespace === undefined) return [];
  const labels = ctx.store.read('namespaces', undefined, obj.metadata.namespace)?.metadata.labels;
  const policy = warnPolicy(labels);
  const template = (obj.spec as { template?: PodLike } | undefined)?.template ?? {};
  const violations = checkPodSecurity(template, policy);
  if (violations.length === 0) return [];
  return [`would violate PodSecurity "${podSecurityPolicyName(policy)}": ${formatPodSecurityViolations(violations)}`];
}
