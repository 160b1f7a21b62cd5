import type { V1Container, V1Job, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { TaskSpec } from '../types.js';
import { taskIdLabelValue } from './job-name.js';
import { fingerprintAnnotation, managedByLabel, managedByValue, taskContainerName, taskIdAnnotation, taskIdLabel } from './labels.js';
import { applyMergePatch } from '../json/merge-patch.js';

export interface JobManifestInput {
  taskId: string;
  jobName: string;
  namespace: string;
  spec: TaskSpec;
  fingerprint: string;
}


/**
 * The `batch/v1` Job that runs a task:
 * - name from the task id; labels `app.kubernetes.io/managed-by=k8s-jobs` and
 *   `k8s-jobs.io/task-id` on the Job AND its pod template (one selector finds both), plus the
 *   spec's labels; annotations with the full task id, the spec fingerprint and the spec's own;
 * - `backoffLimit` from the spec (default 0: a task runs once), `activeDeadlineSeconds` =
 *   `timeout` (Kubernetes enforces it even while the runner is down), `ttlSecondsAfterFinished`;
 * - one container `task` (image, command, args, env, resources), `restartPolicy: Never`,
 *   `serviceAccountName`;
 * - the spec's `podTemplate` merge-patched last (RFC 7386: lists such as `containers` are
 *   replaced whole). Only the two identity labels are put back afterwards: without them the
 *   shared watch would never see the pods.
 */
export function buildJobManifest(input: JobManifestInput): V1Job {
  const { spec } = input;
  const identity = { [managedByLabel]: managedByValue, [taskIdLabel]: taskIdLabelValue(input.taskId) };
  const labels = { ...spec.labels, ...identity };
  const annotations = { ...spec.annotations, [taskIdAnnotation]: input.taskId };

  const container: V1Container = { name: taskContainerName, image: spec.image };
  if (spec.command) container.command = spec.command;
  if (spec.args) container.args = spec.args;
  if (spec.env) container.env = spec.env;
  if (spec.resources) container.resources = spec.resources;

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
      ...(spec.ttlSecondsAfterFinished !== undefined ? { ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished } : {}),
      template,
    },
  };
}
