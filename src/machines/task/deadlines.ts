import type { TaskFailure } from '../../types.js';
import type { TaskContext } from './contract.js';

/** The deadlines a running task keeps (absolute epoch ms; they survive a restart as data). */
export type Deadlines = Pick<TaskContext, 'timeoutAt' | 'stuckAt' | 'pendingUntil'>;

/** What a passed deadline decides. */
export interface DeadlineVerdict {
  outcome: 'failed' | 'timedOut';
  failure: TaskFailure;
}

/** The earliest deadline, where the alarm must be armed; `undefined` when there is none. */
export function earliestDeadline(d: Deadlines): number | undefined {
  const all = [d.timeoutAt, d.stuckAt?.at, d.pendingUntil].filter((t): t is number => t !== undefined);
  return all.length ? Math.min(...all) : undefined;
}

/**
 * The verdict of the earliest deadline that has passed at `now`, if any. On a tie the more
 * specific reason wins: a stuck pod's reason, then the timeout, then the generic pending budget
 * (an unschedulable pod fails as `Unschedulable` at the pending budget, not as `PendingTimeout`).
 */
export function dueVerdict(
  ctx: Deadlines & Pick<TaskContext, 'spec' | 'config' | 'lastEvents'>,
  now: number,
): DeadlineVerdict | undefined {
  const events = ctx.lastEvents ?? [];
  const due: { at: number; verdict: DeadlineVerdict }[] = [];
  if (ctx.stuckAt && ctx.stuckAt.at <= now) {
    due.push({ at: ctx.stuckAt.at, verdict: { outcome: 'failed', failure: ctx.stuckAt.failure } });
  }
  if (ctx.timeoutAt !== undefined && ctx.timeoutAt <= now) {
    const seconds = ctx.spec.timeout ?? 0;
    due.push({
      at: ctx.timeoutAt,
      verdict: {
        outcome: 'timedOut',
        failure: { reason: 'Timeout', message: `Task ran longer than its timeout of ${seconds} seconds`, events },
      },
    });
  }
  if (ctx.pendingUntil !== undefined && ctx.pendingUntil <= now) {
    const seconds = ctx.config.stuck.pendingBudgetMs / 1000;
    due.push({
      at: ctx.pendingUntil,
      verdict: {
        outcome: 'failed',
        failure: {
          reason: 'PendingTimeout',
          message: `No container started within the pending budget of ${seconds} seconds`,
          events,
        },
      },
    });
  }
  // Stable sort: equal deadlines keep the specificity order they were pushed in.
  return due.sort((a, b) => a.at - b.at)[0]?.verdict;
}
