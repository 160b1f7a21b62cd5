import { z } from 'zod';
import { parseQuantity } from './quantity.js';

/*
 * Retries by reason: what a task does when its pod was lost through no fault of its own
 * (a disruption), its image could not be pulled for a while, or it ran out of memory. Shared by
 * the task spec (`retry`, per task) and the runner's options (`retry`, the default for every task).
 */

const count = (what: string) =>
  z
    .number({ error: (i) => `must be a number of ${what}, got ${JSON.stringify(i.input)}` })
    .int({ error: (i) => `must be a whole number of ${what}, got ${JSON.stringify(i.input)}` })
    .min(0, { error: (i) => `must be ≥ 0, got ${JSON.stringify(i.input)}` })
    .max(100, { error: (i) => `must be ≤ 100, got ${JSON.stringify(i.input)}` });

const memory = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => (parseQuantity(v) ?? 0) > 0, {
    error: (i) => `must be a memory quantity such as "8Gi", got ${JSON.stringify(i.input)}`,
  });

/** `retry.oomKilled`: re-run an out-of-memory task with more memory. */
export const oomRetrySchema = z.strictObject({
  /** New Jobs after an `OOMKilled` failure. @default 0 (off) */
  attempts: count('attempts'),
  /** The container's memory request and limit are multiplied by this each time. @default 2 */
  memoryFactor: z
    .number({ error: (i) => `must be a number, got ${JSON.stringify(i.input)}` })
    .gt(1, { error: (i) => `must be > 1, got ${JSON.stringify(i.input)}` })
    .max(16, { error: (i) => `must be ≤ 16, got ${JSON.stringify(i.input)}` })
    .optional(),
  /** Never more memory than this (the last attempt gets at most it). @default no cap */
  maxMemory: memory.optional(),
});

/** The retry policy as written (every field optional). */
export const retryPolicySchema = z.strictObject({
  /**
   * Pods lost to a disruption (eviction, preemption, node loss: the pod condition
   * `DisruptionTarget`) re-run without counting against `backoffLimit`, at most this many times
   * per task. @default 3
   */
  disruptions: count('disruptions').optional(),
  /**
   * A Job whose image pull failed for a while (not "not found" nor "denied") is made again, at
   * most this many times. @default 1
   */
  imagePull: count('retries').optional(),
  oomKilled: oomRetrySchema.optional(),
});

/** A task's retry policy as written. */
export type RetryPolicyInput = z.input<typeof retryPolicySchema>;
export type RetryPolicySpec = z.output<typeof retryPolicySchema>;

/** A retry policy with every default filled in. */
export interface RetryPolicy {
  disruptions: number;
  imagePull: number;
  oomKilled: { attempts: number; memoryFactor: number; maxMemory?: string };
}

/** The policy when nothing is set. */
export const defaultRetryPolicy: RetryPolicy = {
  disruptions: 3,
  imagePull: 1,
  oomKilled: { attempts: 0, memoryFactor: 2 },
};

/** The task's own policy over the runner's default, field by field. */
export function effectiveRetryPolicy(
  task: RetryPolicySpec | undefined,
  runner: RetryPolicySpec | undefined,
): RetryPolicy {
  const oom = task?.oomKilled ?? runner?.oomKilled;
  return {
    disruptions: task?.disruptions ?? runner?.disruptions ?? defaultRetryPolicy.disruptions,
    imagePull: task?.imagePull ?? runner?.imagePull ?? defaultRetryPolicy.imagePull,
    oomKilled: {
      attempts: oom?.attempts ?? 0,
      memoryFactor: oom?.memoryFactor ?? defaultRetryPolicy.oomKilled.memoryFactor,
      ...(oom?.maxMemory !== undefined ? { maxMemory: oom.maxMemory } : {}),
    },
  };
}
