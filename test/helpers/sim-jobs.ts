import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubeConfig,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import type { SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import { waitUntil } from './wait.js';

/** A minimal Job manifest (one container), with `spec` fields merged in. */
export function jobManifest(
  name: string,
  spec: Record<string, unknown> = {},
  podSpec: Record<string, unknown> = {},
): V1Job {
  return {
    metadata: { name },
    spec: {
      template: {
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }],
          ...podSpec,
        },
      },
      ...spec,
    },
  };
}

export interface RecordedEvent {
  type: string;
  object: KubeObject;
  at: number;
}

/** Records every event of a watch (real client-node `Watch`) until `stop()`. */
export async function recordWatch(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string> = {},
): Promise<{ events: RecordedEvent[]; stop: () => void }> {
  const events: RecordedEvent[] = [];
  const controller = await new Watch(kubeConfig).watch(
    path,
    query,
    (type, object: KubeObject) => events.push({ type, object, at: Date.now() }),
    () => {},
  );
  return { events, stop: () => controller.abort() };
}

/** The pods the simulated cluster stores for a Job (controller reference by uid). */
export function podsOf(cluster: SimulatedCluster, job: KubeObject | V1Job, namespace = 'default'): KubeObject[] {
  return cluster
    .objects('pods', namespace)
    .filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === job.metadata?.uid));
}

export function jobNamed(cluster: SimulatedCluster, name: string, namespace = 'default'): KubeObject | undefined {
  return cluster.objects('jobs', namespace).find((j) => j.metadata.name === name);
}

export function conditionTypes(job: KubeObject | undefined): string[] {
  return ((job?.status?.conditions ?? []) as { type: string; status: string }[])
    .filter((c) => c.status === 'True')
    .map((c) => c.type);
}

/** Waits until the Job's pods (not being deleted) number `count`, and returns them. */
export async function activePods(
  cluster: SimulatedCluster,
  job: KubeObject | V1Job,
  count: number,
  namespace = 'default',
): Promise<KubeObject[]> {
  return waitUntil(() => {
    const pods = podsOf(cluster, job, namespace).filter(
      (p) => !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(String(p.status?.phase)),
    );
    return pods.length === count ? pods : undefined;
  }, `${count} active pods of ${job.metadata?.name}`);
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * Plays the kubelet through the real API (`PATCH …/pods/x/status`), as controller tests
 * against a real apiserver do: the cluster runs with `kubelet: { enabled: false }`.
 */
export class FakeKubelet {
  readonly #core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace = 'default',
  ) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async #patchStatus(pod: KubeObject, status: Record<string, unknown>): Promise<V1Pod> {
    return this.#core.patchNamespacedPodStatus(
      { name: pod.metadata.name, namespace: this.namespace, body: { status } },
      mergePatch,
    );
  }

  /** Running, all containers ready. */
  async run(pod: KubeObject, restartCount = 0): Promise<V1Pod> {
    const now = new Date().toISOString();
    return this.#patchStatus(pod, {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
      containerStatuses: [
        {
          name: 'main',
          image: 'busybox:1.36',
          imageID: '',
          ready: true,
          restartCount,
          started: true,
          state: { running: { startedAt: now } },
        },
      ],
    });
  }

  /** Every container exited with `exitCode`: Succeeded for 0, else Failed (restartPolicy Never). */
  async exit(pod: KubeObject, exitCode: number): Promise<V1Pod> {
    const now = new Date().toISOString();
    return this.#patchStatus(pod, {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: exitCode === 0 ? 'PodCompleted' : 'PodFailed',
          lastTransitionTime: now,
        },
      ],
      containerStatuses: [
        {
          name: 'main',
          image: 'busybox:1.36',
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: {
            terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: now, finishedAt: now },
          },
        },
      ],
    });
  }
}

/** Waits until the stored Job satisfies `predicate`, and returns it. */
export async function jobWhen(
  cluster: SimulatedCluster,
  name: string,
  what: string,
  predicate: (job: KubeObject) => boolean,
  namespace = 'default',
): Promise<KubeObject> {
  return waitUntil(() => {
    const job = jobNamed(cluster, name, namespace);
    return job && predicate(job) ? job : undefined;
  }, `${name}: ${what}`);
}

/** Waits until the stored Job has a True condition of `type`, and returns it. */
export async function jobWithCondition(
  cluster: SimulatedCluster,
  name: string,
  type: string,
  namespace = 'default',
): Promise<KubeObject> {
  return jobWhen(cluster, name, `${type}=True`, (job) => conditionTypes(job).includes(type), namespace);
}

/** Tracks the most of our Jobs unfinished at once, from every change the sim stores. */
export function trackUnfinished(cluster: SimulatedCluster): { most(): number; stop(): void } {
  const unfinished = new Set<string>();
  let most = 0;
  const stop = cluster.onChange(({ resource, type, object }) => {
    if (resource !== 'jobs' || object.metadata.labels?.['app.kubernetes.io/managed-by'] !== 'k8s-jobs') return;
    const name = object.metadata.name ?? '';
    if (type === 'DELETED' || finished(object.status)) unfinished.delete(name);
    else if (type === 'ADDED') unfinished.add(name);
    most = Math.max(most, unfinished.size);
  });
  return { most: () => most, stop };
}

const finished = (status: { conditions?: { type: string; status: string }[] } | undefined): boolean =>
  (status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
