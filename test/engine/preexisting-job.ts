import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import { fingerprintSpec } from '../../src/jobs/fingerprint.js';
import { jobNameFor, taskIdLabelValue } from '../../src/jobs/job-name.js';
import {
  fingerprintAnnotation,
  managedByLabel,
  managedByValue,
  taskIdAnnotation,
  taskIdLabel,
} from '../../src/jobs/labels.js';
import type { SimulatedCluster } from '../../src/sim/index.js';
import type { TaskInput } from '../../src/validation/task-spec.js';
import { parseTaskSpec } from '../../src/validation/parse.js';

/**
 * Creates, behind the runner's back, the Job a runner would create for `task` (same name, labels,
 * task-id annotation, fingerprint of the parsed spec), without `activeDeadlineSeconds`, as a
 * previous runner or another tool would have left it. `fingerprint` overrides the annotation (a
 * foreign Job). The task's `podTemplate` annotations are copied onto the pods (scripted behaviour).
 */
export async function createPreexistingJob(
  cluster: SimulatedCluster,
  task: TaskInput,
  options: { fingerprint?: string } = {},
): Promise<V1Job> {
  const spec = parseTaskSpec(task);
  const identity = { [managedByLabel]: managedByValue, [taskIdLabel]: taskIdLabelValue(spec.id) };
  const podAnnotations =
    ((spec.podTemplate?.metadata ?? {}) as { annotations?: Record<string, string> }).annotations ?? {};
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameFor(spec.id),
      labels: identity,
      annotations: {
        [taskIdAnnotation]: spec.id,
        [fingerprintAnnotation]: options.fingerprint ?? fingerprintSpec(spec),
      },
    },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: identity, annotations: { [taskIdAnnotation]: spec.id, ...podAnnotations } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'task', image: spec.image }] },
      },
    },
  };
  return cluster.kubeConfig.makeApiClient(BatchV1Api).createNamespacedJob({ namespace: 'default', body: job });
}
