/**
 * The store's key layout and value envelopes. Every value carries the schema version it was
 * written with, so a later version can migrate what it reads (see `schema.ts`).
 *
 * Keys (before Keyv's namespace prefix, `k8s-jobs:` for stores we open):
 * - `task:<id>` → {@link TaskEnvelope}
 * - `transitions:<id>` → {@link TransitionsEnvelope}, the task's whole history, oldest first
 * - `logs:<id>` → the latest log snapshot (`log-layout.ts`)
 * - `open:<id>` → {@link OpenEntry}: present exactly while the task is not `deleted` (written in the
 *   batch of its first record, removed in the batch of its `deleted` record), so a boot reads the
 *   open tasks with one prefix scan, never the whole history (since v2)
 * - `idx:all:<order>`, `idx:state:<state>:<order>`, `idx:outcome:<outcome>:<order>` → `1`: the listing
 *   index, newest first, written in the batch of each record (`task-index.ts`; since v3)
 * - `fin:<outcome>:<finished>:<id>` → `1`: the retention index, oldest first, written in the batch of
 *   each `deleted` record (`retention-index.ts`; since v4)
 * - `claim:<id>` → {@link TaskClaim}: the spec that took the id first, when replicas share the store
 * - `cancel:<id>` → {@link CancelRequest}: a cancel asked on a replica that does not lead, until
 *   the leader has acted on it (several replicas over one store)
 * - `meta:schema` → {@link SchemaMeta}
 */
import type { TaskRecord, Transition } from '../types.js';

/** The layout version this code writes. Bump it (and add a migration) when a value's shape changes. */
export const storeSchemaVersion = 4;

/** The Keyv namespace of the stores `openTaskStore` creates. */
export const storeNamespace = 'k8s-jobs';

/** Prefix of the task records. */
export const taskPrefix = 'task:';
/** Key of a task's record. */
export const taskKey = (id: string): string => `${taskPrefix}${id}`;
/** Key of a task's transition history. */
export const transitionsKey = (id: string): string => `transitions:${id}`;
/** Prefix of the open-task index. */
export const openPrefix = 'open:';
/** Key of a task's entry in the open-task index. */
export const openKey = (id: string): string => `${openPrefix}${id}`;
/** Prefix of the cancel requests a follower leaves for the leader. */
export const cancelPrefix = 'cancel:';
/** Key of a task's cancel request. */
export const cancelKey = (id: string): string => `${cancelPrefix}${id}`;
/** What `cancel:<id>` holds. */
export interface CancelRequest {
  taskId: string;
  /** When it was asked (epoch ms). */
  at: number;
}
/** Key of the claim on a task id (several replicas: the first spec stored under an id holds it). */
export const claimKey = (id: string): string => `claim:${id}`;
/** What `claim:<id>` holds. */
export interface TaskClaim {
  /** The fingerprint of the spec that claimed the id. */
  fingerprint: string;
}
/** Key of the store's schema description. */
export const schemaKey = 'meta:schema';

/** What `task:<id>` holds. */
export interface TaskEnvelope {
  schemaVersion: number;
  /** ISO 8601 time of the write. */
  updatedAt: string;
  record: TaskRecord;
  /**
   * What a restart needs beyond the record: the task machine's context (plain JSON, opaque to the
   * store), written with the record it belongs to (since v2).
   */
  context?: Record<string, unknown>;
}

/** What `open:<id>` holds: the task's queue position (queued tasks resume in this order). */
export interface OpenEntry {
  /** Higher runs first. */
  priority: number;
  /** Monotonic enqueue sequence: FIFO within one priority. */
  seq: number;
}

/** What `transitions:<id>` holds. */
export interface TransitionsEnvelope {
  schemaVersion: number;
  updatedAt: string;
  transitions: Transition[];
}

/** What `meta:schema` holds. */
export interface SchemaMeta {
  schemaVersion: number;
  /** ISO 8601 time the store was first opened by k8s-jobs. */
  createdAt: string;
  /** ISO 8601 time of the latest open. */
  openedAt: string;
}
