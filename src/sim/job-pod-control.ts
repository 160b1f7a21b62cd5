import { ApiError } from './api-error.js';
import { strategyFor, type SimContext } from './context.js';
import { recordEvent } from './events.js';
import { generateNameWithIndex } from './job-indexes.js';
import { completionIndexKey, hasTrackingFinalizer, jobTrackingFinalizer } from './job-pods.js';
import { createObject, deleteObject } from './rest.js';
import type { KubeObject } from './types.js';

/*
 * What the Job controller does to pods, as `controller.RealPodControl` does it for the real one:
 * through the API's rules (defaults, validation, generateName, graceful deletion), recording
 * the Events Kubernetes records.
 */

/** The source of every Event the Job controller records. */
export const jobControllerSource = { component: 'job-controller' };

/** A stored Job (no type meta) as an Event's involved object. */
export function involvedJob(job: KubeObject): KubeObject {
  return { ...job, apiVersion: 'batch/v1', kind: 'Job' };
}

/** PATCH `$deleteFromPrimitiveList/finalizers`; a pod already gone counts as done. */
export function removeTrackingFinalizer(ctx: SimContext, pod: KubeObject): void {
  // Only metadata.finalizers is replaced: no need to copy the rest of the pod.
  ctx.store.mutate(
    'pods',
    pod.metadata.namespace,
    pod.metadata.name,
    (p) => {
      if (p.metadata.uid !== pod.metadata.uid || !hasTrackingFinalizer(p)) return false;
      const rest = (p.metadata.finalizers ?? []).filter((f) => f !== jobTrackingFinalizer);
      if (rest.length > 0) p.metadata.finalizers = rest;
      else delete p.metadata.finalizers;
      return true;
    },
    { shallow: true },
  );
}

/** `GetPodFromTemplate` + `CreatePodsWithGenerateName`, through the API's create rules. */
export function createJobPod(
  ctx: SimContext,
  job: KubeObject,
  index: number | undefined,
): 'created' | 'failed' | 'skipped' {
  const template = structuredClone(job.spec?.template ?? {}) as {
    metadata?: KubeObject['metadata'];
    spec?: Record<string, unknown>;
  };
  const meta = template.metadata ?? ({} as Partial<KubeObject['metadata']>);
  const labels = { ...(meta.labels ?? {}) };
  const annotations = { ...(meta.annotations ?? {}) };
  const spec = template.spec ?? {};
  let generateName = `${job.metadata.name}-`;
  if (index !== undefined) {
    annotations[completionIndexKey] = String(index);
    labels[completionIndexKey] = String(index);
    spec['hostname'] = `${job.metadata.name}-${index}`;
    generateName = generateNameWithIndex(job.metadata.name, index);
    addCompletionIndexEnv(spec);
  }
  const finalizers = [...(meta.finalizers ?? [])];
  if (!finalizers.includes(jobTrackingFinalizer)) finalizers.push(jobTrackingFinalizer);
  const metadata: Record<string, unknown> = {
    generateName,
    labels,
    ownerReferences: [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        name: job.metadata.name,
        uid: job.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
    finalizers,
  };
  if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
  try {
    const created = createObject(ctx, strategyFor(ctx, 'pods'), job.metadata.namespace, { metadata, spec });
    const name = (created.body as KubeObject).metadata.name;
    recordEvent(ctx, involvedJob(job), 'Normal', 'SuccessfulCreate', `Created pod: ${name}`, jobControllerSource);
    return 'created';
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    // The namespace is being torn down: every further create fails the same way, silently.
    if (err.details?.causes?.some((c) => c.reason === 'NamespaceTerminating')) return 'skipped';
    recordEvent(
      ctx,
      involvedJob(job),
      'Warning',
      'FailedCreate',
      `Error creating: ${err.message}`,
      jobControllerSource,
    );
    return 'failed';
  }
}

/** `DeletePod` through the API's rules (graceful for running pods); NotFound counts as deleted. */
export function deleteJobPod(ctx: SimContext, job: KubeObject, pod: KubeObject): void {
  try {
    deleteObject(ctx, strategyFor(ctx, 'pods'), pod.metadata.namespace, pod.metadata.name, {
      preconditions: { uid: pod.metadata.uid },
    });
    recordEvent(
      ctx,
      involvedJob(job),
      'Normal',
      'SuccessfulDelete',
      `Deleted pod: ${pod.metadata.name}`,
      jobControllerSource,
    );
  } catch (err) {
    if (!(err instanceof ApiError) || (err.code !== 404 && err.code !== 409)) throw err;
  }
}

/** `addCompletionIndexEnvVariables`: `JOB_COMPLETION_INDEX` from the pod's index annotation. */
function addCompletionIndexEnv(spec: Record<string, unknown>): void {
  for (const field of ['initContainers', 'containers']) {
    const list = spec[field];
    if (!Array.isArray(list)) continue;
    for (const container of list as { env?: Record<string, unknown>[] }[]) {
      const env = container.env ?? [];
      if (env.some((e) => e['name'] === 'JOB_COMPLETION_INDEX')) continue;
      container.env = [
        ...env,
        {
          name: 'JOB_COMPLETION_INDEX',
          valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${completionIndexKey}']` } },
        },
      ];
    }
  }
}
