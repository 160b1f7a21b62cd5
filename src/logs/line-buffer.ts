/*
 * A bounded buffer between a log stream that pushes (`Runner.logs$`, an Observable: it emits as
 * lines arrive and cannot be slowed down) and a reader that pulls at its own pace. RxJS has no
 * backpressure, so a subscriber that handles lines asynchronously (`concatMap`, `for await` over
 * an unbounded adapter) would otherwise queue every line a chatty pod prints.
 */
import type { Observable, Subscription } from 'rxjs';

/** The line a reader gets in place of `count` lines dropped because it read too slowly. */
export function droppedLinesMarker(count: number): string {
  return `[k8s-jobs: ${count} lines dropped]`;
}

/** Bounds of a {@link LogLineBuffer}. */
export interface LogLineBufferOptions {
  /** Lines held at most. @default 10000 */
  maxLines?: number;
  /** Characters held at most (a single longer line is still held, alone). @default 4194304 */
  maxChars?: number;
}

/** A reader's side of a bounded log buffer: an async iterator of lines, and what it dropped. */
export interface LogLineBuffer extends AsyncIterableIterator<string> {
  /** Lines dropped so far (each gap is also announced in the stream by {@link droppedLinesMarker}). */
  readonly dropped: number;
  /** Lines held now, waiting for the reader. */
  readonly held: number;
  /** Characters held now. */
  readonly heldChars: number;
}

/**
 * Subscribes to `lines` at once and holds what arrives for a reader that pulls with `next()` (or
 * `for await`), in O(maxLines + maxChars) memory: when a line arrives while the buffer is full,
 * the oldest lines held are dropped and counted, and the reader's next line is a
 * `[k8s-jobs: N lines dropped]` marker where the gap is. A reader that keeps up loses nothing.
 * The stream's error is thrown after the lines held before it; `return()` (leaving a
 * `for await`) unsubscribes.
 *
 * @example
 * ```ts
 * for await (const line of bufferLogLines(runner.logs$(id), { maxLines: 1000 })) {
 *   await slowSink.write(line); // a gap shows as `[k8s-jobs: 1234 lines dropped]`
 * }
 * ```
 */
export function bufferLogLines(lines: Observable<string>, options: LogLineBufferOptions = {}): LogLineBuffer {
  const maxLines = options.maxLines ?? 10_000;
  const maxChars = options.maxChars ?? 4 * 1024 * 1024;
  if (!Number.isInteger(maxLines) || maxLines < 1)
    throw new RangeError(`maxLines must be an integer ≥ 1, got ${maxLines}`);
  if (!(maxChars >= 1)) throw new RangeError(`maxChars must be ≥ 1, got ${maxChars}`);

  // A ring of `maxLines` slots: `start` is the oldest line, `count` lines follow it.
  const ring: (string | undefined)[] = new Array<string | undefined>(maxLines);
  let start = 0;
  let count = 0;
  let chars = 0;
  let dropped = 0;
  /** Drops not yet announced to the reader. */
  let unannounced = 0;
  let done = false;
  let failure: { error: unknown } | undefined;
  let waiting: ((result: IteratorResult<string>) => void) | undefined;
  let failWaiting: ((error: unknown) => void) | undefined;

  const shift = (): string => {
    const line = ring[start]!;
    ring[start] = undefined;
    start = (start + 1) % maxLines;
    count--;
    chars -= line.length;
    return line;
  };

  const take = (): IteratorResult<string> | undefined => {
    if (unannounced > 0) {
      const marker = droppedLinesMarker(unannounced);
      unannounced = 0;
      return { value: marker, done: false };
    }
    if (count > 0) return { value: shift(), done: false };
    return undefined;
  };

  const settle = (): void => {
    if (!waiting) return;
    const result = take();
    const resolve = waiting;
    const reject = failWaiting;
    if (result) {
      waiting = failWaiting = undefined;
      resolve(result);
    } else if (failure) {
      const { error } = failure;
      waiting = failWaiting = undefined;
      failure = undefined;
      done = true;
      reject?.(error);
    } else if (done) {
      waiting = failWaiting = undefined;
      resolve({ value: undefined, done: true });
    }
  };

  const subscription: Subscription = lines.subscribe({
    next(line) {
      while (count > 0 && (count >= maxLines || chars + line.length > maxChars)) {
        shift();
        dropped++;
        unannounced++;
      }
      ring[(start + count) % maxLines] = line;
      count++;
      chars += line.length;
      settle();
    },
    error(error: unknown) {
      failure = { error };
      settle();
    },
    complete() {
      done = true;
      settle();
    },
  });

  const buffer: LogLineBuffer = {
    get dropped() {
      return dropped;
    },
    get held() {
      return count;
    },
    get heldChars() {
      return chars;
    },
    next() {
      if (waiting) return Promise.reject(new Error('bufferLogLines: next() called before the previous one settled'));
      const result = take();
      if (result) return Promise.resolve(result);
      if (failure) {
        const { error } = failure;
        // Thrown once: the iterator is finished after it.
        failure = undefined;
        done = true;
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the stream's own error, passed on as is
        return Promise.reject(error);
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise<IteratorResult<string>>((resolve, reject) => {
        waiting = resolve;
        failWaiting = reject;
      });
    },
    return() {
      subscription.unsubscribe();
      done = true;
      start = count = chars = unannounced = 0;
      ring.fill(undefined);
      waiting?.({ value: undefined, done: true });
      waiting = failWaiting = undefined;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return buffer;
    },
  };
  return buffer;
}
