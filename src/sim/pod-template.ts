import type { FieldError } from './api-error.js';
import { defaultPullPolicy } from './image-reference.js';
import { validateDns1123Label, validateLabels } from './validation.js';

/**
 * Pod spec defaults and validation shared by everything that carries a pod spec (a Job's
 * `spec.template`, a Pod). Field paths are parameters so the messages name the field the way
 * Kubernetes does for each resource (`spec.template.spec.containers[0].image` for a Job,
 * `spec.containers[0].image` for a Pod).
 */

// JSON shapes from the wire: open records, checked at run time.
type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function defaultContainer(container: Json): void {
  container['terminationMessagePath'] ??= '/dev/termination-log';
  container['terminationMessagePolicy'] ??= 'File';
  if (container['imagePullPolicy'] === undefined && typeof container['image'] === 'string') {
    container['imagePullPolicy'] = defaultPullPolicy(container['image']);
  }
  // An absent ResourceRequirements struct serializes as `{}` once it went through the API types.
  container['resources'] ??= {};
  for (const port of records(container['ports'])) port['protocol'] ??= 'TCP';
  for (const env of records(container['env'])) {
    const valueFrom = env['valueFrom'];
    if (isRecord(valueFrom) && isRecord(valueFrom['fieldRef'])) valueFrom['fieldRef']['apiVersion'] ??= 'v1';
  }
}

/**
 * SetDefaults_PodSpec and SetDefaults_Container: what the API server fills into every pod spec
 * (a Pod's, or a workload's pod template). `restartPolicy` defaults to `Always`, which workload
 * validation then rejects where it does not fit (Jobs).
 */
export function defaultPodSpec(spec: Json): void {
  spec['dnsPolicy'] ??= 'ClusterFirst';
  spec['restartPolicy'] ??= 'Always';
  spec['terminationGracePeriodSeconds'] ??= 30;
  spec['securityContext'] ??= {};
  spec['schedulerName'] ??= 'default-scheduler';
  for (const container of [...records(spec['initContainers']), ...records(spec['containers'])])
    defaultContainer(container);
}

/** `field.NotSupported`: `Unsupported value: "x": supported values: "a", "b"`. */
export function notSupported(field: string, value: unknown, supported: readonly string[]): FieldError {
  return {
    field,
    type: 'FieldValueNotSupported',
    value,
    detail: `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
  };
}

/** `ValidateNonnegativeField`: `Invalid value: -1: must be greater than or equal to 0`. */
export function validateNonNegative(value: unknown, field: string): FieldError[] {
  if (typeof value === 'number' && value < 0)
    return [{ field, type: 'FieldValueInvalid', value, detail: 'must be greater than or equal to 0' }];
  return [];
}

function validateContainers(list: Json[], path: string, seen: Set<string>): FieldError[] {
  const errors: FieldError[] = [];
  list.forEach((container, i) => {
    const at = `${path}[${i}]`;
    const name = container['name'];
    if (typeof name !== 'string' || name === '') {
      errors.push({ field: `${at}.name`, type: 'FieldValueRequired', detail: '' });
    } else {
      errors.push(...validateDns1123Label(name, `${at}.name`));
      if (seen.has(name)) errors.push({ field: `${at}.name`, type: 'FieldValueDuplicate', value: name, detail: '' });
      seen.add(name);
    }
    if (typeof container['image'] !== 'string' || container['image'] === '') {
      errors.push({ field: `${at}.image`, type: 'FieldValueRequired', detail: '' });
    }
    const pullPolicy = container['imagePullPolicy'];
    if (pullPolicy === undefined || pullPolicy === '')
      errors.push({ field: `${at}.imagePullPolicy`, type: 'FieldValueRequired', detail: '' });
    else if (!['Always', 'IfNotPresent', 'Never'].includes(String(pullPolicy))) {
      errors.push(notSupported(`${at}.imagePullPolicy`, pullPolicy, ['Always', 'IfNotPresent', 'Never']));
    }
    const messagePolicy = container['terminationMessagePolicy'];
    if (messagePolicy !== undefined && !['File', 'FallbackToLogsOnError'].includes(String(messagePolicy))) {
      errors.push(notSupported(`${at}.terminationMessagePolicy`, messagePolicy, ['File', 'FallbackToLogsOnError']));
    }
  });
  return errors;
}

/**
 * The part of `ValidatePodSpec` a job runner meets, with Kubernetes' messages: containers
 * required, container names (DNS-1123 label, unique across init and regular containers), images
 * required, pull and restart policies, DNS policy, grace period.
 */
export function validatePodSpec(spec: unknown, path: string): FieldError[] {
  if (!isRecord(spec)) return [{ field: `${path}.containers`, type: 'FieldValueRequired', detail: '' }];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  errors.push(...validateContainers(records(spec['initContainers']), `${path}.initContainers`, seen));
  const containers = records(spec['containers']);
  if (containers.length === 0) errors.push({ field: `${path}.containers`, type: 'FieldValueRequired', detail: '' });
  errors.push(...validateContainers(containers, `${path}.containers`, seen));
  const restartPolicy = spec['restartPolicy'];
  if (restartPolicy === undefined || restartPolicy === '')
    errors.push({ field: `${path}.restartPolicy`, type: 'FieldValueRequired', detail: '' });
  else if (!['Always', 'OnFailure', 'Never'].includes(String(restartPolicy))) {
    errors.push(notSupported(`${path}.restartPolicy`, restartPolicy, ['Always', 'OnFailure', 'Never']));
  }
  const dnsPolicy = spec['dnsPolicy'];
  if (
    dnsPolicy !== undefined &&
    !['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'].includes(String(dnsPolicy))
  ) {
    errors.push(
      notSupported(`${path}.dnsPolicy`, dnsPolicy, ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']),
    );
  }
  errors.push(...validateNonNegative(spec['terminationGracePeriodSeconds'], `${path}.terminationGracePeriodSeconds`));
  return errors;
}

/** `ValidatePodTemplateSpec`: template labels (reported on `<path>.labels`) and the pod spec. */
export function validatePodTemplateSpec(template: unknown, path: string): FieldError[] {
  if (!isRecord(template)) return validatePodSpec(undefined, `${path}.spec`);
  const metadata = isRecord(template['metadata']) ? template['metadata'] : {};
  const labels = isRecord(metadata['labels']) ? (metadata['labels'] as Record<string, string>) : undefined;
  return [...validateLabels(labels, `${path}.labels`), ...validatePodSpec(template['spec'], `${path}.spec`)];
}
