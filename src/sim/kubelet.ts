import { parseQuantity } from '../validation/quantity.js';
import { defaultContainerLogMaxFiles, defaultContainerLogMaxSize, type ContainerLog } from './container-logs.js';
import type { SimContext } from './context.js';
import type { Controller } from './controller.js';
import type { ImagePattern } from './image-puller.js';
import { NodeAgent } from './node-agent.js';
import { defaultNodeLabels } from './node-affinity.js';
import { resourceAmount, type ResourceAmounts } from './pod-resources.js';
import { processRuntime } from './runtime-process.js';
import { defaultScript, scriptedRuntime, type ContainerScript } from './runtime-scripted.js';
import { Scheduler } from './scheduler.js';

/** The simulated node's capacity (also its allocatable: nothing is reserved for the system). */
export interface NodeCapacity {
  /** Cores, or a quantity (`'8'`, `'500m'`). @default '8' */
  cpu?: string | number;
  /** A quantity (`'32Gi'`). @default '32Gi' */
  memory?: string | number;
  /** @default '100Gi' */
  'ephemeral-storage'?: string | number;
  /** Pods the node runs at once. @default 110 */
  pods?: number;
  /** Extended resources (`nvidia.com/gpu: 2`); requests of resources the node lacks never fit. */
  [resource: string]: string | number | undefined;
}

/** The node, scheduler, image pulls and container runtime of the simulated cluster. */
export interface KubeletOptions {
  /**
   * false = no scheduler or kubelet at all: pods stay unscheduled and Pending, so tests can play
   * the kubelet through the API (`/status` patches), as controller tests against a real apiserver do.
   * @default true
   */
  enabled?: boolean;
  /** `process` runs containers as local child processes; `scripted` asks `script`. @default 'process' */
  runtime?: 'process' | 'scripted';
  /**
   * What each scripted container does. @default defaultScript (the `sim.k8s-jobs.io/behaviour` annotation, else instant
   * success)
   */
  script?: ContainerScript;
  /** @default 'sim-node' */
  nodeName?: string;
  /**
   * Node labels, added to the well-known ones (`kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch`...).
   */
  nodeLabels?: Record<string, string>;
  /** @default 8 CPU, 32Gi memory, 100Gi ephemeral storage, 110 pods */
  capacity?: NodeCapacity;
  /** Image references whose registry answers NotFound (substring or RegExp). @default ['does-not-exist'] */
  unpullableImages?: ImagePattern[];
  /** Image references whose registry answers 429 Too Many Requests (transient, retried with back-off). @default [] */
  throttledImages?: ImagePattern[];
  /** How long an image pull takes, in cluster ms (scaled). @default 1000 */
  pullLatencyMs?: number;
  /** Pod sandbox creation and each container's create+start, in cluster ms (scaled). @default 500 */
  startLatencyMs?: number;
  /**
   * The kubelet's `containerLogMaxSize`: a container's log file is rotated once it holds more
   * than this (a quantity such as `'10Mi'`, or bytes), and only the current file can be read —
   * so `kubectl logs`, `tailLines`, `sinceTime` and `limitBytes` see what was written since the
   * last rotation, and the simulator's memory per container stays bounded however much it
   * prints: about this size, plus one file per follower still reading a rotated one.
   * @default '10Mi'
   */
  containerLogMaxSize?: string | number;
  /**
   * The kubelet's `containerLogMaxFiles` (an integer ≥ 2): the files a container's log keeps, the
   * current one included. No API serves the rotated ones, so the simulator only counts them and
   * keeps none of their text in memory.
   * @default 5
   */
  containerLogMaxFiles?: number;
}

/** The running node. */
export interface Kubelet extends Controller {
  /** The node's name; undefined when the kubelet is disabled (there is no node). */
  readonly nodeName: string | undefined;
  /** The log of container instance `containerID` (`containerd://…`) of pod `uid`, while the pod exists. */
  containerLog(uid: string, containerID: string): ContainerLog | undefined;
}

/** `containerLogMaxSize` in bytes; a value that is not a positive quantity is a RangeError. */
function containerLogMaxSize(size: string | number = defaultContainerLogMaxSize): number {
  const bytes = typeof size === 'number' ? size : parseQuantity(size);
  if (bytes === undefined || !(bytes > 0)) {
    throw new RangeError(`containerLogMaxSize must be a positive quantity, got ${String(size)}`);
  }
  return Math.ceil(bytes);
}

/** `containerLogMaxFiles`, validated as the kubelet validates it (an integer greater than 1), else a RangeError. */
function containerLogMaxFiles(files: number = defaultContainerLogMaxFiles): number {
  if (!Number.isInteger(files) || files < 2) {
    throw new RangeError(`containerLogMaxFiles must be an integer greater than 1, got ${String(files)}`);
  }
  return files;
}

const defaultCapacity = { cpu: '8', memory: '32Gi', 'ephemeral-storage': '100Gi', pods: 110 } as const;

function allocatableOf(capacity: NodeCapacity = {}): ResourceAmounts {
  const merged: Record<string, string | number | undefined> = { ...defaultCapacity, ...capacity };
  const out: ResourceAmounts = {};
  for (const [name, quantity] of Object.entries(merged)) {
    if (quantity === undefined) continue;
    out[name] = name === 'pods' ? Number(quantity) : resourceAmount(name, quantity);
  }
  return out;
}

/**
 * Starts the simulated node: kube-scheduler binding pending pods to it, and a kubelet running
 * them with the chosen container runtime. With `enabled: false` nothing runs.
 */
export function startKubelet(ctx: SimContext, options: KubeletOptions = {}): Kubelet {
  if (options.enabled === false) return { nodeName: undefined, containerLog: () => undefined, stop() {} };
  const nodeName = options.nodeName ?? 'sim-node';
  const allocatable = allocatableOf(options.capacity);
  const scheduler = new Scheduler(ctx, {
    nodeName,
    allocatable,
    labels: { ...defaultNodeLabels(nodeName), ...options.nodeLabels },
  });
  const runtime =
    options.runtime === 'scripted' ? scriptedRuntime(ctx.clock, options.script ?? defaultScript) : processRuntime();
  const agent = new NodeAgent(ctx, {
    nodeName,
    hostIP: '172.18.0.2',
    runtime,
    unpullableImages: options.unpullableImages ?? ['does-not-exist'],
    throttledImages: options.throttledImages ?? [],
    pullLatencyMs: options.pullLatencyMs ?? 1000,
    startLatencyMs: options.startLatencyMs ?? 500,
    containerLogMaxSize: containerLogMaxSize(options.containerLogMaxSize),
    containerLogMaxFiles: containerLogMaxFiles(options.containerLogMaxFiles),
    allocatable: {
      cpu: (allocatable['cpu'] ?? 0) / 1000,
      memory: allocatable['memory'] ?? 0,
      'ephemeral-storage': allocatable['ephemeral-storage'] ?? 0,
    },
  });
  return {
    nodeName,
    containerLog: (uid, containerID) => agent.log(uid, containerID),
    async stop() {
      scheduler.stop();
      await agent.stop();
    },
  };
}
