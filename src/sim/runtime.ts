import type { ContainerLog } from './container-logs.js';
import type { KubeObject } from './types.js';

/** The part of a core/v1 Container the simulated node reads (plain JSON, as stored). */
export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  imagePullPolicy?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- core/v1 EnvVar/EnvFromSource/resources: open JSON
  env?: any[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- core/v1 EnvVar/EnvFromSource/resources: open JSON
  envFrom?: any[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- core/v1 EnvVar/EnvFromSource/resources: open JSON
  resources?: any;
  [field: string]: unknown;
}

/** How a pull of an image ends: found, not found in the registry, or refused by its rate limit (429). */
export type PullOutcome = 'ok' | 'notFound' | 'throttled';

/** Why a container instance ended, as the runtime reports it. */
export interface ContainerExit {
  exitCode: number;
  /** `Completed` (0), `Error` (≠0, including 137/143 when killed), `OOMKilled`. */
  reason: 'Completed' | 'Error' | 'OOMKilled';
  /** Set when a signal ended the process (locally observable; containerd reports only the code). */
  signal?: string;
}

/** A started container instance. */
export interface RunningContainer {
  /** Settles once, with how the instance ended. Never rejects. */
  readonly exited: Promise<ContainerExit>;
  /** Asks it to stop (SIGTERM). */
  terminate(): void;
  /** Ends it now (SIGKILL). */
  kill(): void;
}

/** What starting a container instance led to. */
export type StartOutcome =
  | { kind: 'started'; container: RunningContainer }
  /** The runtime could not start the process: containerd's message (terminated, reason StartError, exit 128). */
  | { kind: 'startError'; message: string }
  /** The runtime never finishes creating it: the container stays waiting in ContainerCreating. */
  | { kind: 'stuck' };

/** Everything the kubelet resolved for one start of one container. */
export interface ContainerStart {
  pod: KubeObject;
  container: ContainerSpec;
  /** `command` + `args` after `$(VAR)` expansion. */
  argv: string[];
  /** The container's environment (env, envFrom, valueFrom resolved). */
  env: Record<string, string>;
  /** Where the instance's stdout/stderr go. */
  log: ContainerLog;
}

/** One planned start of a container: its pull outcome (if the runtime decides it) and how to start it. */
export interface ContainerPlan {
  /** Overrides the node's image rules for this attempt; undefined = the node decides. */
  pull?: PullOutcome;
  start(start: ContainerStart): Promise<StartOutcome>;
}

/** What the kubelet knows when it plans a start. */
export interface PlanContext {
  /** Restarts of this container so far (0 on its first start). */
  restartCount: number;
  /** An init container. */
  init: boolean;
}

/** A container runtime of the simulated node (containerd's role). */
export interface ContainerRuntime {
  plan(pod: KubeObject, container: ContainerSpec, context: PlanContext): ContainerPlan;
  /** Ends every instance still running (cluster shutdown). */
  close(): Promise<void>;
}

/** containerd's StartError message for a process that could not be executed. */
export function startErrorMessage(cause: string): string {
  return `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ${cause}: unknown`;
}
