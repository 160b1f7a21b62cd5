import { isDeepStrictEqual } from 'node:util';
import type { FieldError } from './api-error.js';
import { defaultPodSpec, validatePodSpec } from './pod-template.js';
import type { KubeObject } from './types.js';
import { validateDns1123Subdomain, validateLabels } from './validation.js';

/**
 * What the API server does to a Pod beyond the shared pod-spec rules: `SetDefaults_Pod`
 * (requests default to limits), the admission plugins every cluster runs on create
 * (ServiceAccount, Priority, DefaultTolerationSeconds), and `ValidatePod` / `ValidatePodUpdate`.
 */

type Json = Record<string, unknown>;

function records(value: unknown): Json[] {
  return Array.isArray(value)
    ? value.filter((v): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v))
    : [];
}

/** SetDefaults_Pod: a container's requests default to its limits, resource by resource. */
function defaultRequestsFromLimits(spec: Json): void {
  for (const container of [...records(spec['initContainers']), ...records(spec['containers'])]) {
    const resources = (container['resources'] ?? {}) as Json;
    const limits = resources['limits'] as Json | undefined;
    if (!limits || Object.keys(limits).length === 0) continue;
    const requests = { ...((resources['requests'] ?? {}) as Json) };
    for (const [name, quantity] of Object.entries(limits)) requests[name] ??= quantity;
    container['resources'] = { ...resources, requests };
  }
}

/** Defaulting that runs on every decoded Pod (create and update). */
export function defaultPod(obj: KubeObject): void {
  obj.spec ??= {};
  defaultPodSpec(obj.spec as Json);
  defaultRequestsFromLimits(obj.spec as Json);
}

const notReadyTolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

/** The admission plugins that change a Pod on create. */
export function admitPod(obj: KubeObject): void {
  const spec = obj.spec as Json;
  // ServiceAccount admission; the deprecated `serviceAccount` field mirrors the name.
  spec['serviceAccountName'] ??= spec['serviceAccount'] ?? 'default';
  spec['serviceAccount'] = spec['serviceAccountName'];
  // Priority admission without a PriorityClass.
  spec['priority'] ??= 0;
  spec['preemptionPolicy'] ??= 'PreemptLowerPriority';
  spec['enableServiceLinks'] ??= true;
  // DefaultTolerationSeconds: tolerate an unready or unreachable node for 300 s.
  const tolerations = records(spec['tolerations']);
  for (const key of notReadyTolerations) {
    if (tolerations.some((t) => t['key'] === key || (t['operator'] === 'Exists' && !t['key']))) continue;
    tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
  spec['tolerations'] = tolerations;
}

/** ValidatePod, as far as the simulator's users meet it. */
export function validatePod(obj: KubeObject): FieldError[] {
  return [
    ...(obj.metadata.name ? validateDns1123Subdomain(obj.metadata.name, 'metadata.name') : []),
    ...validateLabels(obj.metadata.labels, 'metadata.labels'),
    ...validatePodSpec(obj.spec, 'spec'),
  ];
}

const immutableSpecDetail =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** ValidatePodUpdate: only images, the deadline, tolerations, scheduling gates and the grace period may change. */
export function validatePodUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const oldSpec = (old.spec ?? {}) as Json;
  const comparable = structuredClone((obj.spec ?? {}) as Json);
  for (const key of ['containers', 'initContainers'] as const) {
    const oldList = records(oldSpec[key]);
    records(comparable[key]).forEach((container, i) => {
      const before = oldList[i];
      if (before) container['image'] = before['image'];
    });
  }
  for (const key of ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds', 'schedulingGates']) {
    if (key in oldSpec) comparable[key] = oldSpec[key];
    else delete comparable[key];
  }
  if (isDeepStrictEqual(comparable, oldSpec)) return validatePod(obj);
  return [{ field: 'spec', type: 'FieldValueForbidden', detail: immutableSpecDetail }];
}
