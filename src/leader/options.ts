import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ValidationError, type ValidationIssue } from '../errors.js';

/**
 * client-go's `JitterFactor`: the acquire loop waits `retryPeriod × (1 + random × 1.2)` between
 * tries, so `renewDeadline` must exceed `retryPeriod × 1.2` for a renewal to get a second try.
 */
export const jitterFactor = 1.2;

/** How a replica takes part in leader election over a `coordination.k8s.io/v1` Lease. */
export interface LeaderElectionOptions {
  /** The Lease's name (a DNS subdomain); every replica of one application uses the same. */
  leaseName: string;
  /** The Lease's namespace. Left out, the runner's namespace (resolved by the caller). */
  namespace?: string;
  /**
   * This replica's identity, written as the Lease's `holderIdentity`. Unique per process: a
   * restarted process with the old identity would renew as the holder it no longer is.
   * @default `${hostname}_${8 random hex characters}`
   */
  identity?: string;
  /**
   * How long a Lease stays valid after a candidate last saw it change (whole seconds: the
   * Lease's `leaseDurationSeconds` is an integer). Followers wait this long before taking over
   * a silent leader. @default 15
   */
  leaseDurationSeconds?: number;
  /**
   * A leader that has not renewed for this long stops leading at once (emits `lost`). Must be
   * below `leaseDurationSeconds`, so that happens before any follower can acquire. @default 10
   */
  renewDeadlineSeconds?: number;
  /** How often the leader renews and a follower retries (the latter with jitter). @default 2 */
  retryPeriodSeconds?: number;
}

/** Validated options, durations in ms. */
export interface LeaderElectionConfig {
  leaseName: string;
  namespace: string | undefined;
  identity: string;
  /** A whole number of seconds, as written into the Lease. */
  leaseDurationSeconds: number;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** `hostname_` and 8 random hex characters: unique per process, readable in `kubectl get leases`. */
export function defaultIdentity(): string {
  return `${hostname()}_${randomBytes(4).toString('hex')}`;
}

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Applies the defaults (15 s / 10 s / 2 s, client-go's and kube-controller-manager's) and checks
 * what `NewLeaderElector` checks: `leaseDuration > renewDeadline > retryPeriod × 1.2`, all
 * positive, a non-empty identity. Every broken rule is named in one `ValidationError`.
 */
export function resolveLeaderElectionOptions(options: LeaderElectionOptions): LeaderElectionConfig {
  const {
    leaseName,
    namespace,
    identity = defaultIdentity(),
    leaseDurationSeconds = 15,
    renewDeadlineSeconds = 10,
    retryPeriodSeconds = 2,
  } = options;
  const issues: ValidationIssue[] = [];
  if (typeof leaseName !== 'string' || leaseName.length > 253 || !dnsSubdomain.test(leaseName))
    issues.push({ field: 'leaseName', rule: 'must be a DNS subdomain (lowercase alphanumerics, "-" and ".")' });
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace === ''))
    issues.push({ field: 'namespace', rule: 'must be a non-empty string when given' });
  if (typeof identity !== 'string' || identity === '') issues.push({ field: 'identity', rule: 'must not be empty' });
  if (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds <= 0)
    issues.push({ field: 'leaseDurationSeconds', rule: 'must be a whole number of seconds greater than 0' });
  if (!Number.isFinite(renewDeadlineSeconds) || renewDeadlineSeconds <= 0)
    issues.push({ field: 'renewDeadlineSeconds', rule: 'must be greater than 0' });
  if (!Number.isFinite(retryPeriodSeconds) || retryPeriodSeconds <= 0)
    issues.push({ field: 'retryPeriodSeconds', rule: 'must be greater than 0' });
  if (issues.length === 0) {
    if (leaseDurationSeconds <= renewDeadlineSeconds)
      issues.push({ field: 'leaseDurationSeconds', rule: 'must be greater than renewDeadlineSeconds' });
    if (renewDeadlineSeconds <= retryPeriodSeconds * jitterFactor)
      issues.push({
        field: 'renewDeadlineSeconds',
        rule: `must be greater than retryPeriodSeconds × ${jitterFactor} (${retryPeriodSeconds * jitterFactor})`,
      });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'leader election options');
  return {
    leaseName,
    namespace,
    identity,
    leaseDurationSeconds,
    leaseDurationMs: leaseDurationSeconds * 1000,
    renewDeadlineMs: renewDeadlineSeconds * 1000,
    retryPeriodMs: retryPeriodSeconds * 1000,
  };
}
