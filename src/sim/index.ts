export {
  startSimulatedCluster,
  type ClusterChange,
  type SimulatedCluster,
  type SimulatedClusterOptions,
} from './cluster.js';
export type { JobCreationRecord, RequestRecord, SimStats } from './stats.js';
export type { KubeObject, ObjectMeta, OwnerReference } from './types.js';
export type {
  ErrorFault,
  FaultCounts,
  FaultHandle,
  FaultInjector,
  FaultKind,
  FaultMatch,
  FaultOptions,
  InjectedFault,
  LatencyFault,
  ResetFault,
  WatchMatch,
} from './faults.js';
export type { DisruptionReason, DisruptPodOptions } from './eviction.js';
export { limitRangerAnnotation } from './limit-range.js';
export type { PolicyRule, RbacOptions } from './rbac.js';
export { policyRulesFromManifest } from './rbac-manifest.js';
export type { KubeletOptions, NodeCapacity } from './kubelet.js';
export type { JobControllerOptions } from './job-controller.js';
export type { InjectedStatus } from './fault-responses.js';
export type { ImagePattern } from './image-puller.js';
export type { PlanContext, PullOutcome, ContainerSpec } from './runtime.js';
export { procAvailable } from './process-memory.js';
export {
  behaviourAnnotation,
  defaultScript,
  type ContainerBehaviour,
  type ContainerScript,
  type ScriptedLogLine,
} from './runtime-scripted.js';
