import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../cli/cli-process.js';

/** A TypeScript module to type-check, and where its text came from. */
export interface Snippet {
  /** A unique name for its file (`docs-runner-md-42`). */
  name: string;
  code: string;
  /** Added to the line numbers of its diagnostics (the line of the block's opening fence). */
  lineOffset: number;
  /** Prefix of its diagnostics (`docs/runner.md`). */
  origin: string;
}

/**
 * Type-checks each snippet as a module of its own, with the project's compiler options
 * (tsconfig.json), importing the package by its public names: `k8s-jobs` and `k8s-jobs/sim` are
 * rewritten to the source entry points (`src/index.ts`, `src/sim/index.ts`), every other import
 * resolves as it would in this repository. The snippets are written to a temporary directory in
 * `.tmp/` (inside the repository, so that `node_modules` resolves; ignored by git, lint and tsc)
 * and removed afterwards. Resolves with the diagnostics of each snippet, by name (empty: it
 * type-checks), as `origin:line: message`.
 */
export async function typeCheckSnippets(snippets: readonly Snippet[]): Promise<Map<string, string[]>> {
  await mkdir(join(repoRoot, '.tmp'), { recursive: true });
  const dir = await mkdtemp(join(repoRoot, '.tmp', 'doc-blocks-'));
  try {
    const entry = (path: string): string => relative(dir, join(repoRoot, path)).replaceAll('\\', '/');
    const files = new Map<string, Snippet>();
    for (const snippet of snippets) {
      const file = join(dir, `${snippet.name}.ts`);
      // Same line count as the block: line N of the file is line N of the block.
      const code = snippet.code
        .replaceAll("from 'k8s-jobs/sim'", `from '${entry('src/sim/index.js')}'`)
        .replaceAll("from 'k8s-jobs/dashboard'", `from '${entry('src/dashboard/index.js')}'`)
        .replaceAll("from 'k8s-jobs'", `from '${entry('src/index.js')}'`);
      await writeFile(file, `${code}export {};\n`);
      files.set(ts.sys.resolvePath(file), snippet);
    }
    const configFile = ts.readConfigFile(join(repoRoot, 'tsconfig.json'), (path) => ts.sys.readFile(path));
    if (configFile.error) throw new Error(ts.flattenDiagnosticMessageText(configFile.error.messageText, '\n'));
    const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, repoRoot);
    const program = ts.createProgram({ rootNames: [...files.keys()], options: { ...options, noEmit: true } });
    const result = new Map<string, string[]>(snippets.map((s) => [s.name, []]));
    const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
    if (global.length > 0) throw new Error(ts.formatDiagnostics(global, formatHost));
    for (const sourceFile of program.getSourceFiles()) {
      const snippet = files.get(ts.sys.resolvePath(sourceFile.fileName));
      if (!snippet) continue;
      const diagnostics = [
        ...program.getSyntacticDiagnostics(sourceFile),
        ...program.getSemanticDiagnostics(sourceFile),
      ];
      result.set(
        snippet.name,
        diagnostics.map((d) => {
          const line = d.start === undefined ? 0 : sourceFile.getLineAndCharacterOfPosition(d.start).line + 1;
          return `${snippet.origin}:${snippet.lineOffset + line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
        }),
      );
    }
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (name) => name,
  getCurrentDirectory: () => repoRoot,
  getNewLine: () => '\n',
};
