import { finished } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { KubernetesApiError } from '../errors.js';
import type { ContainerView } from '../machines/task/contract.js';
import type { FollowEnd, FollowJobLogOptions } from '../ports/job-logs.js';
import { kubeCall, type KubeCallPolicy } from './kube-call.js';
import type { KubeClient } from './kube-client.js';
import { latestPod, logContainerOf, openPodLog } from './logs.js';

/** The stream ended without the chunked terminator: a dropped connection, to be followed again. */
class StreamDropped extends Error {}

/**
 * The longest line a follower holds before passing it on in pieces: a container printing without
 * newlines (the kubelet serves a long line as 16 KiB records, each with its own timestamp when
 * `timestamps=true`) must not grow the follower's buffer without end.
 */
export const maxFollowedLineChars = 256 * 1024;

/** A kubelet log line with `timestamps=true`: RFC 3339 time (nanoseconds, any offset), a space, the text. */
const timestamped = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) /;

/** Splits a `timestamps=true` line into its time (ns since the epoch) and its text; undefined if it has none. */
export function parseTimestampedLine(line: string): { ns: bigint; text: string } | undefined {
  const match = timestamped.exec(line);
  if (!match) return undefined;
  const [prefix, seconds = '', fraction = '', zone = 'Z'] = match;
  const ms = Date.parse(`${seconds}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return { ns: BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0') || '0'), text: line.slice(prefix.length) };
}

/**
 * Where a follower is in one pod's log, so that a reconnection resumes without loss or repeats.
 * `sinceTime` has whole-second resolution (the API server forwards it to the kubelet as RFC 3339),
 * so a resumed stream repeats the lines of that second: those before the last line seen are
 * skipped, and of those stamped exactly as the last one seen, as many as were already emitted.
 */
export class LogCursor {
  #pod: string | undefined;
  #lastNs: bigint | undefined;
  /** Lines emitted with the time `#lastNs`. */
  #atLast = 0;
  /** Lines with the time `#lastNs` seen on the current connection. */
  #seenAtLast = 0;
  /** Bytes of the pod's log emitted so far. */
  offset = 0;

  /** Starts over when the followed pod changes (a new pod's log starts empty). */
  forPod(uid: string): void {
    if (this.#pod === uid) return;
    this.#pod = uid;
    this.#lastNs = undefined;
    this.#atLast = 0;
    this.offset = 0;
  }

  /** A new connection begins: its replay of the last second is yet to come. */
  connect(): void {
    this.#seenAtLast = 0;
  }

  /** The `sinceTime` to resume from (the last line's second), or undefined to read from the start. */
  sinceTime(): string | undefined {
    if (this.#lastNs === undefined) return undefined;
    return `${new Date(Number(this.#lastNs / 1_000_000_000n) * 1000).toISOString().slice(0, 19)}Z`;
  }

  /** Whether a line stamped `ns` is new (to emit) rather than a repeat; counts it if new. */
  accept(ns: bigint): boolean {
    if (this.#lastNs !== undefined) {
      if (ns < this.#lastNs) return false;
      if (ns === this.#lastNs) {
        this.#seenAtLast++;
        if (this.#seenAtLast <= this.#atLast) return false;
        this.#atLast++;
        return true;
      }
    }
    this.#lastNs = ns;
    this.#atLast = 1;
    this.#seenAtLast = 1;
    return true;
  }
}

/** A container whose log can be read: it has started at least once. */
function hasStarted(container: ContainerView | undefined): boolean {
  return (
    container !== undefined &&
    (container.running !== undefined || container.terminated !== undefined || container.lastTerminated !== undefined)
  );
}

/**
 * Follows the live log of a Job's newest pod (`follow=true&timestamps=true`), through every drop:
 * a stream cut short is requested again from the last line's `sinceTime` and the repeated lines
 * are skipped (`LogCursor`); a pod not started yet, gone, or replaced is waited for through
 * `changes`. Every request goes through the runner's `kubeCall` policy (rate limit, retries).
 *
 * Nothing queues here: lines go to `onLine` as each chunk arrives (a line longer than
 * `maxFollowedLineChars` in pieces), and a consumer slower than the pod is the caller's to bound
 * (`bufferLogLines` for `logs$`); a synchronous consumer just stops the socket being read.
 *
 * Requests go through `openPodLog` (client-node's `Log` does not forward stream errors, so a
 * dropped connection would look like the end of the log).
 */
export class JobLogFollower {
  readonly #client: KubeClient;
  readonly #policy: KubeCallPolicy;

  constructor(options: { client: KubeClient; policy: KubeCallPolicy }) {
    this.#client = options.client;
    this.#policy = options.policy;
  }

  /**
   * Resolves once `finished()` holds (or `changes` completed) and the last stream ended, or when
   * `signal` aborts; rejects with `KubernetesApiError` when a request fails for good (retries
   * exhausted, or a status other than 400/404). A stream open when the task finishes is read to
   * its end (the kubelet ends it once the exited container's log is sent), so a reader that fell
   * behind still gets the rest; one cut then is resumed, and one silent for `requestTimeoutMs`
   * with the task finished is given up (a node gone, a half-open connection).
   */
  async follow(options: FollowJobLogOptions): Promise<FollowEnd> {
    const { signal, changes } = options;
    const changedSince = (seen: number): Promise<void> => changes.since(seen, signal);
    const cursor = new LogCursor();
    let drainedPod: string | undefined;
    let resumingCut = false;
    for (;;) {
      changes.throwIfFailed();
      if (signal.aborted) return {};
      if (!resumingCut && (changes.ended || options.finished())) return { drainedPod };
      resumingCut = false;
      const seen = changes.version;
      const pod = latestPod(options.pods());
      const container = pod ? logContainerOf(pod) : undefined;
      if (!pod || !container || !hasStarted(pod.containers.find((c) => c.name === container))) {
        await changedSince(seen);
        continue;
      }
      cursor.forPod(pod.uid);
      drainedPod = undefined;
      try {
        const end = await this.#followOnce(pod.name, container, cursor, options);
        if (end === 'givenUp') return {};
        drainedPod = pod.name;
        // The container exited (the kubelet ended the stream): wait for a new pod or the end of the task.
        if (!options.finished()) await changedSince(seen);
      } catch (err) {
        if (signal.aborted) return {};
        if (err instanceof StreamDropped) {
          // The rest of that log is still there to read, even once the task finished.
          resumingCut = true;
          continue;
        }
        // 400: not started (or no longer readable); 404: the pod is gone. The watch will tell what comes next.
        if (err instanceof KubernetesApiError && (err.statusCode === 400 || err.statusCode === 404))
          await changedSince(seen);
        else throw err;
      }
    }
  }

  /**
   * One follow request from the cursor; resolves with `'ended'` when the kubelet ends the stream
   * (or the caller aborts), `'givenUp'` when it stayed silent with the task finished, and rejects
   * with `StreamDropped` when it is cut.
   */
  async #followOnce(
    pod: string,
    container: string,
    cursor: LogCursor,
    { signal, onLine, finished: taskFinished }: FollowJobLogOptions,
  ): Promise<'ended' | 'givenUp'> {
    const sinceTime = cursor.sinceTime();
    const response = await kubeCall(
      this.#policy,
      'get',
      `pods/${pod}/log`,
      (s) =>
        openPodLog(
          this.#client,
          pod,
          { container, follow: 'true', timestamps: 'true', ...(sinceTime !== undefined ? { sinceTime } : {}) },
          s,
        ),
      signal,
    );
    // Aborted while the answer was on its way: the listener below would never fire.
    if (signal.aborted) {
      response.destroy();
      return 'ended';
    }
    cursor.connect();
    // A line longer than `maxFollowedLineChars` comes in pieces: only the first has a timestamp,
    // and the others go (or are skipped, as a repeat) with it.
    let continuing = false;
    let skipping = false;
    const emit = (raw: string): void => {
      const continuation = continuing;
      continuing = !raw.endsWith('\n');
      if (continuation && skipping) return;
      const parsed = continuation ? undefined : parseTimestampedLine(raw);
      // Without a timestamp there is nothing to resume from: pass it on as it is.
      skipping = parsed !== undefined && !cursor.accept(parsed.ns);
      if (skipping) return;
      const text = parsed ? parsed.text : raw;
      cursor.offset += Buffer.byteLength(text);
      onLine({ text: text.endsWith('\n') ? text.slice(0, -1) : text, pod, offset: cursor.offset });
    };
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        response.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // A running container may be silent for hours; a stream silent that long once it exited is
      // not going to end by itself. Checked every `requestTimeoutMs`: given up after 1 to 2 of them.
      let heard = false;
      let givenUp = false;
      const silence = setInterval(() => {
        if (!heard && taskFinished()) {
          givenUp = true;
          response.destroy();
        }
        heard = false;
      }, this.#policy.requestTimeoutMs ?? 30_000);
      const decoder = new StringDecoder('utf8');
      let pending = '';
      response.on('data', (chunk: Buffer) => {
        heard = true;
        pending += decoder.write(chunk);
        for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
          emit(pending.slice(0, newline + 1));
          pending = pending.slice(newline + 1);
        }
        for (; pending.length > maxFollowedLineChars; pending = pending.slice(maxFollowedLineChars))
          emit(pending.slice(0, maxFollowedLineChars));
      });
      finished(response, (err) => {
        signal.removeEventListener('abort', onAbort);
        clearInterval(silence);
        if (givenUp) {
          resolve('givenUp');
          return;
        }
        // A partial line of a cut stream is dropped: the next connection reads it whole.
        if (err) {
          reject(new StreamDropped(`the log stream of pod ${pod} was cut`, { cause: err }));
          return;
        }
        pending += decoder.end();
        if (pending !== '') emit(pending);
        resolve('ended');
      });
    });
  }
}
