/**
 * What the container runtime keeps of one container instance's output (the CRI log file): each
 * line with the nanosecond time it was read and its stream, readable with the kubelet's
 * `tailLines` / `since` / `timestamps` rules, rotated at the kubelet's `containerLogMaxSize`,
 * and followable until the container exits.
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

/** Where a follow writes: `write` returns false when the client has not kept up (call `resume` on drain). */
export interface LogSink {
  write(text: string): boolean;
  end(): void;
}

/** A follow in progress. */
export interface LogFollow {
  /** The sink drained: go on from where it stopped. */
  resume(): void;
  /** The client went away: stop without ending the sink. */
  stop(): void;
}

interface Follower {
  options: LogReadOptions;
  sink: LogSink;
  /** The file (rotation count) and line of the next line to send: a cursor, not a queue. */
  file: number;
  next: number;
  paused: boolean;
  stopped: boolean;
  pumping: boolean;
}

/** kubelet `containerLogMaxSize` (10Mi). */
export const defaultContainerLogMaxSize = 10 * 1024 * 1024;

/**
 * The bytes a line takes in the CRI log file: `<RFC3339Nano time> <stream> <tag> <text>`, the
 * time counted at its longest (30 bytes), a newline added to an unterminated last line.
 */
function criBytes(line: LogLine): number {
  const newline = line.text.endsWith('\n') ? 0 : 1;
  return 30 + 1 + line.stream.length + 3 + Buffer.byteLength(line.text, 'utf8') + newline;
}

/**
 * The log of one container instance (one start of one container), kept as the kubelet keeps it:
 * a current CRI file, rotated once it passes `maxSize`. Reads serve the current file only, as
 * the kubelet's do: after a rotation, `tailLines`, `sinceTime` and `limitBytes` see what was
 * written since. The kubelet keeps up to `containerLogMaxFiles` rotated files on disk but never
 * serves them, so the simulator keeps none: a container's memory here is bounded by `maxSize`,
 * however much it prints. (The kubelet checks sizes every 10 s, so a real file can overshoot;
 * here it rotates the moment it passes.)
 */
export class ContainerLog {
  /** The current file. */
  #lines: LogLine[] = [];
  #bytes = 0;
  /** Files rotated away so far. */
  #rotations = 0;
  readonly #partial: Record<LogStream, { ns: bigint; text: string } | undefined> = {
    stdout: undefined,
    stderr: undefined,
  };
  #ended = false;
  readonly #followers = new Set<Follower>();

  /** @param maxSize The current file is rotated once it holds more than this many bytes (CRI format). */
  constructor(readonly maxSize = defaultContainerLogMaxSize) {
    if (!(maxSize > 0)) throw new RangeError(`containerLogMaxSize must be > 0, got ${maxSize}`);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Files rotated away so far (none of them can be read). */
  get rotations(): number {
    return this.#rotations;
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

  /** The instance exited: unterminated output is kept as a last line without newline, followers end once caught up. */
  end(): void {
    if (this.#ended) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = this.#partial[stream];
      this.#partial[stream] = undefined;
      if (pending) this.#append({ ns: pending.ns, stream, text: pending.text });
    }
    this.#ended = true;
    for (const follower of [...this.#followers]) this.#pump(follower);
  }

  #append(line: LogLine): void {
    this.#lines.push(line);
    this.#bytes += criBytes(line);
    for (const follower of [...this.#followers]) this.#pump(follower);
    // The line that passes the size is the rotated file's last; the next goes to a new file.
    if (this.#bytes > this.maxSize) {
      this.#lines = [];
      this.#bytes = 0;
      this.#rotations++;
    }
  }

  /** The lines of the current file selected by `options`, formatted. */
  read(options: LogReadOptions = {}): string {
    let out = '';
    for (let i = this.#start(options); i < this.#lines.length; i++) {
      const line = this.#lines[i]!;
      if (options.sinceNs !== undefined && line.ns < options.sinceNs) continue;
      out += format(line, options);
    }
    return out;
  }

  #start(options: LogReadOptions): number {
    return options.tailLines === undefined ? 0 : Math.max(0, this.#lines.length - options.tailLines);
  }

  /**
   * Streams the lines `options` selects from the current file, then every line written after,
   * at the pace the sink takes them, until the instance has exited and the sink has caught up
   * (`end`). A follower that falls a whole file behind loses the rest of that file and goes on
   * at the start of the next, as the kubelet reopens a rotated file: nothing queues up.
   */
  follow(options: LogReadOptions, sink: LogSink): LogFollow {
    const follower: Follower = {
      options,
      sink,
      file: this.#rotations,
      next: this.#start(options),
      paused: false,
      stopped: false,
      pumping: false,
    };
    this.#followers.add(follower);
    this.#pump(follower);
    return {
      resume: () => {
        follower.paused = false;
        this.#pump(follower);
      },
      stop: () => {
        follower.stopped = true;
        this.#followers.delete(follower);
      },
    };
  }

  #pump(follower: Follower): void {
    if (follower.pumping) return;
    follower.pumping = true;
    try {
      while (!follower.stopped && !follower.paused) {
        if (follower.file !== this.#rotations) {
          follower.file = this.#rotations;
          follower.next = 0;
        }
        const line = this.#lines[follower.next];
        if (!line) break;
        follower.next++;
        if (follower.options.sinceNs !== undefined && line.ns < follower.options.sinceNs) continue;
        if (!follower.sink.write(format(line, follower.options))) follower.paused = true;
      }
      if (this.#ended && !follower.stopped && !follower.paused && follower.next >= this.#lines.length) {
        follower.stopped = true;
        this.#followers.delete(follower);
        follower.sink.end();
      }
    } finally {
      follower.pumping = false;
    }
  }
}

function format(line: LogLine, options: LogReadOptions): string {
  return options.timestamps ? `${rfc3339Nano(line.ns)} ${line.text}` : line.text;
}
