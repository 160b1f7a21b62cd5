import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { taskMachineDiagram } from '../../scripts/diagram.js';
import { repoRoot } from '../cli/cli-process.js';
import { waitUntil } from '../helpers/wait.js';
import { testEntry } from '../helpers/test-entries.js';
import {
  allCodeBlocks,
  at,
  codeBlocks,
  markdownFiles,
  markerValue,
  matchesOutput,
  type CodeBlock,
} from './markdown.js';
import { checkShellBlock, type ShellContext } from './shell-lines.js';
import { typeCheckSnippets, type Snippet } from './typecheck-blocks.js';

/*
 * Every code block of README.md, CONTRIBUTING.md, CHANGELOG.md and docs/ is run or checked
 * (markdown.ts lists the kinds): TypeScript blocks type-check against the package's source,
 * YAML blocks are excerpts of the files they name, shell blocks name scripts, files and options
 * that exist, and the kubectl session of docs/cli.md runs against `k8s-jobs sim`. Example and
 * output blocks: readme-examples.test.ts. The docs' backticked paths, links and anchors exist,
 * and architecture.md's walk through one task names symbols that are in the files it names.
 */

const blocks = await allCodeBlocks();

type Kind =
  'example' | 'example output' | 'sim output' | 'sim session' | 'typecheck' | 'shell' | 'file excerpt' | 'diagram';

/** What a block is checked as; undefined for a block no test checks. */
function kindOf(block: CodeBlock): Kind | undefined {
  const { language, marker } = block;
  if (language === 'ts')
    return marker === undefined ? 'typecheck' : markerValue(block, 'example') !== undefined ? 'example' : undefined;
  if (language === 'text') {
    const output = markerValue(block, 'output');
    return output?.startsWith('examples/')
      ? 'example output'
      : output?.startsWith('k8s-jobs sim')
        ? 'sim output'
        : undefined;
  }
  if (language === 'sh')
    return marker === undefined ? 'shell' : markerValue(block, 'run') !== undefined ? 'sim session' : undefined;
  if (language === 'yaml') return markerValue(block, 'file') !== undefined ? 'file excerpt' : undefined;
  if (language === 'mermaid') return marker === 'diagram:task-machine:start' ? 'diagram' : undefined;
  return undefined;
}

const ofKind = (kind: Kind): CodeBlock[] => blocks.filter((b) => kindOf(b) === kind);
const slug = (block: CodeBlock): string => `${block.file.replace(/[^A-Za-z0-9]+/g, '-')}-${block.line}`;

test('every code block of the docs is one a test runs or checks', () => {
  const unchecked = blocks
    .filter((b) => kindOf(b) === undefined)
    .map((b) => `${at(b)}: \`\`\`${b.language} ${b.marker ?? '(no marker)'}`);
  expect(unchecked).toEqual([]);
  // The docs are where the blocks are: a parse that finds none would check nothing.
  expect(ofKind('typecheck').length).toBeGreaterThanOrEqual(10);
  expect(ofKind('diagram').map(at)).toEqual([expect.stringMatching(/^README\.md:/)]);
});

test('the README has the diagram the task machine renders to (npm run diagram)', () => {
  for (const block of ofKind('diagram')) expect(`\`\`\`mermaid\n${block.code}\`\`\``).toBe(taskMachineDiagram());
});

describe('TypeScript blocks', () => {
  test('each one type-checks as a module of its own against the package source; a wrong one fails', async () => {
    const snippets: Snippet[] = ofKind('typecheck').map((b) => ({
      name: slug(b),
      code: b.code,
      lineOffset: b.line,
      origin: b.file,
    }));
    // The proof that the check bites: a misspelt option and a method that does not exist.
    const broken: Snippet = {
      name: 'broken-on-purpose',
      code: "import { createRunner } from 'k8s-jobs';\nconst runner = await createRunner({ maxConcurentJobs: 5 });\nawait runner.addTaskss([]);\n",
      lineOffset: 0,
      origin: 'broken-on-purpose',
    };
    const diagnostics = await typeCheckSnippets([...snippets, broken]);
    const brokenReport = diagnostics.get(broken.name) ?? [];
    diagnostics.delete(broken.name);
    expect([...diagnostics.values()].flat()).toEqual([]);
    expect(brokenReport).toEqual([
      expect.stringMatching(/^broken-on-purpose:2: TS\d+ .*maxConcurentJobs/),
      expect.stringMatching(/^broken-on-purpose:3: TS2551 .*addTaskss/),
    ]);
  });
});

describe('YAML blocks', () => {
  test('each one is consecutive lines of the file it names', async () => {
    const excerpts = ofKind('file excerpt');
    expect(excerpts.length).toBeGreaterThan(0);
    for (const block of excerpts) {
      const path = markerValue(block, 'file') ?? '';
      const text = await readFile(join(repoRoot, path), 'utf8');
      expect(`\n${text}`.includes(`\n${block.code}`), `${at(block)} is an excerpt of ${path}`).toBe(true);
    }
  });
});

