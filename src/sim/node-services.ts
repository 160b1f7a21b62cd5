import type { Backoff } from './backoff.js';
import type { SimContext } from './context.js';
import type { ImagePuller } from './image-puller.js';
import type { ContainerRuntime } from './runtime.js';
import type { KubeObject } from './types.js';

/** What the node lends each pod worker: its identity, runtime, image store and shared back-offs. */
export interface NodeServices {
  ctx: SimContext;
  nodeName: string;
  hostIP: string;
  runtime: ContainerRuntime;
  images: ImagePuller;
  /** Container restart back-off (CrashLoopBackOff), keyed per pod and container. */
  restarts: Backoff;
  /** Sandbox creation and each container create+start, in cluster ms. */
  startLatencyMs: number;
  /** Bytes a container's log file holds before it is rotated (`containerLogMaxSize`). */
  containerLogMaxSize: number;
  /** Log files a container keeps, the current one included (`containerLogMaxFiles`). */
  containerLogMaxFiles: number;
  /** Node allocatable for `resourceFieldRef` defaults: cpu in cores, memory and ephemeral-storage in bytes. */
  allocatable: { cpu: number; memory: number; 'ephemeral-storage': number };
  /** Cluster time in ms (real time divided by the time scale): the back-offs' clock. */
  clusterNow(): number;
  /** Waits `clusterMs` of cluster time. */
  sleep(clusterMs: number): Promise<void>;
  allocatePodIP(): string;
  releasePodIP(ip: string): void;
  /** The worker's view changed: its status is written on the next turn (coalesced). */
  statusChanged(uid: string): void;
  /** Writes the worker's status now (before a delete that must follow it). */
  flushStatus(uid: string): void;
  /** The kubelet's final delete of a pod it stopped (grace 0, uid precondition). */
  deleteWithoutGrace(pod: KubeObject): void;
  /** Asks for a sync of the worker outside the current call stack. */
  requestSync(uid: string): void;
}
