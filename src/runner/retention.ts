/**
 * The background purge that applies the `retention` option: every `intervalMs`, one round over
 * the outcomes that have a rule, each in batches of `batchSize` tasks found by the store's
 * retention index (`TaskStore.purgeFinished`). Between batches it yields to the event loop, and
 * its removals go through the store's group commit like every other write, so the runner's own
 * writes are never held back behind a whole round. A failed round is reported (`events$`,
 * `retentionFailed`) and tried again at the next interval.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { TaskStore } from '../store/contract.js';
import type { TaskOutcome } from '../types.js';
import type { ResolvedRetention } from './retention-options.js';

/** Free SQLite pages given back to the file system after each batch (4 KiB each by default). */
export const releasedPagesPerBatch = 512;

const outcomes = ['succeeded', 'failed', 'timedOut', 'cancelled'] as const satisfies readonly TaskOutcome[];

/** What the purge needs from the runner. */
export interface RetentionDeps {
  store: TaskStore;
  retention: ResolvedRetention;
  /** The runner's clock (epoch ms): `maxAgeSeconds` counts back from it. */
  now: () => number;
  /** Told of each batch removed (metrics, and the registry's cache of finished tasks). */
  onPurged: (outcome: TaskOutcome, ids: readonly string[]) => void;
  /** Told of a round that failed (and of which outcome), with the error. */
  onError: (err: unknown, outcome: TaskOutcome) => void;
}

/** What one round removed, by outcome. */
export type RetentionRound = Record<TaskOutcome, number>;

/** Runs the purge rounds; `start` schedules them, `stop` ends them (awaiting a round under way). */
export class RetentionPurger {
  readonly #deps: RetentionDeps;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<RetentionRound> | undefined;
  #stopped = false;

  constructor(deps: RetentionDeps) {
    this.#deps = deps;
  }

  /** Whether any outcome has a rule (else there is nothing to schedule). */
  get enabled(): boolean {
    return outcomes.some((outcome) => this.#deps.retention[outcome] !== null);
  }

  /**
   * Runs a first round soon (on the next timer tick), then one every `intervalMs` after each ends.
   * A stopped purger starts again (a replica that leads again).
   */
  start(): void {
    this.#stopped = false;
    clearTimeout(this.#timer);
    if (this.enabled) this.#schedule(0);
  }

  /** No round starts from now on; resolves once a round under way has finished its batch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round?.catch(() => undefined);
  }

  /**
   * One round now (or the one under way): every outcome with a rule, batch after batch until none
   * is full. Rejects with the first failure (after reporting it); a stop ends it between batches.
   */
  runNow(): Promise<RetentionRound> {
    this.#round ??= this.#run().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      // Reported by the round itself (onError): the next one is scheduled either way.
      this.runNow()
        .catch(() => undefined)
        .finally(() => this.#schedule(this.#deps.retention.intervalMs));
    }, delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<RetentionRound> {
    const { store, retention, now, onPurged, onError } = this.#deps;
    const removed: RetentionRound = { succeeded: 0, failed: 0, timedOut: 0, cancelled: 0 };
    for (const outcome of outcomes) {
      const rule = retention[outcome];
      if (rule === null) continue;
      try {
        for (;;) {
          if (this.#stopped) return removed;
          const { ids, more } = await store.purgeFinished({
            outcome,
            ...(rule.maxAgeSeconds !== undefined ? { finishedBefore: now() - rule.maxAgeSeconds * 1000 } : {}),
            ...(rule.maxCount !== undefined ? { keepNewest: rule.maxCount } : {}),
            limit: retention.batchSize,
          });
          removed[outcome] += ids.length;
          if (ids.length > 0) {
            onPurged(outcome, ids);
            await store.releaseSpace(releasedPagesPerBatch);
          }
          // A full batch of which nothing could go (writes still queued for each) ends the round too.
          if (!more || ids.length === 0) break;
          await yieldToEventLoop();
        }
      } catch (err) {
        onError(err, outcome);
        throw err;
      }
    }
    return removed;
  }
}
