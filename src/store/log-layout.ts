/**
 * How a log snapshot maps to store entries. Today one entry, `logs:<id>`, holds the whole capped
 * snapshot (the runner caps it, 1 MiB by default). This module is the one place to change when
 * snapshots are split into bounded chunks (`logs:<id>` as a head listing `logs:<id>:<n>` parts):
 * the task store only calls {@link logSnapshotEntries}, {@link logSnapshotKeys} and
 * {@link readLogSnapshot}.
 */
import type { LogSnapshot } from './contract.js';

/** Key of a task's latest log snapshot. */
export const logsKey = (taskId: string): string => `logs:${taskId}`;

/** What `logs:<id>` holds. */
export interface LogSnapshotEnvelope {
  schemaVersion: number;
  updatedAt: string;
  snapshot: LogSnapshot;
}

/** The entries that store one snapshot, written together in one batch. */
export function logSnapshotEntries(
  snapshot: LogSnapshot,
  schemaVersion: number,
  updatedAt: string,
): Array<[key: string, value: LogSnapshotEnvelope]> {
  return [[logsKey(snapshot.taskId), { schemaVersion, updatedAt, snapshot }]];
}

/** Every key a task's snapshot may occupy (removed together when the task is purged). */
export function logSnapshotKeys(taskId: string): string[] {
  return [logsKey(taskId)];
}

/** Reads a task's snapshot back through `read` (which sees queued writes before the disk). */
export async function readLogSnapshot(
  taskId: string,
  read: (key: string) => Promise<unknown>,
): Promise<LogSnapshot | undefined> {
  const envelope = (await read(logsKey(taskId))) as LogSnapshotEnvelope | undefined;
  return envelope?.snapshot;
}
