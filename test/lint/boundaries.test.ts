/**
 * The lint rules that keep the layers apart (eslint.config.js) bite: for each folder, an import it
 * may not make is reported and one it may make is not; and an import cycle is reported, type-only
 * imports included. Layer cases are linted as text at a path inside the folder (the imports name
 * real files, found at run time, since the boundary rule checks resolved paths); the cycle is a
 * pair of fixture files with a tsconfig of their own (test/lint/fixtures/cycle).
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, test } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The boundary rules need no type information: linting text at a path that does not exist is then possible. */
const untyped = new ESLint({ cwd: repo, overrideConfig: tseslint.configs.disableTypeChecked });

const boundaryRules = new Set([
  'import-x/no-restricted-paths',
  '@typescript-eslint/no-restricted-imports',
  'no-restricted-syntax',
]);

/** The boundary problems ESLint reports for `code` at `filePath`, as `rule: line`. */
async function boundaryProblems(filePath: string, code: string): Promise<string[]> {
  const [result] = await untyped.lintText(code, { filePath });
  const messages = result?.messages ?? [];
  const fatal = messages.filter((m) => m.fatal);
  if (fatal.length > 0) throw new Error(fatal.map((m) => m.message).join('\n'));
  return messages.filter((m) => m.ruleId !== null && boundaryRules.has(m.ruleId)).map((m) => `${m.ruleId}: ${m.line}`);
}

/** `../<folder>/<first module there>.js` as imported from a file one folder below src/. */
function moduleIn(folder: string): string {
  const name = readdirSync(new URL(`../../src/${folder}/`, import.meta.url))
    .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
    .sort()[0];
  if (name === undefined) throw new Error(`src/${folder} holds no module`);
  return `../${folder}/${name.replace(/\.ts$/, '.js')}`;
}

/** One import per line; the result names the lines reported. */
async function reported(filePath: string, imports: string[]): Promise<number[]> {
  const problems = await boundaryProblems(filePath, `${imports.join('\n')}\n`);
  return [...new Set(problems.map((p) => Number(p.split(': ')[1])))].sort((a, b) => a - b);
}

