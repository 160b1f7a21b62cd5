import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { FieldError } from './api-error.js';
import { validatePodFailurePolicy } from './pod-failure-policy.js';
import { defaultPodSpec, notSupported, validateNonNegative, validatePodTemplateSpec } from './pod-template.js';
import { matchesLabels, type LabelSelector } from './selectors.js';
import type { ResourceStrategy } from './strategy.js';
import { ageColumn, humanDuration, nameColumn } from './table.js';
import type { KubeObject } from './types.js';
import { validateDns1123Subdomain, validateLabels } from './validation.js';

/** Label keys `generateSelector` puts on a Job's pod template (batch/v1 `JobNameLabel` & co.). */
export const jobLabels = {
  controllerUid: 'batch.kubernetes.io/controller-uid',
  legacyControllerUid: 'controller-uid',
  jobName: 'batch.kubernetes.io/job-name',
  legacyJobName: 'job-name',
} as const;

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function templateOf(job: KubeObject): Json {
  if (!isRecord(job.spec)) job.spec = {};
  const spec = job.spec as Json;
  if (!isRecord(spec['template'])) spec['template'] = {};
  return spec['template'] as Json;
}

function templateMetadata(template: Json): Json {
  if (!isRecord(template['metadata'])) template['metadata'] = {};
  return template['metadata'] as Json;
}

/**
 * SetDefaults_Job: completions/parallelism (both unset → both 1; a work-queue Job keeps
 * `completions` null), backoffLimit 6 (MaxInt32 with backoffLimitPerIndex), completionMode,
 * suspend, podReplacementPolicy, manualSelector, and the pod template's pod defaults.
 */
export function setJobDefaults(job: KubeObject): void {
  const spec = job.spec as Json;
  if (spec['completions'] == null && spec['parallelism'] == null) {
    spec['completions'] = 1;
    spec['parallelism'] = 1;
  }
  spec['parallelism'] ??= 1;
  spec['backoffLimit'] ??= spec['backoffLimitPerIndex'] != null ? 2147483647 : 6;
  spec['completionMode'] ??= 'NonIndexed';
  spec['suspend'] ??= false;
  const failurePolicy = spec['podFailurePolicy'];
  if (isRecord(failurePolicy) && Array.isArray(failurePolicy['rules'])) {
    for (const rule of failurePolicy['rules']) {
      if (isRecord(rule) && Array.isArray(rule['onPodConditions'])) {
        for (const pattern of rule['onPodConditions']) if (isRecord(pattern)) pattern['status'] ??= 'True';
      }
    }
  }
  spec['podReplacementPolicy'] ??= failurePolicy != null ? 'Failed' : 'TerminatingOrFailed';
  spec['manualSelector'] ??= false;
  const template = templateOf(job);
  if (!isRecord(template['spec'])) template['spec'] = {};
  defaultPodSpec(template['spec'] as Json);
}

/**
 * generateSelector (job strategy): the four pod-template labels and
 * `spec.selector.matchLabels[batch.kubernetes.io/controller-uid]`. Labels the user already set
 * are kept (a conflicting value is then rejected by validation).
 */
export function generateSelector(job: KubeObject): void {
  const meta = templateMetadata(templateOf(job));
  const labels = (isRecord(meta['labels']) ? meta['labels'] : {}) as Record<string, string>;
  meta['labels'] = labels;
  for (const key of [jobLabels.legacyJobName, jobLabels.jobName]) labels[key] ??= job.metadata.name;
  for (const key of [jobLabels.legacyControllerUid, jobLabels.controllerUid]) labels[key] ??= job.metadata.uid;
  const spec = job.spec as Json;
  if (!isRecord(spec['selector'])) spec['selector'] = {};
  const selector = spec['selector'] as Json;
  if (!isRecord(selector['matchLabels'])) selector['matchLabels'] = {};
  const matchLabels = selector['matchLabels'] as Record<string, string>;
  matchLabels[jobLabels.controllerUid] ??= job.metadata.uid;
}

