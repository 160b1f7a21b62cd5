/**
 * What the container runtime keeps of one container instance's output (the CRI log file): each
 * record with the nanosecond time it was read and its stream, readable with the kubelet's
 * `tailLines` / `since` / `timestamps` rules, rotated as the kubelet rotates it
 * (`containerLogMaxSize` × `containerLogMaxFiles`), and followable until the container exits.
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

/** The kubelet's log read options, already validated. */
export interface LogReadOptions {
  /** Only records at or after this time (ns since epoch). */
  sinceNs?: bigint;
  /** Only the last N records (applied before `since`, as the kubelet does). */
  tailLines?: number;
  /** Prefix each record with its RFC3339Nano time and a space. */
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

/** kubelet `containerLogMaxSize` (10Mi). */
export const defaultContainerLogMaxSize = 10 * 1024 * 1024;
/** kubelet `containerLogMaxFiles` (5): the current file and up to 4 rotated ones. */
export const defaultContainerLogMaxFiles = 5;
/**
 * containerd's `max_container_log_line_size` (16 KiB): a longer line is written as several
 * partial records (tag `P`); counted here in UTF-16 code units, which is bytes for ASCII.
 */
export const maxLogRecordSize = 16 * 1024;

/**
 * Consecutive records of one stream read at the same instant (one read of the pipe): full
 * records each end in `\n`; a partial record (tag `P`: a line cut at `maxLogRecordSize`, or the
 * unterminated output at exit) is always an entry of its own.
 */
interface Entry {
  ns: bigint;
  stream: LogStream;
  text: string;
  records: number;
  partial: boolean;
}

/** One CRI log file. */
interface LogFile {
  entries: Entry[];
  /** Its size in the CRI format. */
  bytes: number;
}

interface Follower {
  options: LogReadOptions;
  sink: LogSink;
  /**
   * The file it reads and where: a cursor, not a queue. Like the kubelet's open file descriptor,
   * it keeps reading a file rotated meanwhile to its end, then reopens the current file.
   */
  file: LogFile;
  entry: number;
  /** Code-unit offset inside that entry (a record boundary). */
  offset: number;
  paused: boolean;
  stopped: boolean;
  pumping: boolean;
  /** The last record sent ended its line (else the next one continues it). */
  newLine: boolean;
}

/** Bytes of `records` records in the CRI file besides their text: `<30-byte time> <stream> <tag> `. */
function recordOverhead(stream: LogStream, records: number): number {
  return records * (30 + 1 + stream.length + 3);
}

/** Where the last `count` records of `file` start: entry index and offset in it. */
function tailStart(file: LogFile, count: number | undefined): { entry: number; offset: number } {
  if (count === undefined) return { entry: 0, offset: 0 };
  let left = count;
  for (let i = file.entries.length - 1; i >= 0; i--) {
    const entry = file.entries[i]!;
    if (left <= 0) return { entry: i + 1, offset: 0 };
    if (entry.records <= left) {
      left -= entry.records;
      continue;
    }
    // The start falls inside this entry (full records only): back over `left` newlines.
    let pos = entry.text.length - 1;
    for (let n = 0; n < left; n++) pos = entry.text.lastIndexOf('\n', pos - 1);
    return { entry: i, offset: pos + 1 };
  }
  return { entry: 0, offset: 0 };
}

/**
 * Records `text` (from a record boundary) of `entry` as the kubelet serves them. With timestamps,
 * each record is prefixed with its time, except one that continues a partial record the reader
 * has just written (`newLine` false): the kubelet prefixes a line cut into records only once.
 */
function format(entry: Entry, text: string, options: LogReadOptions, newLine: boolean): string {
  if (!options.timestamps) return text;
  const prefix = `${rfc3339Nano(entry.ns)} `;
  const first = newLine ? prefix : '';
  if (entry.partial) return `${first}${text}`;
  return `${first}${text.slice(0, -1).replaceAll('\n', `\n${prefix}`)}\n`;
}

/**
 * The log of one container instance (one start of one container), kept as the kubelet keeps it:
 * a current CRI file, rotated once it passes `maxSize`, read and followed from the current file
 * only: after a rotation, `tailLines`, `sinceTime` and `limitBytes` see what was written since.
 * (The kubelet checks sizes every 10 s, so a real file can overshoot; here it rotates after the
 * record that passes the size.)
 *
 * Kept in memory, not in temporary files, and without the rotated files' contents: the kubelet
 * keeps `maxFiles - 1` rotated files on disk, but no API serves them (kubernetes#59902), so the
 * simulator only counts them (`rotatedFiles`) and drops their text at rotation. Memory is thereby
 * bounded by `maxSize` per container, plus one file per follower still reading a rotated one —
 * with no disk I/O or temp files to clean up after a crash. Records are stored a pipe read at a
 * time (an entry per read, not an object per line), so a file costs about its size in memory,
 * and a line with no newline is cut into partial records, as containerd cuts it, instead of
 * growing without end.
 */
export class ContainerLog {
  #current: LogFile = { entries: [], bytes: 0 };
  /** Files rotated away so far. */
  #rotations = 0;
  readonly #partial: Record<LogStream, { ns: bigint; text: string } | undefined> = {
    stdout: undefined,
    stderr: undefined,
  };
  #ended = false;
  readonly #followers = new Set<Follower>();

