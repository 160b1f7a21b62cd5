import { fingerprintSpec } from '../../src/jobs/fingerprint.js';
import { jobNameFor } from '../../src/jobs/job-name.js';
import type { KubeAdapter } from '../../src/kube/kube-adapter.js';
import type { ClusterObservation, CreateJobInput } from '../../src/machines/task/contract.js';
import { parseTaskSpec } from '../../src/validation/parse.js';
import { waitUntil } from './wait.js';

/** The `createJob` input of a task running `command` in busybox. */
export function jobInput(id: string, command: string[] = ['true']): CreateJobInput {
  const spec = parseTaskSpec({ id, image: 'busybox', command });
  return { taskId: id, jobName: jobNameFor(id), spec, fingerprint: fingerprintSpec(spec) };
}

/** Whether the observed Job has a `Complete` or `Failed` condition. */
export const jobFinished = (o: { job: { conditions: { type: string; status: string }[] } | null }): boolean =>
  o.job?.conditions.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ?? false;

/** Creates the task's Job through the adapter and waits until the shared watch shows `until`. */
export async function runJob(
  kube: Pick<KubeAdapter, 'jobs' | 'watcher'>,
  id: string,
  until: (o: ClusterObservation) => boolean,
): Promise<CreateJobInput> {
  const input = jobInput(id, ['sh', '-c', 'true']);
  await kube.jobs.createJob(input);
  await waitUntil(() => {
    const o = kube.watcher.current(input.jobName);
    return o && until(o);
  }, `job ${id}`);
  return input;
}