/** A `metav1.LabelSelector` object as requirements (`LabelSelectorAsSelector`). */
export function selectorRequirements(selector: unknown): LabelSelector {
  if (!isRecord(selector)) return [];
  const out: LabelSelector = [];
  const matchLabels = isRecord(selector['matchLabels']) ? selector['matchLabels'] : {};
  for (const [key, value] of Object.entries(matchLabels)) out.push({ key, op: 'eq', value: String(value) });
  const expressions = Array.isArray(selector['matchExpressions']) ? selector['matchExpressions'].filter(isRecord) : [];
  for (const e of expressions) {
    const key = String(e['key'] ?? '');
    const values = Array.isArray(e['values']) ? e['values'].map(String) : [];
    if (e['operator'] === 'In') out.push({ key, op: 'in', values });
    else if (e['operator'] === 'NotIn') out.push({ key, op: 'notin', values });
    else if (e['operator'] === 'Exists') out.push({ key, op: 'exists' });
    else if (e['operator'] === 'DoesNotExist') out.push({ key, op: 'notexists' });
  }
  return out;
}

/** `metav1.FormatLabelSelector`, as `kubectl get -o wide` shows a selector. */
function formatSelector(selector: unknown): string {
  const parts = selectorRequirements(selector).map((r) => {
    switch (r.op) {
      case 'eq':
        return `${r.key}=${r.value}`;
      case 'neq':
        return `${r.key}!=${r.value}`;
      case 'in':
        return `${r.key} in (${r.values.join(',')})`;
      case 'notin':
        return `${r.key} notin (${r.values.join(',')})`;
      case 'exists':
        return r.key;
      case 'notexists':
        return `!${r.key}`;
    }
  });
  return parts.length === 0 ? '<none>' : parts.join(',');
}

/** ValidateHasLabel: `spec.template.metadata.labels[key]` must be there and carry `expected`. */
function validateHasLabel(labels: Record<string, string>, key: string, expected: string): FieldError[] {
  const field = `spec.template.metadata.labels[${key}]`;
  if (!(key in labels)) return [{ field, type: 'FieldValueRequired', detail: expected }];
  if (labels[key] !== expected)
    return [{ field, type: 'FieldValueInvalid', value: labels, detail: `must be '${expected}'` }];
  return [];
}

/**
 * Jobs created without labels of their own show the template's labels (SetDefaults_Job aliases
 * the template's label map into `metadata.labels`). Only an aliased map that existed before
 * selector generation is validated as `metadata.labels` too; a map the generator created is
 * not, which is why a 64-character name is reported on `spec.template.labels` alone.
 */
const labelsCopiedAfterValidation = new WeakSet<KubeObject>();