describe('shell blocks', () => {
  test('name npm scripts, files and CLI options that exist; a wrong one fails', async () => {
    const { scripts } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const subcommands = ['demo', 'run', 'list', 'show', 'logs', 'purge', 'status', 'sim', 'dashboard'];
    const helps = new Map(await Promise.all(subcommands.map(async (sub) => [sub, await cliHelp(sub)] as const)));
    const ctx: ShellContext = { scripts, cliHelp: (sub) => helps.get(sub) };
    const shell = ofKind('shell');
    expect(shell.length).toBeGreaterThan(0);
    expect(shell.flatMap((b) => checkShellBlock(b.code, ctx).map((problem) => `${at(b)} ${problem}`))).toEqual([]);
    // The proof that the check bites.
    expect(
      checkShellBlock(
        'npm run dagram\nk8s-jobs run --imgae busybox -- true\nnpx tsx examples/nope.ts\nkubectl apply -f deploy/nope.yaml\ncurl x\n',
        ctx,
      ),
    ).toEqual([
      'line 1: no npm script "dagram"',
      'line 2: k8s-jobs run has no option --imgae',
      'line 3: npx tsx: no file examples/nope.ts',
      'line 4: kubectl -f: no file deploy/nope.yaml',
      'line 5: curl: not a command these checks know',
    ]);
  });

  test("docs/cli.md's kubectl session runs against `k8s-jobs sim`, which prints what the page shows", async () => {
    const [output] = ofKind('sim output');
    const [session] = ofKind('sim session');
    expect(output?.file).toBe('docs/cli.md');
    expect(session?.file).toBe('docs/cli.md');
    if (!output || !session) return;
    const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-doc-sim-'));
    const args = (markerValue(output, 'output') ?? '').split(' ').slice(1);
    const sim = spawn(process.execPath, [testEntry('src/cli/main.ts'), ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    sim.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    sim.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => sim.once('exit', resolve));
    try {
      const lines = output.code.split('\n').length - 1;
      await waitUntil(
        () => stdout.split('\n').length > lines,
        `k8s-jobs sim to print ${lines} lines (stderr: ${stderr})`,
        { timeoutMs: 30_000 },
      );
      expect(
        matchesOutput(output.code, stdout, { prefixOnly: true }),
        `${at(output)} shows what k8s-jobs sim prints:\n${stdout}`,
      ).toBe(true);
      await mkdir(join(dir, 'kube-cache'));
      const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        // `KUBECTL` picks another kubectl binary, as in test/sim/kubectl.test.ts.
        const script = process.env['KUBECTL'] ? `kubectl() { "$KUBECTL" "$@"; }\n${session.code}` : session.code;
        execFile(
          'bash',
          ['-e', '-o', 'pipefail', '-c', script],
          { cwd: dir, env: { ...process.env, KUBECONFIG: '', KUBECACHEDIR: join(dir, 'kube-cache') }, timeout: 60_000 },
          (err, out, errOut) =>
            resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, stdout: out, stderr: errOut }),
        );
      });
      expect(run, `${at(session)} ran`).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain('hello\nbye\n');
      expect(run.stdout).toContain('job.batch "hello" deleted');
    } finally {
      sim.kill('SIGINT');
      expect(await exited).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** `k8s-jobs <sub> --help`, or undefined when there is no such subcommand. */
function cliHelp(sub: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [testEntry('src/cli/main.ts'), sub, '--help'],
      { cwd: repoRoot, timeout: 30_000 },
      (err, stdout) => {
        if (err && typeof err.code !== 'number') reject(new Error(err.message, { cause: err }));
        else resolve(err ? undefined : stdout);
      },
    );
  });
}

