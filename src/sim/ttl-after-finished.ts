import { ApiError } from './api-error.js';
import { strategyFor, type SimContext } from './context.js';
import type { Controller } from './controller.js';
import { isJobFinished, jobFinishTime } from './job-status.js';
import { deleteObject } from './rest.js';
import type { KubeObject, StoreEvent } from './types.js';
import { objectKey, splitObjectKey, WorkQueue } from './work-queue.js';

function needsCleanup(job: KubeObject): boolean {
  return typeof job.spec?.ttlSecondsAfterFinished === 'number' && isJobFinished(job) && !job.metadata.deletionTimestamp;
}

/**
 * The TTL-after-finished controller (`pkg/controller/ttlafterfinished`): a Job with
 * `ttlSecondsAfterFinished` is deleted that many seconds after its Complete/Failed condition's
 * `lastTransitionTime` — real seconds, as the user wrote them, never scaled — with
 * `propagationPolicy: Foreground` and a uid precondition, so its pods go before it.
 */
class TtlAfterFinishedController implements Controller {
  readonly #ctx: SimContext;
  readonly #queue: WorkQueue;
  readonly #unsubscribe: () => void;

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
    this.#queue = new WorkQueue({
      clock: ctx.clock,
      handle: (key) => this.#process(key),
      onError: (key, err) =>
        process.emitWarning(`ttl-after-finished-controller: ${key}: ${err instanceof Error ? err.stack : String(err)}`),
    });
    for (const job of ctx.store.list('jobs')) if (needsCleanup(job)) this.#queue.add(objectKey(job));
    this.#unsubscribe = ctx.store.subscribe((event) => this.#onEvent(event));
  }

  stop(): void {
    this.#unsubscribe();
    this.#queue.stop();
  }

  #onEvent({ resource, type, object }: StoreEvent): void {
    if (resource === 'jobs' && type !== 'DELETED' && needsCleanup(object)) this.#queue.add(objectKey(object));
  }

  #process(key: string): void {
    const job = this.#ctx.store.read('jobs', ...splitObjectKey(key));
    if (!job || !needsCleanup(job)) return;
    const finishedAt = jobFinishTime(job) ?? this.#ctx.clock.now();
    const left = finishedAt + Number(job.spec.ttlSecondsAfterFinished) * 1000 - this.#ctx.clock.now();
    if (left > 0) {
      this.#queue.addAfter(key, left);
      return;
    }
    try {
      deleteObject(this.#ctx, strategyFor(this.#ctx, 'jobs'), job.metadata.namespace, job.metadata.name, {
        propagationPolicy: 'Foreground',
        preconditions: { uid: job.metadata.uid },
      });
    } catch (err) {
      // Gone or replaced meanwhile: nothing of this Job is left to clean up.
      if (!(err instanceof ApiError) || (err.code !== 404 && err.code !== 409)) throw err;
    }
  }
}

/** Starts the TTL-after-finished controller on the simulated cluster's store. */
export function startTtlAfterFinishedController(ctx: SimContext): Controller {
  return new TtlAfterFinishedController(ctx);
}