function validateJob(job: KubeObject): FieldError[] {
  const spec = isRecord(job.spec) ? job.spec : {};
  const template = isRecord(spec['template']) ? spec['template'] : {};
  const templateLabels = (
    isRecord(template['metadata']) && isRecord(template['metadata']['labels']) ? template['metadata']['labels'] : {}
  ) as Record<string, string>;
  const errors: FieldError[] = [...validateDns1123Subdomain(job.metadata.name ?? '', 'metadata.name')];
  if (!labelsCopiedAfterValidation.has(job)) errors.push(...validateLabels(job.metadata.labels, 'metadata.labels'));
  // validateGeneratedSelector (RequirePrefixedLabels: both label generations must be there).
  if (spec['manualSelector'] !== true && isRecord(spec['selector'])) {
    if (!job.metadata.uid) errors.push({ field: 'metadata.uid', type: 'FieldValueRequired', detail: '' });
    errors.push(...validateHasLabel(templateLabels, jobLabels.legacyControllerUid, job.metadata.uid));
    errors.push(...validateHasLabel(templateLabels, jobLabels.legacyJobName, job.metadata.name));
    errors.push(...validateHasLabel(templateLabels, jobLabels.controllerUid, job.metadata.uid));
    errors.push(...validateHasLabel(templateLabels, jobLabels.jobName, job.metadata.name));
    const expected = {
      [jobLabels.controllerUid]: job.metadata.uid,
      [jobLabels.jobName]: job.metadata.name,
      [jobLabels.legacyControllerUid]: job.metadata.uid,
      [jobLabels.legacyJobName]: job.metadata.name,
    };
    if (!matchesLabels(selectorRequirements(spec['selector']), expected)) {
      errors.push({
        field: 'spec.selector',
        type: 'FieldValueInvalid',
        value: spec['selector'],
        detail: '`selector` not auto-generated',
      });
    }
  }
  // validateJobSpec
  for (const field of [
    'parallelism',
    'completions',
    'activeDeadlineSeconds',
    'backoffLimit',
    'ttlSecondsAfterFinished',
    'backoffLimitPerIndex',
    'maxFailedIndexes',
  ]) {
    errors.push(...validateNonNegative(spec[field], `spec.${field}`));
  }
  const mode = spec['completionMode'];
  if (mode !== undefined && mode !== 'NonIndexed' && mode !== 'Indexed') {
    errors.push(notSupported('spec.completionMode', mode, ['NonIndexed', 'Indexed']));
  }
  if (mode === 'Indexed') {
    if (spec['completions'] == null)
      errors.push({ field: 'spec.completions', type: 'FieldValueRequired', detail: 'when completion mode is Indexed' });
    if (typeof spec['parallelism'] === 'number' && spec['parallelism'] > 100000) {
      errors.push({
        field: 'spec.parallelism',
        type: 'FieldValueInvalid',
        value: spec['parallelism'],
        detail: 'must be less than or equal to 100000 when completion mode is Indexed',
      });
    }
  } else {
    if (spec['backoffLimitPerIndex'] != null)
      errors.push({
        field: 'spec.backoffLimitPerIndex',
        type: 'FieldValueInvalid',
        value: spec['backoffLimitPerIndex'],
        detail: 'requires indexed completion mode',
      });
    if (spec['maxFailedIndexes'] != null)
      errors.push({
        field: 'spec.maxFailedIndexes',
        type: 'FieldValueInvalid',
        value: spec['maxFailedIndexes'],
        detail: 'requires indexed completion mode',
      });
  }
  if (spec['podFailurePolicy'] != null) {
    const podSpec = isRecord(template['spec']) ? template['spec'] : {};
    const names = ['containers', 'initContainers'].flatMap((f) =>
      Array.isArray(podSpec[f]) ? (podSpec[f] as Json[]).map((c) => String(c['name'])) : [],
    );
    errors.push(...validatePodFailurePolicy(spec['podFailurePolicy'], names, spec['backoffLimitPerIndex'] != null));
  }
  const replacement = spec['podReplacementPolicy'];
  if (replacement != null) {
    const allowed = spec['podFailurePolicy'] != null ? ['Failed'] : ['Failed', 'TerminatingOrFailed'];
    if (!allowed.includes(String(replacement)))
      errors.push(notSupported('spec.podReplacementPolicy', replacement, allowed));
  }
  errors.push(...validatePodTemplateSpec(spec['template'], 'spec.template'));
  // The pod default `Always` counts as unset: a Job's pods must terminate.
  const restartPolicy = isRecord(template['spec']) ? template['spec']['restartPolicy'] : undefined;
  if (restartPolicy === undefined || restartPolicy === '' || restartPolicy === 'Always') {
    errors.push({
      field: 'spec.template.spec.restartPolicy',
      type: 'FieldValueRequired',
      detail: 'valid values: "OnFailure", "Never"',
    });
  } else if (restartPolicy !== 'OnFailure' && restartPolicy !== 'Never') {
    errors.push(notSupported('spec.template.spec.restartPolicy', restartPolicy, ['OnFailure', 'Never']));
  } else if (spec['podFailurePolicy'] != null && restartPolicy !== 'Never') {
    errors.push({
      field: 'spec.template.spec.restartPolicy',
      type: 'FieldValueInvalid',
      value: restartPolicy,
      detail: 'only "Never" is supported when podFailurePolicy is specified',
    });
  }
  // ValidateJobSpec: a selector is required and must select the template's own labels.
  if (!isRecord(spec['selector'])) errors.push({ field: 'spec.selector', type: 'FieldValueRequired', detail: '' });
  else if (!matchesLabels(selectorRequirements(spec['selector']), templateLabels)) {
    errors.push({
      field: 'spec.template.metadata.labels',
      type: 'FieldValueInvalid',
      value: templateLabels,
      detail: '`selector` does not match template `labels`',
    });
  }
  if (mode === 'Indexed' && typeof spec['completions'] === 'number' && spec['completions'] > 0) {
    const hostname = `${job.metadata.name}-${spec['completions'] - 1}`;
    if (hostname.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(hostname)) {
      errors.push({
        field: 'metadata.name',
        type: 'FieldValueInvalid',
        value: job.metadata.name,
        detail: `will not able to create pod with invalid DNS label: ${hostname}`,
      });
    }
  }
  return errors;
}

