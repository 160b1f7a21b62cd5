import type { V1Container, V1Job, V1PodTemplateSpec } from '@kubernetes/client-node';
import { taskIdLabelValue } from '../jobs/job-name.js';
import {
  fingerprintAnnotation,
  managedByLabel,
  managedByValue,
  taskContainerName,
  taskIdAnnotation,
  taskIdLabel,
} from '../jobs/labels.js';
import { applyMergePatch } from '../json/merge-patch.js';
import type { TaskSpec } from '../types.js';
import { reservedKeyPrefixes } from '../validation/task-spec.js';

export interface JobManifestInput {
  taskId: string;
  jobName: string;
  namespace: string;
  spec: TaskSpec;
  fingerprint: string;
  /**
   * `ttlSecondsAfterFinished` for a spec without its own (the runner's cluster-side backstop):
   * Kubernetes then removes the finished Job even if no runner comes back. Not part of the spec,
   * so not of its fingerprint: a Job made without it (by an older runner) is still adopted on 409.
   * Undefined = none.
   */
  defaultTtlSecondsAfterFinished?: number;
  /** This attempt's memory request and limit (raised after `OOMKilled`), over the spec's. */
  memory?: string;
  /**
   * Pods lost to a disruption (`DisruptionTarget`) are replaced by the Job controller without
   * counting against `backoffLimit`: a `podFailurePolicy` rule `Ignore` (only with
   * `restartPolicy: Never`, which the policy requires).
   */
  ignoreDisruptions?: boolean;
}

/** The spec's resources with `memory` as the request (where one is set) and the limit. */
function withMemory(resources: TaskSpec['resources'], memory: string): NonNullable<TaskSpec['resources']> {
  return {
    ...(resources?.requests ? { requests: { ...resources.requests, memory } } : {}),
    limits: { ...resources?.limits, memory },
  };
}

/**
 * The `batch/v1` Job that runs a task:
 * - name from the task id; labels `app.kubernetes.io/managed-by=k8s-jobs` and
 *   `k8s-jobs.io/task-id` on the Job AND its pod template (one selector finds both), plus the
 *   spec's labels; annotations with the full task id, the spec fingerprint and the spec's own;
 * - `backoffLimit` from the spec (default 0: a task runs once), `activeDeadlineSeconds` =
 *   `timeout` (Kubernetes enforces it even while the runner is down), `ttlSecondsAfterFinished`
 *   (the spec's, else `defaultTtlSecondsAfterFinished`);
 * - one container `task` (image, command, args, env, resources: with `memory`, this attempt's),
 *   `restartPolicy: Never`, `serviceAccountName`; with `ignoreDisruptions`, a `podFailurePolicy`
 *   that replaces disrupted pods without counting them;
 * - the spec's `podTemplate` merge-patched last (RFC 7386: lists such as `containers` are
 *   replaced whole). Only the two identity labels are put back afterwards: without them the
 *   shared watch would never see the pods.
 */
export function buildJobManifest(input: JobManifestInput): V1Job {
  const { spec } = input;
  const ttlSecondsAfterFinished = spec.ttlSecondsAfterFinished ?? input.defaultTtlSecondsAfterFinished;
  const identity = { [managedByLabel]: managedByValue, [taskIdLabel]: taskIdLabelValue(input.taskId) };
  const labels = { ...spec.labels, ...identity };
  const annotations = { ...spec.annotations, [taskIdAnnotation]: input.taskId };

  const container: V1Container = { name: taskContainerName, image: spec.image };
  if (spec.command) container.command = spec.command;
  if (spec.args) container.args = spec.args;
  if (spec.env) container.env = spec.env;
  const resources = input.memory !== undefined ? withMemory(spec.resources, input.memory) : spec.resources;
  if (resources) container.resources = resources;

  const generated: V1PodTemplateSpec = {
    metadata: { labels, annotations },
    spec: {
      restartPolicy: 'Never',
      containers: [container],
      ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
    },
  };
  const template = (spec.podTemplate ? applyMergePatch(generated, spec.podTemplate) : generated) as V1PodTemplateSpec;
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...identity } };
  const podFailurePolicy =
    input.ignoreDisruptions && template.spec?.restartPolicy === 'Never'
      ? { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] }
      : undefined;

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.jobName,
      namespace: input.namespace,
      labels,
      annotations: { ...annotations, [fingerprintAnnotation]: input.fingerprint },
    },
    spec: {
      backoffLimit: spec.backoffLimit ?? 0,
      ...(spec.timeout !== undefined ? { activeDeadlineSeconds: spec.timeout } : {}),
      ...(ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished } : {}),
      ...(podFailurePolicy ? { podFailurePolicy } : {}),
      template,
    },
  };
}

const userKeys = (map: Record<string, string> | undefined): Record<string, string> | undefined => {
  const isReserved = (key: string): boolean => reservedKeyPrefixes.some((prefix) => key.startsWith(prefix));
  const kept = Object.entries(map ?? {}).filter(([key]) => !isReserved(key));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
};

/**
 * The task a Job of ours was made from, the inverse of `buildJobManifest` as far as the Job tells:
 * id from the `k8s-jobs.io/task-id` annotation (else the Job's name); the `task` container (else
 * the first) gives image, command, args, env and resources; `activeDeadlineSeconds` the timeout.
 * A `podTemplate` patch cannot be told apart from what it patched, so it is not rebuilt. Not
 * validated: fields the Job lacks are absent, and the result may not be a valid task.
 */
export function taskInputOfJob(job: V1Job): Record<string, unknown> {
  const annotations = job.metadata?.annotations ?? {};
  const template = job.spec?.template.spec;
  const containers = template?.containers ?? [];
  const container = containers.find((c) => c.name === taskContainerName) ?? containers[0];
  const resources = container?.resources;
  const input: Record<string, unknown> = {
    id: annotations[taskIdAnnotation] ?? job.metadata?.name,
    image: container?.image,
  };
  const optional: Record<string, unknown> = {
    command: container?.command,
    args: container?.args,
    env: container?.env,
    resources: resources && (resources.requests || resources.limits) ? resources : undefined,
    timeout: job.spec?.activeDeadlineSeconds,
    // 0 is the manifest's default for an absent backoffLimit: leave it absent so fingerprints match.
    backoffLimit: job.spec?.backoffLimit ? job.spec.backoffLimit : undefined,
    ttlSecondsAfterFinished: job.spec?.ttlSecondsAfterFinished,
    serviceAccountName: template?.serviceAccountName,
    labels: userKeys(job.metadata?.labels),
    annotations: userKeys(annotations),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) input[key] = value;
  return input;
}
