export { startSimulatedCluster, type SimulatedCluster, type SimulatedClusterOptions } from './cluster.js';
export type { JobCreationRecord, RequestRecord, SimStats } from './stats.js';
export type { KubeObject } from './types.js';