describe('paths and links', async () => {
  // The changelog names files as they were when each change was made.
  const files = (await markdownFiles()).filter((f) => f !== 'CHANGELOG.md');
  const texts = new Map(
    await Promise.all(files.map(async (f) => [f, await readFile(join(repoRoot, f), 'utf8')] as const)),
  );
  /** The Markdown without its fenced blocks (they are checked above). */
  const prose = (file: string): string => {
    const text = texts.get(file) ?? '';
    return codeBlocks(file, text).reduce((t, b) => t.replace(b.code, ''), text);
  };

  test('every backticked repository path exists', () => {
    const candidate =
      /^(?:(?:src|test|examples|deploy|docs|scripts|bench|eslint-rules|\.ci)\/[\w./-]*|[\w.-]+\.(?:json|js|ts|md))$/;
    const missing = files.flatMap((file) =>
      [...prose(file).matchAll(/`([^`\n]+)`/g)]
        .map((m) => m[1] ?? '')
        .filter((path) => candidate.test(path) && !path.startsWith('docs/api') && path.includes('/'))
        .filter((path) => !existsSync(join(repoRoot, path)))
        .map((path) => `${file}: ${path}`),
    );
    expect(missing).toEqual([]);
  });

  test('every relative link goes to a file that exists, and to a heading it has', () => {
    const broken = files.flatMap((file) =>
      [...prose(file).matchAll(/\]\(([^)\s]+)\)/g)]
        .map((m) => m[1] ?? '')
        .filter((target) => !/^[a-z]+:/.test(target))
        .flatMap((target) => {
          const [path = '', anchor] = target.split('#');
          const resolved = path === '' ? file : normalize(join(dirname(file), path)).replaceAll('\\', '/');
          if (!existsSync(join(repoRoot, resolved))) return [`${file}: ${target} (no ${resolved})`];
          if (anchor === undefined) return [];
          const headings = (texts.get(resolved) ?? '')
            .split('\n')
            .filter((l) => /^#{1,6} /.test(l))
            .map((l) => githubSlug(l.replace(/^#+ /, '')));
          return headings.includes(anchor) ? [] : [`${file}: ${target} (no heading #${anchor} in ${resolved})`];
        }),
    );
    expect(broken).toEqual([]);
  });

  test('no doc names a path outside the repository (users have only the repository)', () => {
    const outside = files.flatMap((file) =>
      [...(texts.get(file) ?? '').matchAll(/(?:^|[\s(`'"])((?:\.\.\/)+[\w.-][^\s)`'"]*)/g)].flatMap((match) => {
        const path = match[1] ?? '';
        // Relative to the doc's own folder, as a link or a reader would resolve it.
        return normalize(join(dirname(file), path)).startsWith('..') ? [`${file}: ${path}`] : [];
      }),
    );
    expect(outside).toEqual([]);
  });

  test("architecture.md: each step of the task's path names a symbol that is in the file it names", async () => {
    const text = texts.get('docs/architecture.md') ?? '';
    const section = text.slice(text.indexOf('## One task'), text.indexOf('\n## ', text.indexOf('## One task') + 1));
    const rows = section
      .split('\n')
      .filter((l) => /^\| \d+ \|/.test(l))
      .map((l) => l.split(' | ').map((cell) => cell.replace(/^\| |\s*\|$/g, '').trim()));
    expect(rows.length).toBeGreaterThanOrEqual(25);
    const wrong: string[] = [];
    for (const [step, , fileCell, symbolCell] of rows) {
      const path = /^`([^`]+)`$/.exec(fileCell ?? '')?.[1];
      const symbol = /^`([^`]+)`$/.exec(symbolCell ?? '')?.[1];
      if (!path || !symbol) {
        wrong.push(`step ${step}: expected \`file\` | \`symbol\`, got ${fileCell} | ${symbolCell}`);
        continue;
      }
      const source = existsSync(join(repoRoot, path)) ? await readFile(join(repoRoot, path), 'utf8') : undefined;
      if (source === undefined) wrong.push(`step ${step}: no file ${path}`);
      else
        for (const part of symbol.split('.'))
          if (!new RegExp(`\\b${part}\\b`).test(source)) wrong.push(`step ${step}: no ${part} in ${path}`);
    }
    expect(wrong).toEqual([]);
  });

  test("architecture.md's import table forbids what eslint.config.js forbids", async () => {
    const config = (
      (await import(pathToFileURL(join(repoRoot, 'eslint.config.js')).href)) as {
        default: Array<{ rules?: Record<string, unknown> }>;
      }
    ).default;
    const rule = config.map((c) => c.rules?.['import-x/no-restricted-paths']).find((r) => r !== undefined) as
      [string, { zones: Array<{ target: unknown; from: unknown }> }] | undefined;
    expect(rule, 'eslint.config.js sets import-x/no-restricted-paths').toBeDefined();
    const text = texts.get('docs/architecture.md') ?? '';
    const table = text.slice(
      text.indexOf('## What each layer may import'),
      text.indexOf('\n## ', text.indexOf('## What each layer may import') + 1),
    );
    const rows = new Map(
      table
        .split('\n')
        .filter((l) => l.startsWith('| `src/'))
        .map((l) => {
          const cells = l.split(' | ');
          return [/`([^`]+)`/.exec(cells[0] ?? '')?.[1] ?? '', cells.at(-1) ?? ''] as const;
        }),
    );
    const missing: string[] = [];
    for (const { target, from } of rule?.[1].zones ?? []) {
      // Zones between two folders of src/ (the leaves', engine's and sim's zones are spelt out in prose).
      if (typeof target !== 'string' || !/^src\/[a-z]+$/.test(target)) continue;
      const forbidden = (Array.isArray(from) ? from : [from]).filter(
        (f): f is string => typeof f === 'string' && /^src\/[a-z]+$/.test(f),
      );
      const cell = rows.get(`${target}/`);
      if (cell === undefined) missing.push(`no row for ${target}/`);
      else for (const f of forbidden) if (!cell.includes(`\`${f}/\``)) missing.push(`${target}/ must not import ${f}/`);
    }
    expect(missing).toEqual([]);
  });
});

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens. */
function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}
