/**
 * Printing a log that grows: each read returns the whole log so far (a live pod log, or a stored
 * snapshot), and only what was not printed yet is printed.
 */

/** Tracks what of a growing log was printed. */
export class LogTail {
  #printed = '';

  constructor(private readonly write: (text: string) => void) {}

  /**
   * Prints what `text` adds to what was printed; a text that is a prefix of it adds nothing. A text that does not
   * extend it (a capped snapshot keeps the head and the tail, so its middle changes) is printed from where the two
   * differ, after a marker line, so nothing is silently lost.
   */
  update(text: string): void {
    // Less than was printed (the pod is gone and no snapshot holds its log): nothing new.
    if (this.#printed.startsWith(text)) return;
    if (text.startsWith(this.#printed)) {
      if (text.length > this.#printed.length) this.write(text.slice(this.#printed.length));
    } else {
      let same = 0;
      while (same < text.length && text[same] === this.#printed[same]) same++;
      this.write(`\n[… the stored log was truncated; its tail follows]\n${text.slice(same)}`);
    }
    this.#printed = text;
  }
}
