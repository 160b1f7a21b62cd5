/**
 * The transitions a live dashboard has seen on `transitions$`, per task, for the most recent tasks:
 * the store's history lags the stream (a transition is streamed before its write is durable), and a
 * runner given without a store has no history at all. Merged with the store's on each task page.
 */
import type { Observable, Subscription } from 'rxjs';
import { BoundedCache } from '../collections/bounded-cache.js';
import type { Transition } from '../types.js';

/** Tasks remembered at most (the least recently changed are forgotten first). */
export const rememberedTasks = 1000;

/** Transitions kept per task at most (a task retried many times keeps its latest). */
const perTask = 200;

const keyOf = (t: Transition): string => `${t.at}|${t.from ?? ''}|${t.to}|${t.event}`;

export class TransitionMemory {
  /** Least recently changed first. */
  readonly #byTask = new BoundedCache<string, Transition[]>(rememberedTasks);
  readonly #subscription: Subscription;

  constructor(transitions$: Observable<Transition>) {
    this.#subscription = transitions$.subscribe((t) => {
      const list = this.#byTask.peek(t.taskId) ?? [];
      this.#byTask.set(t.taskId, [...list.slice(-(perTask - 1)), t]);
    });
  }

  /** `stored` (oldest first) with the transitions seen here that it lacks, in time order. */
  merge(taskId: string, stored: readonly Transition[]): Transition[] {
    // A read does not count as a change: the task keeps its place.
    const seen = this.#byTask.peek(taskId);
    if (!seen) return [...stored];
    const keys = new Set(stored.map(keyOf));
    const merged = [...stored, ...seen.filter((t) => !keys.has(keyOf(t)))];
    return merged.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  close(): void {
    this.#subscription.unsubscribe();
  }
}
