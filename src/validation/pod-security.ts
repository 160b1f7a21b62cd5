import { ValidationError } from '../errors.js';
import { checkedPod, podSecurityChecks, type PodLike, type PodSecurityCheck } from './pod-security-checks.js';

/*
 * The Pod Security Standards (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
 * as a pure function of a pod (or pod template): the runner refuses a task whose pod would break
 * them, and the simulated cluster's Pod Security Admission refuses such pods, both with the words
 * of Kubernetes' own admission plugin.
 */

export type { PodLike } from './pod-security-checks.js';

/** The three levels of the Pod Security Standards, from the most open. */
export const podSecurityLevels = ['privileged', 'baseline', 'restricted'] as const;

/** `privileged` (nothing checked), `baseline` (no known privilege escalation), `restricted` (hardened). */
export type PodSecurityLevel = (typeof podSecurityLevels)[number];

/**
 * The newest policy version whose checks are implemented: Kubernetes 1.31 (the simulated
 * cluster's version). `latest` and any newer `v1.N` evaluate these.
 */
export const newestPolicyMinor = 31;

/** A level and a version, as a namespace's `pod-security.kubernetes.io/enforce(-version)` labels give them. */
export interface PodSecurityPolicy {
  level: PodSecurityLevel;
  /** `latest` or `v1.N`. @default 'latest' */
  version?: string;
}

/** One check the pod fails, in the apiserver's words. */
export interface PodSecurityViolation {
  /** The check's id (`privileged`, `hostNamespaces`, `runAsNonRoot`...). */
  check: string;
  /** The apiserver's forbidden reason (`privileged`, `host namespaces`, `runAsNonRoot != true`). */
  reason: string;
  /** The apiserver's detail (`container "main" must not set securityContext.privileged=true`). */
  detail: string;
  /** Dotted paths of the fields at fault, relative to the pod (`spec.containers.0.securityContext.privileged`). */
  fields: string[];
}

const versionPattern = /^v1\.(0|[1-9][0-9]*)$/;

/** Whether `value` is a valid `enforce-version` label value (`latest` or `v1.N`). */
export function isPodSecurityVersion(value: string): boolean {
  return value === 'latest' || versionPattern.test(value);
}

/** The minor version whose checks apply: `latest`, a newer version or an unparsable one get the newest. */
function policyMinor(version: string | undefined): number {
  const match = versionPattern.exec(version ?? 'latest');
  return match ? Math.min(Number(match[1]), newestPolicyMinor) : newestPolicyMinor;
}

/**
 * The checks `pod` fails at `policy`'s level and version, in the order the apiserver lists them
 * (baseline checks by id, then restricted ones); `[]` when it passes, and always at `privileged`.
 * `restricted` runs every baseline check except those it replaces with a stricter one
 * (`capabilities_baseline`, `hostPathVolumes`, `seccompProfile_baseline`).
 */
export function checkPodSecurity(pod: PodLike, policy: PodSecurityPolicy): PodSecurityViolation[] {
  if (policy.level === 'privileged') return [];
  const minor = policyMinor(policy.version);
  const checks = checksAt(policy.level, minor);
  const checked = checkedPod(pod);
  return checks.flatMap((c) => {
    const failure = c.run(checked, minor);
    return failure ? [{ check: c.id, ...failure }] : [];
  });
}

/** The checks of a level and minor version, in the apiserver's order; a few combinations, kept. */
const checksByPolicy = new Map<string, readonly PodSecurityCheck[]>();

function checksAt(level: 'baseline' | 'restricted', minor: number): readonly PodSecurityCheck[] {
  const key = `${level}:${minor}`;
  const known = checksByPolicy.get(key);
  if (known) return known;
  const applies = podSecurityChecks.filter(
    (c) => c.sinceMinor <= minor && (c.level === 'baseline' || level === 'restricted'),
  );
  const overridden = new Set(
    level === 'restricted' ? applies.flatMap((c) => (c.level === 'restricted' ? (c.overrides ?? []) : [])) : [],
  );
  const checks = applies.filter((c) => !overridden.has(c.id));
  checksByPolicy.set(key, checks);
  return checks;
}

/** `reason (detail), reason (detail)`: the failures as the apiserver joins them. */
export function formatPodSecurityViolations(violations: readonly PodSecurityViolation[]): string {
  return violations.map((v) => (v.detail ? `${v.reason} (${v.detail})` : v.reason)).join(', ');
}

/** `baseline:latest`, `restricted:v1.29`: how the apiserver names the policy a pod violates. */
export function podSecurityPolicyName(policy: PodSecurityPolicy): string {
  return `${policy.level}:${policy.version ?? 'latest'}`;
}

/**
 * Throws a `ValidationError` when a task's pod template breaks the Pod Security Standards at
 * `level`: one issue per failed check, its field the first offending path under `podTemplate`
 * (where a task sets it: the template is the generated one merge-patched with `podTemplate`),
 * its rule the apiserver's words. Nothing at `privileged`.
 */
export function assertPodSecurity(template: PodLike, level: PodSecurityLevel): void {
  throwPodSecurityViolations(checkPodSecurity(template, { level }), level);
}

/**
 * Throws the `ValidationError` {@link assertPodSecurity} throws for `violations` (found at
 * `level`); nothing when there are none.
 */
export function throwPodSecurityViolations(violations: readonly PodSecurityViolation[], level: PodSecurityLevel): void {
  if (violations.length === 0) return;
  const policy = podSecurityPolicyName({ level });
  throw new ValidationError(
    violations.map((v) => ({
      field: `podTemplate.${v.fields[0] ?? 'spec'}`,
      rule: `violates PodSecurity "${policy}": ${formatPodSecurityViolations([v])}`,
    })),
    'task',
  );
}
