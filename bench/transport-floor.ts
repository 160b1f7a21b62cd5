/**
 * The engine's API traffic without the engine: per task, what a runner sends and reads — create
 * the Job, see it Complete on a shared Jobs watch, learn its pod from a shared Pods watch, read
 * the pod's log, delete the Job (Background) and see it gone — over the runner's own transport:
 * its keep-alive client (`createKubeClient`), its requests (`requestJson`, `openRequest`) and
 * client-node's `Watch`, as its watcher uses it. No state machine, no store, no rate limiter, no
 * retries. Its CPU per lifecycle is the floor under the runner's: what the requests and the
 * parsing of every watch event cost on their own.
 */
import { setMaxListeners } from 'node:events';
import { Watch, type KubeConfig, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { createKubeClient } from '../src/kube/kube-client.js';
import { openRequest, requestJson } from '../src/kube/kube-request.js';
import { instantJob, JobMilestones } from './sim-churn.js';

/** {@link instantJob} with its label on the pod template too, so that the Pods watch selects its pod. */
function labelledJob(name: string, label: string): V1Job {
  const job = instantJob(name, label);
  const template = job.spec?.template;
  if (template) template.metadata = { labels: { bench: label } };
  return job;
}

/** Watches `path` for objects labelled `bench=<label>` until `abort()`; an end before that fails `onEnd`. */
async function watchLabelled<T>(
  watch: Watch,
  path: string,
  label: string,
  onEvent: (type: string, object: T) => void,
  onEnd: (err: Error) => void,
): Promise<{ abort(): void }> {
  let stopping = false;
  const controller = await watch.watch(path, { labelSelector: `bench=${label}` }, onEvent, (err) => {
    if (!stopping) onEnd(new Error(`the bench's watch of ${path} ended: ${String(err)}`));
  });
  return {
    abort: () => {
      stopping = true;
      controller.abort();
    },
  };
}

/**
 * Takes `count` Jobs named `<label>-<i>` through create → Complete → log read → delete → gone,
 * `inFlight` at a time, in namespace `default`. Resolves once every Job is gone.
 */
export async function transportFloorLifecycles(
  kubeConfig: KubeConfig,
  options: { count: number; inFlight: number; label: string },
): Promise<void> {
  const namespace = 'default';
  const client = createKubeClient(kubeConfig, namespace);
  const watch = new Watch(client.kubeConfig);
  const jobsPath = `/apis/batch/v1/namespaces/${namespace}/jobs`;
  // One signal for every request (none is ever aborted): each in flight listens on it.
  const signal = new AbortController().signal;
  setMaxListeners(Infinity, signal);
  const milestones = new JobMilestones();
  /** Job name → its pod's name (the Job controller labels its pods `job-name`). */
  const pods = new Map<string, string>();
  /** Jobs whose pod the Pods watch has not shown yet (it is a stream of its own: it can lag). */
  const podWaiters = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  const fail = (err: Error): void => {
    milestones.fail(err);
    for (const waiter of podWaiters.values()) waiter.reject(err);
    podWaiters.clear();
  };
  const jobs = await watchLabelled<V1Job>(
    watch,
    jobsPath,
    options.label,
    (type, job) => milestones.seen(type, job),
    fail,
  );
  const podWatch = await watchLabelled<V1Pod>(
    watch,
    `/api/v1/namespaces/${namespace}/pods`,
    options.label,
    (type, pod) => {
      const jobName = pod.metadata?.labels?.['job-name'];
      if (jobName === undefined) return;
      if (type === 'DELETED') {
        pods.delete(jobName);
        return;
      }
      pods.set(jobName, pod.metadata?.name ?? '');
      podWaiters.get(jobName)?.resolve();
      podWaiters.delete(jobName);
    },
    fail,
  );
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      const name = `${options.label}-${String(next++)}`;
      // Armed before the request: the event may arrive before the response.
      await Promise.all([
        milestones.until(name, 'Complete'),
        requestJson(client, { method: 'POST', path: jobsPath, body: labelledJob(name, options.label) }, signal),
      ]);
      if (!pods.has(name))
        await (milestones.failure
          ? Promise.reject(milestones.failure)
          : new Promise<void>((resolve, reject) => podWaiters.set(name, { resolve, reject })));
      const pod = pods.get(name) ?? '';
      const log = await openRequest(
        client,
        { method: 'GET', path: `/api/v1/namespaces/${namespace}/pods/${pod}/log`, query: { container: 'main' } },
        signal,
      );
      if (log.statusCode !== 200) throw new Error(`the log of pod ${pod} answered ${String(log.statusCode)}`);
      for await (const chunk of log) void chunk;
      await Promise.all([
        milestones.until(name, 'DELETED'),
        requestJson(
          client,
          { method: 'DELETE', path: `${jobsPath}/${name}`, body: { propagationPolicy: 'Background' } },
          signal,
        ),
      ]);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.inFlight }, worker));
  } finally {
    jobs.abort();
    podWatch.abort();
  }
}
