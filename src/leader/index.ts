/** Leader election over a Lease: the algorithm (pure), the elector loop, and the lock it needs. */
export { LeaderElector, type ElectorDeps, type LeaderEvent, type StopResult } from './elector.js';
export {
  resolveLeaderElectionOptions,
  defaultIdentity,
  type LeaderElectionConfig,
  type LeaderElectionOptions,
} from './options.js';
export { toMicroTime, type LeaseLock, type LeaseRecord, type ObservedLease } from './record.js';