function immutable(field: string, value: unknown, old: unknown): FieldError[] {
  return isDeepStrictEqual(value ?? null, old ?? null)
    ? []
    : [{ field, type: 'FieldValueInvalid', value: value ?? null, detail: 'field is immutable' }];
}

/**
 * ValidateJobSpecUpdate: completions, selector, template, completionMode, podFailurePolicy,
 * backoffLimitPerIndex, managedBy and successPolicy are immutable — except that a Job that is
 * suspended and never started may change its pod template's scheduling directives.
 */
function validateJobUpdate(job: KubeObject, old: KubeObject): FieldError[] {
  const spec = (job.spec ?? {}) as Json;
  const oldSpec = (old.spec ?? {}) as Json;
  let oldTemplate = oldSpec['template'];
  if (oldSpec['suspend'] === true && !old.status?.startTime && isRecord(oldTemplate) && isRecord(spec['template'])) {
    // AllowMutableSchedulingDirectives: compare the template with those fields taken from the new one.
    const next = spec['template'];
    const merged = structuredClone(oldTemplate);
    const mergedMeta = templateMetadata(merged);
    const nextMeta = isRecord(next['metadata']) ? next['metadata'] : {};
    const mergedSpec = isRecord(merged['spec']) ? merged['spec'] : {};
    const nextSpec = isRecord(next['spec']) ? next['spec'] : {};
    const take = (into: Json, from: Json, key: string) => {
      if (from[key] === undefined) delete into[key];
      else into[key] = from[key];
    };
    for (const key of ['labels', 'annotations']) take(mergedMeta, nextMeta, key);
    for (const key of ['nodeSelector', 'tolerations', 'schedulingGates', 'affinity']) take(mergedSpec, nextSpec, key);
    merged['spec'] = mergedSpec;
    oldTemplate = merged;
  }
  return [
    ...immutable('spec.completions', spec['completions'], oldSpec['completions']),
    ...immutable('spec.selector', spec['selector'], oldSpec['selector']),
    ...immutable('spec.template', spec['template'], oldTemplate),
    ...immutable('spec.completionMode', spec['completionMode'], oldSpec['completionMode']),
    ...immutable('spec.podFailurePolicy', spec['podFailurePolicy'], oldSpec['podFailurePolicy']),
    ...immutable('spec.backoffLimitPerIndex', spec['backoffLimitPerIndex'], oldSpec['backoffLimitPerIndex']),
    ...immutable('spec.managedBy', spec['managedBy'], oldSpec['managedBy']),
    ...immutable('spec.successPolicy', spec['successPolicy'], oldSpec['successPolicy']),
  ];
}

function hasTrueCondition(job: KubeObject, type: string): boolean {
  const conditions: unknown = job.status?.conditions;
  return (
    Array.isArray(conditions) && conditions.some((c) => isRecord(c) && c['type'] === type && c['status'] === 'True')
  );
}

