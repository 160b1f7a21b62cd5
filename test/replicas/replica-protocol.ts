/** What the failover suite and its replica processes tell each other (over the fork IPC channel). */
import type { CrashTask } from '../crash/protocol.js';

/** A replica's configuration: a JSON file whose path is its only argument. */
export interface ReplicaConfig {
  kubeconfigPath: string;
  storeUrl: string;
  identity: string;
  maxConcurrentJobs: number;
  election: { leaseDurationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
}

/** From the suite to a replica. */
export type ReplicaRequest = { type: 'add'; task: CrashTask } | { type: 'cancel'; id: string } | { type: 'shutdown' };

/** From a replica to the suite. */
export type ReplicaReply =
  | { type: 'ready'; pid: number }
  | { type: 'leading'; at: number }
  /** Every other leadership event, for the suite's timeline. */
  | { type: 'leadership'; at: number; change: string; leader: string; reason?: string }
  | { type: 'added'; id: string }
  | { type: 'cancelRequested'; id: string }
  | { type: 'failed'; id: string; error: string };
