import { KubernetesApiError } from '../../errors.js';
import { parseQuantity } from '../../validation/quantity.js';
import type { ClusterObservation } from './contract.js';

/*
 * ResourceQuota refusals, read from what the apiserver says. A refusal is back-pressure (the task
 * waits for room), unless the task alone asks for more than the quota's hard limit.
 */

/** A ResourceQuota refused something of the task: what it said, and whether the task can ever fit. */
export interface QuotaRefusal {
  message: string;
  /** The task alone asks for more than the quota's hard limit: waiting never helps. */
  neverFits: boolean;
}

/**
 * The quota admission plugin's 403 ("exceeded quota: NAME, requested: r=q, used: r=q, limited: r=q"),
 * from a refused create or a Job controller's `FailedCreate` event.
 */
export function parseQuotaRefusal(message: string): QuotaRefusal | undefined {
  // A quota whose usage the controller has not computed yet refuses everything for a moment.
  const unknown = message.indexOf('status unknown for quota: ');
  if (unknown >= 0) return { message: message.slice(unknown), neverFits: false };
  const at = message.indexOf('exceeded quota: ');
  if (at < 0) return undefined;
  const text = message.slice(at);
  const parts = /requested: (.*?), used: (.*?), limited: (.*)$/.exec(text);
  if (!parts) return { message: text, neverFits: false };
  const requested = quantities(parts[1] ?? '');
  const limited = quantities(parts[3] ?? '');
  const neverFits = [...requested].some(([name, value]) => value > (limited.get(name) ?? Infinity));
  return { message: text, neverFits };
}

function quantities(list: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const item of list.split(',')) {
    const [name, value] = item.split('=');
    const parsed = value === undefined ? undefined : parseQuantity(value.trim());
    if (name && parsed !== undefined) found.set(name.trim(), parsed);
  }
  return found;
}

/** A refused create that is a quota refusal (403 Forbidden from the quota admission plugin). */
export function createQuotaRefusal(error: unknown): QuotaRefusal | undefined {
  if (!(error instanceof KubernetesApiError) || error.statusCode !== 403) return undefined;
  return parseQuotaRefusal(error.apiMessage);
}

/** The Job controller's `FailedCreate` event for a pod the quota refused. */
const quotaEvent = /^FailedCreate: .*(exceeded quota: |status unknown for quota: )/;

/**
 * A Job whose pods a ResourceQuota refuses: none of its containers ever started (`pendingUntil`
 * still set), no pod is alive, and its latest `FailedCreate` event says "exceeded quota".
 */
export function podQuotaRefusal(
  observation: ClusterObservation,
  events: readonly string[],
  pendingUntil: number | undefined,
): QuotaRefusal | undefined {
  if (pendingUntil === undefined || !observation.job) return undefined;
  const alive = observation.pods.some((p) => !p.deletionTimestamp && (p.phase === 'Pending' || p.phase === 'Running'));
  if (alive) return undefined;
  const event = events.findLast((e) => e.startsWith('FailedCreate: '));
  return event !== undefined && quotaEvent.test(event) ? parseQuotaRefusal(event) : undefined;
}