/** printJob's STATUS column: Complete, Failed, Terminating, Suspended, FailureTarget, else Running. */
export function jobStatusColumn(job: KubeObject): string {
  if (hasTrueCondition(job, 'Complete')) return 'Complete';
  if (hasTrueCondition(job, 'Failed')) return 'Failed';
  if (job.metadata.deletionTimestamp) return 'Terminating';
  if (hasTrueCondition(job, 'Suspended')) return 'Suspended';
  if (hasTrueCondition(job, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

function completionsColumn(job: KubeObject): string {
  const succeeded = Number(job.status?.succeeded ?? 0);
  if (job.spec?.completions != null) return `${succeeded}/${job.spec.completions}`;
  const parallelism = Number(job.spec?.parallelism ?? 0);
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

function durationColumn(job: KubeObject, now: number): string {
  const start = job.status?.startTime;
  if (!start) return '';
  const end = job.status?.completionTime ? Date.parse(job.status.completionTime) : now;
  return humanDuration(end - Date.parse(start));
}

function containers(job: KubeObject): Json[] {
  const list: unknown = job.spec?.template?.spec?.containers;
  return Array.isArray(list) ? list.filter(isRecord) : [];
}

/**
 * batch/v1 Jobs: defaults (SetDefaults_Job), generated selector and pod-template labels,
 * validation (ValidateJob / ValidateJobUpdate) with Kubernetes' messages, generation bumped on
 * spec changes, status only through /status, Orphan as the default GC policy, printer columns.
 */
export const jobStrategy: ResourceStrategy = {
  info: {
    group: 'batch',
    version: 'v1',
    resource: 'jobs',
    singular: 'job',
    kind: 'Job',
    namespaced: true,
    categories: ['all'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
  },
  selectableFieldKeys: ['status.successful'],
  selectableFields: (obj) => ({ 'status.successful': String(obj.status?.succeeded ?? 0) }),
  prepareForCreate(obj) {
    if (!isRecord(obj.spec)) obj.spec = {};
    const meta = templateMetadata(templateOf(obj));
    const templateHadLabels = isRecord(meta['labels']);
    const jobHadLabels = Object.keys(obj.metadata.labels ?? {}).length > 0;
    setJobDefaults(obj);
    // The selector names the Job's uid, so the uid exists from here on (the store keeps it).
    obj.metadata.uid = randomUUID();
    if (obj.spec.manualSelector !== true) generateSelector(obj);
    if (!jobHadLabels && isRecord(meta['labels'])) {
      obj.metadata.labels = { ...(meta['labels'] as Record<string, string>) };
      if (!templateHadLabels) labelsCopiedAfterValidation.add(obj);
    }
    obj.status = {};
  },
  validateCreate: (obj) => validateJob(obj),
  prepareForUpdate(obj, old) {
    obj.status = old.status;
    // Defaulting runs on every decoded object, updates included (the selector is generated only on create).
    setJobDefaults(obj);
    const templateLabels = templateMetadata(templateOf(obj))['labels'];
    if (Object.keys(obj.metadata.labels ?? {}).length === 0 && isRecord(templateLabels)) {
      obj.metadata.labels = { ...(templateLabels as Record<string, string>) };
    }
    obj.metadata.generation = isDeepStrictEqual(obj.spec, old.spec)
      ? old.metadata.generation
      : (old.metadata.generation ?? 1) + 1;
  },
  validateUpdate: (obj, old) => [...validateJob(obj), ...validateJobUpdate(obj, old)],
  prepareForStatusUpdate(obj, old) {
    obj.spec = old.spec;
    obj.metadata = { ...old.metadata, resourceVersion: obj.metadata.resourceVersion };
  },
  defaultPropagation: 'Orphan',
  orphanDefaultWarning:
    'child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning',
  tableColumns: [
    nameColumn,
    {
      name: 'Status',
      type: 'string',
      description: 'Status of the job.',
      priority: 0,
      cell: (job) => jobStatusColumn(job),
    },
    {
      name: 'Completions',
      type: 'string',
      description:
        'The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.',
      priority: 0,
      cell: (job) => completionsColumn(job),
    },
    {
      name: 'Duration',
      type: 'string',
      description: 'Time required to complete the job.',
      priority: 0,
      cell: (job, now) => durationColumn(job, now),
    },
    ageColumn,
    {
      name: 'Containers',
      type: 'string',
      description: 'Names of each container in the template.',
      priority: 1,
      cell: (job) =>
        containers(job)
          .map((c) => String(c['name'] ?? ''))
          .join(','),
    },
    {
      name: 'Images',
      type: 'string',
      description: 'Images referenced by each container in the template.',
      priority: 1,
      cell: (job) =>
        containers(job)
          .map((c) => String(c['image'] ?? ''))
          .join(','),
    },
    {
      name: 'Selector',
      type: 'string',
      description:
        'A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors',
      priority: 1,
      cell: (job) => formatSelector(job.spec?.selector),
    },
  ],
};
