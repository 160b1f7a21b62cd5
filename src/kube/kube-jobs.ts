import { JobConflictError, KubernetesApiError } from '../errors.js';
import { fingerprintAnnotation, jobNameLabels } from '../jobs/labels.js';
import type { CreateJobInput, CreateJobOutput, PodView } from '../machines/task/contract.js';
import type { JobsPort } from '../ports/jobs-port.js';
import { buildJobManifest } from './job-manifest.js';
import type { KubeApi } from './kube-api.js';
import type { JobLogFollower } from './log-follow.js';
import type { LogReader } from './logs.js';
import { toJobView, toOwnedJob, toPodView } from './views.js';

export interface KubeJobsOptions {
  api: KubeApi;
  /** Capped log reads. */
  logs: LogReader;
  /** Live log follows. */
  follower: JobLogFollower;
  /** `ttlSecondsAfterFinished` of a created Job whose task sets none (see `buildJobManifest`). @default none */
  defaultTtlSecondsAfterFinished?: number;
}

/** `JobsPort` over client-node: the calls of `api`, their results turned into our views. */
export function createKubeJobs(options: KubeJobsOptions): JobsPort {
  const { api, logs, follower, defaultTtlSecondsAfterFinished } = options;
  return {
    namespace: api.namespace,
    createJob: (input, signal) => createOrAdopt(api, { ...input, defaultTtlSecondsAfterFinished }, signal),
    getJob: async (name, signal) => {
      const job = await api.getJob(name, signal);
      return job && toJobView(job);
    },
    deleteJob: (name, deleteOptions) => api.deleteJob(name, deleteOptions),
    listJobs: async (signal) => (await api.listJobs(signal)).items.map(toOwnedJob),
    listJobPods: (jobName, signal) => listJobPods(api, jobName, signal),
    readJobLog: (jobName, readOptions) => logs.readJobLog(jobName, readOptions),
    followJobLog: (followOptions) => follower.follow(followOptions),
  };
}

/** The Job's pods by the Job controller's job-name label, oldest first. */
export async function listJobPods(api: KubeApi, jobName: string, signal?: AbortSignal): Promise<PodView[]> {
  const list = await api.listPods(signal, `${jobNameLabels[0]}=${jobName}`);
  const pods = list.items.map(toPodView);
  return pods.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
}

/**
 * Creates the task's Job. On `409 AlreadyExists` it reads the existing Job: the same fingerprint
 * annotation means it is ours (a create that reached the API before a crash or a timeout) and is
 * adopted; anything else throws `JobConflictError`.
 */
async function createOrAdopt(
  api: KubeApi,
  input: CreateJobInput & { defaultTtlSecondsAfterFinished?: number },
  signal?: AbortSignal,
): Promise<CreateJobOutput> {
  const { namespace } = api;
  const body = buildJobManifest({ ...input, namespace });
  for (let round = 1; ; round++) {
    let conflict: KubernetesApiError;
    try {
      const created = await api.createJob(body, signal);
      return { uid: created.metadata?.uid ?? '', adopted: false };
    } catch (err) {
      if (!(err instanceof KubernetesApiError) || err.statusCode !== 409) throw err;
      conflict = err;
    }
    const existing = await api.getJob(input.jobName, signal);
    if (!existing) {
      // A 409 followed by a 404 means the Job was deleted in between: create again (bounded).
      if (round < 3) continue;
      throw conflict;
    }
    const found = existing.metadata?.annotations?.[fingerprintAnnotation];
    // Ours even while being deleted: the shared watch then reports it gone, and the task
    // fails as JobVanished rather than silently running a second Job.
    if (found === input.fingerprint) return { uid: existing.metadata?.uid ?? '', adopted: true };
    throw new JobConflictError(namespace, input.jobName, input.taskId, input.fingerprint, found);
  }
}
