/**
 * The `retention` option of `createRunner`: how long finished tasks stay in the store, per
 * outcome. Its schema and defaults; the purger that applies it is `retention.ts`.
 */
import { z } from 'zod';
import type { TaskOutcome } from '../types.js';

/** How many finished tasks of one outcome the store keeps, and for how long. */
export interface RetentionRule {
  /** Purge a task this long after it finished (was `deleted`: its Job cleaned up). */
  maxAgeSeconds?: number;
  /** Keep at most this many tasks of the outcome (the ones that finished last). */
  maxCount?: number;
}

/**
 * Retention of finished (`deleted`) tasks, per outcome; open tasks are never purged. A task past
 * either limit of its outcome's rule is purged — its record, transitions, log snapshot and index
 * entries together — by a background purge in small batches. A rule given replaces that outcome's
 * default whole; `null` keeps every task of that outcome.
 */
export interface RetentionOptions {
  /** @default { maxAgeSeconds: 604800 (7 days), maxCount: 10000 } */
  succeeded?: RetentionRule | null;
  /** @default { maxAgeSeconds: 2592000 (30 days), maxCount: 10000 } */
  failed?: RetentionRule | null;
  /** @default { maxAgeSeconds: 2592000 (30 days), maxCount: 10000 } */
  timedOut?: RetentionRule | null;
  /** @default { maxAgeSeconds: 604800 (7 days), maxCount: 10000 } */
  cancelled?: RetentionRule | null;
  /** Between the end of one purge round and the start of the next (ms); the first runs at start. @default 60000 */
  intervalMs?: number;
  /** Tasks removed per batch (one store write each); the purge yields between batches. @default 200 */
  batchSize?: number;
}

const day = 24 * 3600;

/**
 * The default rules: a week of successes and cancellations, a month of failures and timeouts (the
 * ones someone comes back to investigate), and never more than 10,000 of any outcome, so a runner
 * left with the defaults holds at most 40,000 finished tasks however many it runs.
 */
export const defaultRetention = {
  succeeded: { maxAgeSeconds: 7 * day, maxCount: 10_000 },
  failed: { maxAgeSeconds: 30 * day, maxCount: 10_000 },
  timedOut: { maxAgeSeconds: 30 * day, maxCount: 10_000 },
  cancelled: { maxAgeSeconds: 7 * day, maxCount: 10_000 },
} as const satisfies Record<TaskOutcome, RetentionRule>;

const rule = z
  .strictObject({
    maxAgeSeconds: z
      .number()
      .int()
      .min(1)
      .max(100 * 365 * day)
      .optional(),
    maxCount: z.number().int().min(0).max(1_000_000_000).optional(),
  })
  .refine((r) => r.maxAgeSeconds !== undefined || r.maxCount !== undefined, {
    error: 'must set maxAgeSeconds or maxCount (or be null to keep every task)',
  })
  .nullable();

/** The schema of `RunnerOptions.retention`. */
export const retentionSchema = z
  .strictObject({
    succeeded: rule.default(defaultRetention.succeeded),
    failed: rule.default(defaultRetention.failed),
    timedOut: rule.default(defaultRetention.timedOut),
    cancelled: rule.default(defaultRetention.cancelled),
    intervalMs: z
      .number()
      .int()
      .min(1)
      .max(7 * day * 1000)
      .default(60_000),
    batchSize: z.number().int().min(1).max(10_000).default(200),
  })
  .prefault({});

/** `retention` with every default filled in. */
export type ResolvedRetention = z.output<typeof retentionSchema>;
