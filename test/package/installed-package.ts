/**
 * The package as an application gets it, without `npm run build`: `src/` transpiled file by file
 * to `<tmp>/k8s-jobs/dist` (what `tsc` emits: with `isolatedModules` and `verbatimModuleSyntax`
 * each file compiles alone, types erased), beside a copy of `package.json` (its `exports`), and an
 * application folder whose `node_modules/k8s-jobs` links to it. The package's own dependencies
 * resolve from this repository's `node_modules`. Transpiling takes about a second; a type-checked
 * build takes over ten.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** An application folder with `k8s-jobs` installed. */
export interface InstalledPackage {
  /** The application's folder: scripts written here import or require `k8s-jobs` by name. */
  appDir: string;
  /** Runs `node <args>` in the application's folder. */
  node(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Writes a script into the application's folder; returns its path. */
  script(name: string, text: string): string;
  /** Removes everything. */
  remove(): void;
}

/**
 * Lays the package out in a fresh temp dir (see the module's comment); `appDependencies` are
 * linked into the application's `node_modules` too (packages a test script imports itself).
 */
export function installPackage(appDependencies: string[] = []): InstalledPackage {
  const root = mkdtempSync(join(tmpdir(), 'k8s-jobs-package-'));
  const pkg = join(root, 'k8s-jobs');
  const appDir = join(root, 'app');
  transpileTree(join(repo, 'src'), join(pkg, 'dist'));
  // The dashboard's browser files, copied as `npm run build` copies them.
  cpSync(join(repo, 'src/dashboard/assets'), join(pkg, 'dist/dashboard/assets'), { recursive: true });
  cpSync(join(repo, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  mkdirSync(join(appDir, 'node_modules'), { recursive: true });
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  symlinkSync(pkg, join(appDir, 'node_modules', 'k8s-jobs'), 'dir');
  for (const name of appDependencies)
    symlinkSync(join(repo, 'node_modules', name), join(appDir, 'node_modules', name), 'dir');
  return {
    appDir,
    node: (args, env) =>
      new Promise((resolve, reject) => {
        execFile(
          process.execPath,
          args,
          { cwd: appDir, env: { ...process.env, ...env }, timeout: 30_000 },
          (err, stdout, stderr) => {
            if (err && typeof err.code !== 'number') reject(err);
            else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
          },
        );
      }),
    script: (name, text) => {
      const path = join(appDir, name);
      writeFileSync(path, text);
      return path;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

function transpileTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const source = join(entry.parentPath, entry.name);
    const target = join(to, relative(from, source)).replace(/\.ts$/, '.js');
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
      fileName: source,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
}
