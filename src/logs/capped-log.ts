/*
 * Capped logs: a log is kept whole up to a cap, past it as head + marker + tail, in O(cap) memory.
 * Pure: the Kubernetes adapter reads logs into it, the runner's streams recognise its marker.
 */

/** Room kept for the truncation marker inside the cap. */
const markerReserve = 64;

/** `\n… [N bytes truncated] …\n`, between the head and the tail of a capped log. */
export function truncationMarker(omittedBytes: number): string {
  return `\n… [${omittedBytes} bytes truncated] …\n`;
}

/** A log, capped. */
export interface CappedLog {
  /** The whole log, or head + marker + tail; never more than the cap in UTF-8 bytes. */
  text: string;
  /** Bytes the log had in all. */
  totalBytes: number;
  truncated: boolean;
}

/**
 * Collects a stream into a capped log in O(cap) memory: everything up to the cap; past it the
 * first half is kept as the head and only a rolling tail of the rest.
 */
export class CappedLogCollector {
  readonly #maxBytes: number;
  readonly #headBytes: number;
  readonly #tailBytes: number;
  #chunks: Buffer[] = [];
  #held = 0;
  #total = 0;
  #head: Buffer | undefined;

  constructor(maxBytes: number) {
    if (!(maxBytes > markerReserve * 2))
      throw new RangeError(`log cap must exceed ${markerReserve * 2} bytes, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
    this.#headBytes = Math.floor((maxBytes - markerReserve) / 2);
    this.#tailBytes = maxBytes - markerReserve - this.#headBytes;
  }

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    this.#chunks.push(chunk);
    this.#held += chunk.length;
    if (!this.#head) {
      if (this.#held <= this.#maxBytes) return;
      const all = Buffer.concat(this.#chunks);
      this.#head = Buffer.from(all.subarray(0, this.#headBytes));
      this.#chunks = [all.subarray(this.#headBytes)];
      this.#held = all.length - this.#headBytes;
    }
    // Drop whole chunks that lie entirely before the tail window.
    while (this.#chunks.length > 1 && this.#held - (this.#chunks[0]?.length ?? 0) >= this.#tailBytes) {
      this.#held -= this.#chunks.shift()?.length ?? 0;
    }
  }

  /** Bytes held now: at most the cap plus one chunk, however long the log. */
  heldBytes(): number {
    return (this.#head?.length ?? 0) + this.#held;
  }

  result(): CappedLog {
    const rest = Buffer.concat(this.#chunks);
    if (!this.#head) return { text: rest.toString('utf8'), totalBytes: this.#total, truncated: false };
    // Cut on UTF-8 character boundaries: never half a character at either side of the marker.
    let headEnd = this.#head.length;
    while (headEnd > 0 && ((this.#head[headEnd] ?? 0) & 0xc0) === 0x80) headEnd--;
    let tailStart = Math.max(0, rest.length - this.#tailBytes);
    while (tailStart < rest.length && ((rest[tailStart] ?? 0) & 0xc0) === 0x80) tailStart++;
    const head = this.#head.subarray(0, headEnd);
    const tail = rest.subarray(tailStart);
    const omitted = this.#total - head.length - tail.length;
    return {
      text: `${head.toString('utf8')}${truncationMarker(omitted)}${tail.toString('utf8')}`,
      totalBytes: this.#total,
      truncated: true,
    };
  }
}

/** The last `count` lines of a log (a trailing newline does not count as an empty line). */
export function lastLines(text: string, count = 20): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-count);
}