  /**
   * @param maxSize The current file is rotated once it holds more than this many bytes (CRI format).
   * @param maxFiles Files the node keeps, the current one included (≥ 2, as the kubelet requires).
   */
  constructor(
    readonly maxSize = defaultContainerLogMaxSize,
    readonly maxFiles = defaultContainerLogMaxFiles,
  ) {
    if (!(maxSize > 0)) throw new RangeError(`containerLogMaxSize must be > 0, got ${maxSize}`);
    if (!Number.isInteger(maxFiles) || maxFiles < 2)
      throw new RangeError(`containerLogMaxFiles must be an integer greater than 1, got ${maxFiles}`);
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Files rotated away so far. */
  get rotations(): number {
    return this.#rotations;
  }

  /** Rotated files the node would hold now (`maxFiles - 1` at most); none of them can be read. */
  get rotatedFiles(): number {
    return Math.min(this.#rotations, this.maxFiles - 1);
  }

  /** Bytes of the current file (CRI format): at most `maxSize` plus its last record. */
  get currentFileBytes(): number {
    return this.#current.bytes;
  }

  /** Appends output as the runtime reads it; complete lines become records, the rest waits for its newline. */
  write(stream: LogStream, chunk: string): void {
    if (this.#ended || chunk === '') return;
    const now = nowNs();
    let start = 0;
    const pending = this.#partial[stream];
    if (pending) {
      const newline = chunk.indexOf('\n');
      if (newline === -1) {
        this.#hold(stream, pending.ns, pending.text + chunk);
        return;
      }
      this.#partial[stream] = undefined;
      this.#appendLines(pending.ns, stream, pending.text + chunk.slice(0, newline + 1));
      start = newline + 1;
    }
    const last = chunk.lastIndexOf('\n');
    if (last >= start) {
      this.#appendLines(now, stream, chunk.slice(start, last + 1));
      start = last + 1;
    }
    if (start < chunk.length) this.#hold(stream, now, chunk.slice(start));
  }

  /** The instance exited: unterminated output is kept as a last (partial) record, followers end once caught up. */
  end(): void {
    if (this.#ended) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = this.#partial[stream];
      this.#partial[stream] = undefined;
      if (pending) this.#appendPartial(pending.ns, stream, pending.text);
    }
    this.#ended = true;
    for (const follower of [...this.#followers]) this.#pump(follower);
  }

  /** Keeps an unterminated line, writing out what passes `maxLogRecordSize` as partial records. */
  #hold(stream: LogStream, ns: bigint, text: string): void {
    let rest = text;
    while (rest.length > maxLogRecordSize) {
      this.#appendPartial(ns, stream, rest.slice(0, maxLogRecordSize));
      rest = rest.slice(maxLogRecordSize);
    }
    this.#partial[stream] = rest === '' ? undefined : { ns, text: rest };
  }

  #appendPartial(ns: bigint, stream: LogStream, text: string): void {
    // A partial record still takes a line in the file: its newline counts.
    const bytes = recordOverhead(stream, 1) + Buffer.byteLength(text, 'utf8') + 1;
    this.#appendEntry({ ns, stream, text, records: 1, partial: true }, bytes);
  }

  /**
   * Appends complete lines read at `ns`, as few entries as rotation allows: the record that
   * passes `maxSize` is the rotated file's last, the next goes to a new file.
   */
  #appendLines(ns: bigint, stream: LogStream, text: string): void {
    const ascii = Buffer.byteLength(text, 'utf8') === text.length;
    let runStart = 0;
    let records = 0;
    let bytes = 0;
    const flush = (end: number): void => {
      if (end > runStart)
        this.#appendEntry({ ns, stream, text: text.slice(runStart, end), records, partial: false }, bytes);
      runStart = end;
      records = 0;
      bytes = 0;
    };
    for (let pos = 0; pos < text.length;) {
      const end = text.indexOf('\n', pos) + 1;
      if (end - pos > maxLogRecordSize + 1) {
        // Too long for one record: partial records, then the full one that ends it.
        flush(pos);
        let at = pos;
        for (; end - at > maxLogRecordSize + 1; at += maxLogRecordSize)
          this.#appendPartial(ns, stream, text.slice(at, at + maxLogRecordSize));
        runStart = at;
        pos = at;
        continue;
      }
      records++;
      bytes += recordOverhead(stream, 1) + (ascii ? end - pos : Buffer.byteLength(text.slice(pos, end), 'utf8'));
      pos = end;
      if (this.#current.bytes + bytes > this.maxSize) flush(pos);
    }
    flush(text.length);
  }

  /** Appends `entry`, `bytes` long in the CRI format, and rotates if the file passed `maxSize`. */
  #appendEntry(entry: Entry, bytes: number): void {
    const file = this.#current;
    file.entries.push(entry);
    file.bytes += bytes;
    for (const follower of [...this.#followers]) this.#pump(follower);
    if (file.bytes > this.maxSize) {
      this.#current = { entries: [], bytes: 0 };
      this.#rotations++;
    }
  }

  /** The records of the current file selected by `options`, formatted. */
  read(options: LogReadOptions = {}): string {
    let out = '';
    for (const piece of this.readPieces(options)) out += piece;
    return out;
  }

  /**
   * `read` a piece (one pipe read's records) at a time, so a server can write them at the
   * client's pace instead of building the whole file in memory. The pieces are those of the
   * current file as it is now: what is written later is not part of this read, and a rotation
   * meanwhile does not cut it short (the pieces are held by the reader, as the kubelet's open file).
   */
  *readPieces(options: LogReadOptions = {}): Generator<string, void, undefined> {
    const file = this.#current;
    const end = file.entries.length;
    const start = tailStart(file, options.tailLines);
    let newLine = true;
    for (let i = start.entry; i < end; i++) {
      const entry = file.entries[i]!;
      if (options.sinceNs !== undefined && entry.ns < options.sinceNs) continue;
      yield format(entry, i === start.entry ? entry.text.slice(start.offset) : entry.text, options, newLine);
      newLine = !entry.partial;
    }
  }

  /**
   * Streams the records `options` selects from the current file, then every record written
   * after, at the pace the sink takes them, until the instance has exited and the sink has
   * caught up (`end`). A follower whose file rotates away reads it to its end, then goes on at
   * the start of the file current by then, as the kubelet's reader does with its open file
   * descriptor: what rotated in between is skipped, and nothing queues.
   */
  follow(options: LogReadOptions, sink: LogSink): LogFollow {
    const start = tailStart(this.#current, options.tailLines);
    const follower: Follower = {
      options,
      sink,
      file: this.#current,
      entry: start.entry,
      offset: start.offset,
      paused: false,
      stopped: false,
      pumping: false,
      newLine: true,
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
        const entry = follower.file.entries[follower.entry];
        if (!entry) {
          if (follower.file === this.#current) break;
          // At the end of a rotated file: reopen the current one.
          follower.file = this.#current;
          follower.entry = 0;
          follower.offset = 0;
          continue;
        }
        const text = follower.offset === 0 ? entry.text : entry.text.slice(follower.offset);
        follower.entry++;
        follower.offset = 0;
        if (follower.options.sinceNs !== undefined && entry.ns < follower.options.sinceNs) continue;
        const formatted = format(entry, text, follower.options, follower.newLine);
        follower.newLine = !entry.partial;
        if (!follower.sink.write(formatted)) follower.paused = true;
      }
      const caughtUp = follower.file === this.#current && follower.entry >= this.#current.entries.length;
      if (this.#ended && !follower.stopped && !follower.paused && caughtUp) {
        follower.stopped = true;
        this.#followers.delete(follower);
        follower.sink.end();
      }
    } finally {
      follower.pumping = false;
    }
  }
}
