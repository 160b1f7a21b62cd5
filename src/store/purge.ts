/**
 * What a purge of finished tasks checks and removes. The task store finds the candidates in the
 * retention index (`retention-index.ts`) and writes the removals as one batch; this module says
 * which queries are valid and which keys one finished task occupies.
 */
import { ValidationError } from '../errors.js';
import type { TaskRecord } from '../types.js';
import { defaultPurgeBatch, maxPurgeBatch, type PurgeQuery } from './contract.js';
import { claimKey, openKey, taskKey, transitionsKey } from './layout.js';
import { logSnapshotKeys } from './log-layout.js';
import { finishedOutcomes } from './retention-index.js';
import { indexKeys, staleIndexKeys } from './task-index.js';

/** A checked {@link PurgeQuery}, its defaults filled in. */
export type CheckedPurgeQuery = PurgeQuery & { limit: number };

const subject = 'purge query';
const invalid = (field: string, rule: string): ValidationError => new ValidationError([{ field, rule }], subject);
const shown = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** Checks a query (also from JavaScript callers): an outcome, at least one rule, a bounded batch. */
export function checkPurgeQuery(query: PurgeQuery): CheckedPurgeQuery {
  const { outcome, finishedBefore, keepNewest, limit = defaultPurgeBatch } = query;
  if (!finishedOutcomes.includes(outcome)) {
    throw invalid('outcome', `must be one of ${finishedOutcomes.join(', ')}, got ${shown(outcome)}`);
  }
  if (finishedBefore === undefined && keepNewest === undefined) {
    throw invalid('finishedBefore', 'finishedBefore or keepNewest must be given (nothing would match)');
  }
  if (finishedBefore !== undefined && !Number.isFinite(finishedBefore)) {
    throw invalid('finishedBefore', `must be a time in epoch ms, got ${shown(finishedBefore)}`);
  }
  if (keepNewest !== undefined && (!Number.isInteger(keepNewest) || keepNewest < 0)) {
    throw invalid('keepNewest', `must be an integer ≥ 0, got ${shown(keepNewest)}`);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPurgeBatch) {
    throw invalid('limit', `must be an integer from 1 to ${maxPurgeBatch}, got ${shown(limit)}`);
  }
  return { ...query, limit };
}

/**
 * Every key a finished task occupies: its record, transitions, log snapshot, open-task entry (gone
 * already for a `deleted` task; removed anyway) and every index key it may have, whatever state
 * it was last indexed under.
 */
export function keysOfTask(record: TaskRecord): string[] {
  return [
    taskKey(record.id),
    transitionsKey(record.id),
    claimKey(record.id),
    openKey(record.id),
    ...logSnapshotKeys(record.id),
    ...indexKeys(record),
    ...staleIndexKeys(record, undefined),
  ];
}
