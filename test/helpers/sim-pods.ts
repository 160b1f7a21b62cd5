import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import type { SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import { waitUntil } from './wait.js';

/** Helpers for tests that drive Pods directly through the API of a simulated cluster. */

/** The behaviour annotation of the scripted runtime's default script. */
export const behaviour = (b: Record<string, unknown>): Record<string, string> => ({
  'sim.k8s-jobs.io/behaviour': JSON.stringify(b),
});

export interface PodSketch {
  name: string;
  namespace?: string;
  annotations?: Record<string, string>;
  /** Merged over `{ restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] }`. */
  spec?: Record<string, unknown>;
  /** Fields of the single container `main` (when `spec.containers` is not given). */
  container?: Record<string, unknown>;
}

/** Creates a Pod through client-node. */
export async function createPod(cluster: SimulatedCluster, sketch: PodSketch): Promise<V1Pod> {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  return core.createNamespacedPod({
    namespace: sketch.namespace ?? 'default',
    body: {
      metadata: { name: sketch.name, annotations: sketch.annotations },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: 'busybox:1.36', ...sketch.container }],
        ...sketch.spec,
      },
    },
  });
}

/** GETs a path of the cluster's API and returns the raw JSON (timestamps as the server wrote them). */
export async function getJson(
  cluster: SimulatedCluster,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${cluster.url}${path}`, { headers: { Authorization: 'Bearer test' } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The stored pod `name` (a copy), or undefined. */
export function podNamed(cluster: SimulatedCluster, name: string, namespace = 'default'): KubeObject | undefined {
  return cluster.objects('pods', namespace).find((p) => p.metadata.name === name);
}

/** Waits until the stored pod satisfies `predicate`, and returns it. */
export async function podWhen(
  cluster: SimulatedCluster,
  name: string,
  what: string,
  predicate: (pod: KubeObject) => boolean,
  options?: { timeoutMs?: number },
): Promise<KubeObject> {
  return waitUntil(
    () => {
      const pod = podNamed(cluster, name);
      return pod && predicate(pod) ? pod : undefined;
    },
    `pod ${name}: ${what}`,
    options,
  );
}

type ContainerStatusJson = {
  name: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: unknown;
    terminated?: { reason?: string; exitCode?: number };
  };
};

/** The status entry of container `container` (regular or init) of a stored pod. */
export function containerStatus(pod: KubeObject, container = 'main'): ContainerStatusJson | undefined {
  const all = [
    ...((pod.status?.containerStatuses ?? []) as ContainerStatusJson[]),
    ...((pod.status?.initContainerStatuses ?? []) as ContainerStatusJson[]),
  ];
  return all.find((s) => s.name === container);
}

/** The waiting reason of container `container`, if it waits. */
export function waitingReason(pod: KubeObject, container = 'main'): string | undefined {
  return containerStatus(pod, container)?.state?.waiting?.reason;
}

/** `Type Reason Message` of every Event about pod `name`, in creation order. */
export function podEvents(cluster: SimulatedCluster, name: string, namespace = 'default'): string[] {
  return cluster
    .objects('events', namespace)
    .filter((e) => (e['involvedObject'] as { name?: string; kind?: string }).name === name)
    .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
    .map((e) => `${String(e['type'])} ${String(e['reason'])} ${String(e['message'])}`);
}

/** The Event about pod `name` with `reason` (the first one), as stored. */
export function podEvent(cluster: SimulatedCluster, name: string, reason: string): KubeObject | undefined {
  return cluster
    .objects('events', 'default')
    .find((e) => (e['involvedObject'] as { name?: string }).name === name && e['reason'] === reason);
}

/**
 * Watches pod `name` and records, with its arrival time, every change of container `main`'s
 * state (`waiting:Reason`, `running`, `terminated:Reason`). `stop()` ends the watch.
 */
export async function recordStates(
  cluster: SimulatedCluster,
  name: string,
  container = 'main',
): Promise<{ states: { state: string; at: number; pod: KubeObject }[]; stop: () => void }> {
  const states: { state: string; at: number; pod: KubeObject }[] = [];
  const watch = new Watch(cluster.kubeConfig);
  const request = await watch.watch(
    '/api/v1/namespaces/default/pods',
    { fieldSelector: `metadata.name=${name}` },
    (_type, obj: KubeObject) => {
      const status = containerStatus(obj, container);
      const state = status?.state?.waiting
        ? `waiting:${status.state.waiting.reason}`
        : status?.state?.running
          ? 'running'
          : status?.state?.terminated
            ? `terminated:${status.state.terminated.reason}`
            : 'none';
      if (states.at(-1)?.state !== state) states.push({ state, at: Date.now(), pod: obj });
    },
    () => {},
  );
  return { states, stop: () => request.abort() };
}
