import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../cli/cli-process.js';

/*
 * The code blocks of the project's Markdown files, and what each one claims to be. A block is
 * told by its language and by the HTML comment on the line before its opening fence:
 *
 *   <!-- example: examples/x.ts -->   ```ts    the example file, as shown (run by a test)
 *   (no comment)                      ```ts    a self-contained module, type-checked
 *   <!-- output: examples/x.ts -->    ```text  what that example prints (`…` = anything)
 *   <!-- output: k8s-jobs sim ARGS --> ```text what that CLI server prints first
 *   <!-- run: … -->                   ```sh    executed against the `k8s-jobs sim` of the page
 *   (no comment)                      ```sh    every command checked: npm scripts, files, CLI options
 *   <!-- file: deploy/x.yaml -->      ```yaml  consecutive lines of that file
 *   <!-- diagram:task-machine:start --> ```mermaid  the generated state diagram
 *
 * Anything else is a block no test checks, which the tests refuse.
 */

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The Markdown file, from the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`ts`, `sh`…); '' for none. */
  language: string;
  /** The comment on the line before the fence, without `<!--`/`-->`; undefined when there is none. */
  marker: string | undefined;
  /** The block's text: every line between the fences, each ending with a newline. */
  code: string;
}

/** Where a block is, for messages: `docs/runner.md:42`. */
export const at = (block: Pick<CodeBlock, 'file' | 'line'>): string => `${block.file}:${block.line}`;

/** The project's Markdown files: the top-level ones and everything under docs/ but the generated API docs. */
export async function markdownFiles(): Promise<string[]> {
  const top = (await readdir(repoRoot)).filter((name) => name.endsWith('.md'));
  const docs = (await readdir(join(repoRoot, 'docs'), { recursive: true }))
    .filter((name) => name.endsWith('.md') && !name.startsWith('api/') && !name.startsWith('api\\'))
    .map((name) => `docs/${name.replaceAll('\\', '/')}`);
  return [...top.sort(), ...docs.sort()];
}

/** Every fenced block of `markdown`; throws on a fence that is indented or never closed. */
export function codeBlocks(file: string, markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    if (/^\s+```/.test(text))
      throw new Error(`${file}:${i + 1}: an indented fence (the block checks only read fences at the start of a line)`);
    const open = /^```(\S*)\s*$/.exec(text);
    if (!open) continue;
    const close = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (close < 0) throw new Error(`${file}:${i + 1}: a fence that is never closed`);
    let before = i - 1;
    while (before >= 0 && (lines[before] ?? '').trim() === '') before--;
    const comment = /^<!--\s*(.*?)\s*-->$/.exec(lines[before] ?? '');
    blocks.push({
      file,
      line: i + 1,
      language: open[1] ?? '',
      marker: comment ? comment[1] : undefined,
      code: lines
        .slice(i + 1, close)
        .map((l) => `${l}\n`)
        .join(''),
    });
    i = close;
  }
  return blocks;
}

/** Every block of every Markdown file of the project. */
export async function allCodeBlocks(): Promise<CodeBlock[]> {
  const files = await markdownFiles();
  const perFile = await Promise.all(
    files.map(async (file) => codeBlocks(file, await readFile(join(repoRoot, file), 'utf8'))),
  );
  return perFile.flat();
}

/** The value of a `key: value` marker (`example`, `output`, `file`, `run`), or undefined. */
export function markerValue(block: CodeBlock, key: string): string | undefined {
  const match = block.marker === undefined ? null : new RegExp(`^${key}:\\s*(.+)$`).exec(block.marker);
  return match?.[1];
}

/** An example file as the docs show it: without its leading doc comment, importing the package. */
export function asShownInDocs(source: string): string {
  return source
    .replace(/^\/\*\*[\s\S]*?\*\/\n/, '')
    .replaceAll("from '../src/sim/index.js'", "from 'k8s-jobs/sim'")
    .replaceAll("from '../src/index.js'", "from 'k8s-jobs'");
}

/**
 * Whether `actual` (a program's output) is what an output block shows: line by line, `…` standing
 * for any text. With `prefixOnly`, the output may go on after the block's lines.
 */
export function matchesOutput(expected: string, actual: string, { prefixOnly = false } = {}): boolean {
  const want = expected.replace(/\n$/, '').split('\n');
  const got = actual.replace(/\n$/, '').split('\n');
  if (prefixOnly ? got.length < want.length : got.length !== want.length) return false;
  return want.every((line, i) => {
    const pattern = line
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return new RegExp(`^${pattern}$`).test(got[i] ?? '');
  });
}
