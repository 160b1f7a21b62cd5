/**
 * What the container runtime keeps of one container instance's output (the CRI log file): each
 * line with the nanosecond time it was read and its stream, readable with the kubelet's
 * `tailLines` / `since` / `timestamps` rules and followable until the container exits.
 */

const originMs = Date.now();
const originHr = process.hrtime.bigint();

/** Wall-clock time in ns since the epoch, monotonic within the process (CRI log timestamps). */
export function nowNs(): bigint {
  return BigInt(originMs) * 1_000_000n + (process.hrtime.bigint() - originHr);
}

/** Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed, as the kubelet prints it. */
export function rfc3339Nano(ns: bigint): string {
  const base = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${fraction ? `.${fraction}` : ''}Z`;
}

export type LogStream = 'stdout' | 'stderr';

/** One CRI log entry: a full line (ending in `\n`) or the unterminated tail written at exit. */
export interface LogLine {
  ns: bigint;
  stream: LogStream;
  text: string;
}

/** The kubelet's log read options, already validated. */
export interface LogReadOptions {
  /** Only lines at or after this time (ns since epoch). */
  sinceNs?: bigint;
  /** Only the last N lines (applied before `since`, as the kubelet does). */
  tailLines?: number;
  /** Prefix each line with its RFC3339Nano time and a space. */
  timestamps?: boolean;
}

interface Follower {
  options: LogReadOptions;
  write(text: string): void;
  end(): void;
}

/** The log of one container instance (one start of one container). */
export class ContainerLog {
  #lines: LogLine[] = [];
  #head = 0;
  #bytes = 0;
  readonly #partial: Record<LogStream, { ns: bigint; text: string } | undefined> = { stdout: undefined, stderr: undefined };
  #ended = false;
  readonly #followers = new Set<Follower>();

  /** @param maxBytes Oldest lines are dropped beyond this, as log rotation would. */
  constructor(readonly maxBytes = 10 * 1024 * 1024) {}

  get ended(): boolean {
    return this.#ended;
  }

  /** Appends output as the runtime reads it; complete lines become entries, the rest waits for its newline. */
  write(stream: LogStream, chunk: string): void {
    if (this.#ended || chunk === '') return;
    const now = nowNs();
    let rest = chunk;
    for (let newline = rest.indexOf('\n'); newline !== -1; newline = rest.indexOf('\n')) {
      const pending = this.#partial[stream];
      this.#partial[stream] = undefined;
      this.#append({ ns: pending?.ns ?? now, stream, text: `${pending?.text ?? ''}${rest.slice(0, newline + 1)}` });
      rest = rest.slice(newline + 1);
    }
    if (rest !== '') {
      const pending = this.#partial[stream];
      this.#partial[stream] = { ns: pending?.ns ?? now, text: `${pending?.text ?? ''}${rest}` };
    }
  }

  /** The instance exited: unterminated output is kept as a last line without newline, followers end. */
  end(): void {
    if (this.#ended) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = this.#partial[stream];
      if (pending) this.#append({ ns: pending.ns, stream, text: pending.text });
      this.#partial[stream] = undefined;
    }
    this.#ended = true;
    for (const follower of this.#followers) follower.end();
    this.#followers.clear();
  }

  #append(line: LogLine): void {
    this.#lines.push(line);
    this.#bytes += line.text.length;
    while (this.#bytes > this.maxBytes && this.#head < this.#lines.length - 1) {
      this.#bytes -= this.#lines[this.#head]!.text.length;
      this.#head++;
    }
    // Compact the dropped prefix now and then instead of shifting on every drop.
    if (this.#head > 1024 && this.#head * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#head);
      this.#head = 0;
    }
    for (const follower of this.#followers) {
      if (follower.options.sinceNs === undefined || line.ns >= follower.options.sinceNs) follower.write(format(line, follower.options));
    }
  }

  /** The stored lines selected by `options`, formatted. */
  read(options: LogReadOptions = {}): string {
    let start = this.#head;
    if (options.tailLines !== undefined) start = Math.max(this.#head, this.#lines.length - options.tailLines);
    let out = '';
    for (let i = start; i < this.#lines.length; i++) {
      const line = this.#lines[i]!;
      if (options.sinceNs !== undefined && line.ns < options.sinceNs) continue;
      out += format(line, options);
    }
    return out;
  }

  /**
   * Streams lines written from now on until the instance exits (`end`) or the returned function
   * is called. Callers read the stored lines first with `read`, synchronously before this.
   */
  follow(options: LogReadOptions, write: (text: string) => void, end: () => void): () => void {
    if (this.#ended) {
      end();
      return () => {};
    }
    const follower: Follower = { options, write, end };
    this.#followers.add(follower);
    return () => {
      this.#followers.delete(follower);
    };
  }
}

function format(line: LogLine, options: LogReadOptions): string {
  return options.timestamps ? `${rfc3339Nano(line.ns)} ${line.text}` : line.text;
}