describe('layer boundaries', () => {
  test('src/machines: no effects, kube, store, runner, sim or cli; client-node and keyv as types only', async () => {
    const lines = [
      `import '${moduleIn('effects')}';`,
      `import '${moduleIn('kube')}';`,
      `import '${moduleIn('store')}';`,
      `import '${moduleIn('runner')}';`,
      `import '../sim/index.js';`,
      `import '${moduleIn('cli')}';`,
      `import { KubeConfig } from '@kubernetes/client-node';`,
      `import Keyv from 'keyv';`,
      // allowed:
      `import type { V1Job } from '@kubernetes/client-node';`,
      `import type Keyv2 from 'keyv';`,
      `import type {} from '${moduleIn('ports')}';`,
      `import type {} from '../types.js';`,
      `import { ValidationError } from '../errors.js';`,
    ];
    expect(await reported('src/machines/lint-case.ts', lines)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('src/ports: types only; no effects, kube, store, runner, sim or cli; no client-node', async () => {
    const lines = [
      `import type {} from '${moduleIn('kube')}';`,
      `import type {} from '${moduleIn('store')}';`,
      `import type {} from '${moduleIn('runner')}';`,
      `import type {} from '../sim/index.js';`,
      `import type { V1Job } from '@kubernetes/client-node';`,
      `import { ValidationError } from '../errors.js';`,
      `export const notAType = 1;`,
      `export function notATypeEither(): void {}`,
      // allowed:
      `import type { TaskRecord } from '../types.js';`,
      `export type { TaskRecord as Record } from '../types.js';`,
      `export interface Port { read(): Promise<TaskRecord> }`,
    ];
    expect(await reported('src/ports/lint-case.ts', lines)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('src/effects: no kube, runner, sim or cli; no client-node, not even types', async () => {
    const lines = [
      `import '${moduleIn('kube')}';`,
      `import '${moduleIn('runner')}';`,
      `import '../sim/index.js';`,
      `import '${moduleIn('cli')}';`,
      `import type { V1Job } from '@kubernetes/client-node';`,
      // allowed:
      `import type {} from '${moduleIn('ports')}';`,
      `import type {} from '${moduleIn('store')}';`,
      `import '${moduleIn('machines/task')}';`,
    ];
    expect(await reported('src/effects/lint-case.ts', lines)).toEqual([1, 2, 3, 4, 5]);
  });

  test('src/kube: no store, runner, sim or cli; client-node allowed', async () => {
    const lines = [
      `import '${moduleIn('store')}';`,
      `import '${moduleIn('runner')}';`,
      `import '../sim/index.js';`,
      `import '${moduleIn('cli')}';`,
      // allowed:
      `import { BatchV1Api, type V1Job } from '@kubernetes/client-node';`,
      `import type {} from '${moduleIn('ports')}';`,
    ];
    expect(await reported('src/kube/lint-case.ts', lines)).toEqual([1, 2, 3, 4]);
  });

  test('src/store: no effects, kube, runner, sim or cli; no client-node; @keyv/sqlite as a type (loaded lazily)', async () => {
    const lines = [
      `import '${moduleIn('effects')}';`,
      `import '${moduleIn('kube')}';`,
      `import '${moduleIn('runner')}';`,
      `import '../sim/index.js';`,
      `import type { V1Job } from '@kubernetes/client-node';`,
      `import KeyvSqlite from '@keyv/sqlite';`,
      // allowed:
      `import type KeyvSqliteType from '@keyv/sqlite';`,
      `const loaded = await import('@keyv/sqlite');`,
      `import Keyv from 'keyv';`,
      `import { StoreError } from '../errors.js';`,
    ];
    expect(await reported('src/store/lint-case.ts', lines)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('src/runner: no sim or cli, nor their packages; from client-node only KubeConfig', async () => {
    const lines = [
      `import '../sim/index.js';`,
      `import '${moduleIn('cli')}';`,
      `import type { V1Job } from '@kubernetes/client-node';`,
      `import { KubeConfig as Config, BatchV1Api } from '@kubernetes/client-node';`,
      `import { Command } from 'commander';`,
      `import { stringify } from 'yaml';`,
      // allowed:
      `import { KubeConfig } from '@kubernetes/client-node';`,
      `import type { KubeConfig as Kc } from '@kubernetes/client-node';`,
      `import '${moduleIn('kube')}';`,
      `import '${moduleIn('store')}';`,
    ];
    expect(await reported('src/runner/lint-case.ts', lines)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('the engine: nothing from src/sim or src/cli (shared leaves and src/*.ts too)', async () => {
    for (const filePath of ['src/validation/lint-case.ts', 'src/json/lint-case.ts', 'src/lint-case.ts']) {
      const prefix = filePath === 'src/lint-case.ts' ? './' : '../';
      const lines = [
        `import '${prefix}sim/index.js';`,
        `import '${prefix}${moduleIn('cli').slice(3)}';`,
        `import '${prefix}errors.js';`,
      ];
      expect(await reported(filePath, lines), filePath).toEqual([1, 2]);
    }
  });

  test('src/sim: from the engine only the listed shared leaves', async () => {
    const lines = [
      `import '${moduleIn('runner')}';`,
      `import '${moduleIn('store')}';`,
      `import '../validation/task-spec.js';`,
      `import '../types.js';`,
      // allowed:
      `import { ValidationError } from '../errors.js';`,
      `import { parseQuantity } from '../validation/quantity.js';`,
      `import { toValidationIssues } from '../validation/parse.js';`,
      `import { applyMergePatch } from '../json/merge-patch.js';`,
      `import { startSimulatedCluster } from './cluster.js';`,
      `import { KubeConfig } from '@kubernetes/client-node';`,
    ];
    expect(await reported('src/sim/lint-case.ts', lines)).toEqual([1, 2, 3, 4]);
  });

  test('src/cli: the sim only through src/sim/index.ts, dynamic imports included', async () => {
    const lines = [
      `import { startSimulatedCluster } from '../sim/cluster.js';`,
      `const late = await import('../sim/cluster.js');`,
      // allowed:
      `import { behaviourAnnotation } from '../sim/index.js';`,
      `const lazy = await import('../sim/index.js');`,
      `import '${moduleIn('runner')}';`,
      `import '${moduleIn('store')}';`,
    ];
    expect(await reported('src/cli/lint-case.ts', lines)).toEqual([1, 2]);
  });
});

describe('import cycles', () => {
  let problems: Array<{ file: string; rule: string | null; message: string }>;
  beforeAll(async () => {
    // Typed: the cycle rule reads the module graph from the TypeScript program.
    const typed = new ESLint({ cwd: repo, ignore: false });
    const results = await typed.lintFiles(['test/lint/fixtures/cycle/*.ts']);
    problems = results.flatMap((r) =>
      r.messages.map((m) => ({ file: r.filePath.slice(repo.length), rule: m.ruleId, message: m.message })),
    );
  });

  test('a cycle of type-only imports is reported in each of its files, an import on no cycle is not', () => {
    expect(problems).toEqual([
      {
        file: 'test/lint/fixtures/cycle/a.ts',
        rule: 'local/no-import-cycle',
        message:
          'Import cycle: test/lint/fixtures/cycle/a.ts → test/lint/fixtures/cycle/b.ts → test/lint/fixtures/cycle/a.ts',
      },
      {
        file: 'test/lint/fixtures/cycle/b.ts',
        rule: 'local/no-import-cycle',
        message:
          'Import cycle: test/lint/fixtures/cycle/b.ts → test/lint/fixtures/cycle/a.ts → test/lint/fixtures/cycle/b.ts',
      },
    ]);
  });
});
