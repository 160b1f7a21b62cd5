/*
 * Generated blocks in a Markdown file: the text between `<!-- NAME:start -->` and
 * `<!-- NAME:end -->` belongs to a generator, which rewrites it; the rest is left byte for byte.
 */

/** Thrown when a Markdown file lacks a block's markers or has them out of order. */
export class MissingBlockError extends Error {
  /** The block's marker name. */
  readonly block: string;

  constructor(block: string) {
    super(`README block "${block}": expected one "<!-- ${block}:start -->" followed by one "<!-- ${block}:end -->"`);
    this.name = 'MissingBlockError';
    this.block = block;
  }
}

const markers = (block: string): { start: string; end: string } => ({
  start: `<!-- ${block}:start -->`,
  end: `<!-- ${block}:end -->`,
});

function locate(markdown: string, block: string): { from: number; to: number } {
  const { start, end } = markers(block);
  const from = markdown.indexOf(start);
  const to = markdown.indexOf(end);
  if (from < 0 || to < from || markdown.indexOf(start, from + 1) >= 0 || markdown.indexOf(end, to + 1) >= 0)
    throw new MissingBlockError(block);
  return { from: from + start.length, to };
}

/** The text between a block's markers, without the newlines that frame it. */
export function readBlock(markdown: string, block: string): string {
  const { from, to } = locate(markdown, block);
  return markdown.slice(from, to).replace(/^\n/, '').replace(/\n$/, '');
}

/** `markdown` with the block's content replaced by `content` (framed by newlines). */
export function writeBlock(markdown: string, block: string, content: string): string {
  const { from, to } = locate(markdown, block);
  return `${markdown.slice(0, from)}\n${content.replace(/\n$/, '')}\n${markdown.slice(to)}`;
}

/** A fenced code block of the given language. */
export function fenced(language: string, body: string): string {
  return `\`\`\`${language}\n${body.replace(/\n$/, '')}\n\`\`\``;
}
