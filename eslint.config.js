// @ts-check
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import local from './eslint-rules/no-import-cycle.js';

/**
 * The layers of `src/` and what each may import: see docs/architecture.md. Folder boundaries are
 * checked on resolved paths by `import-x/no-restricted-paths` (one rule, one list of zones, so a
 * file in several zones gets every zone); package bans by `@typescript-eslint/no-restricted-imports`
 * (one block per folder, the blocks are disjoint: in flat config a later block replaces an
 * earlier one's options for the same rule, it does not merge them).
 */
const src = (/** @type {string} */ folder) => `src/${folder}`;

/** Everything under src/ but the simulated cluster and the CLI. */
const engine = ['src/*.ts', 'src/!(sim|cli)/**'];

/** What the simulated cluster may take from the engine: small shared leaves, kept explicit. */
const simLeaves = [
  './errors.ts',
  './collections/oldest-first-map.ts',
  './json/merge-patch.ts',
  './validation/parse.ts',
  './validation/quantity.ts',
  './validation/pod-security.ts',
];

/** @type {Array<{ target: string | string[], from: string | string[], except?: string[], message: string }>} */
const zones = [
  {
    target: src('machines'),
    from: ['effects', 'kube', 'store', 'runner'].map(src),
    message: 'Machines are pure: Kubernetes, storage and wiring reach them as injected actors (.provide).',
  },
  {
    target: src('ports'),
    from: ['effects', 'kube', 'store', 'runner'].map(src),
    message: 'Ports are our own interfaces: they depend on nothing that implements or uses them.',
  },
  {
    target: src('effects'),
    from: ['kube', 'runner'].map(src),
    message: 'Effects see Kubernetes only through the ports (src/ports), and never the runner.',
  },
  {
    target: src('kube'),
    from: ['store', 'runner'].map(src),
    message: 'The Kubernetes adapter knows neither the store nor the runner.',
  },
  {
    target: src('store'),
    from: ['effects', 'kube', 'runner'].map(src),
    message: 'The store knows neither Kubernetes, the effects nor the runner.',
  },
  {
    target: src('leader'),
    from: ['machines', 'ports', 'effects', 'kube', 'store', 'runner'].map(src),
    message:
      'Leader election decides over an injected Lease lock: the client-node lock (src/kube) is wired in by the runner.',
  },
  {
    target: ['collections', 'json', 'validation', 'time', 'jobs', 'logs'].map(src),
    from: ['machines', 'effects', 'kube', 'store', 'runner'].map(src),
    message: 'Shared leaves import no layer.',
  },
  {
    target: ['errors.ts', 'types.ts', 'failure-reasons.ts'].map(src),
    from: ['machines', 'effects', 'kube', 'store', 'runner'].map(src),
    message: 'Shared leaves import no layer.',
  },
  {
    target: engine,
    from: ['sim', 'cli'].map(src),
    message: 'The engine never imports the simulated cluster or the CLI.',
  },
  {
    target: src('sim'),
    from: 'src',
    except: ['./sim', ...simLeaves],
    message: `The simulated cluster imports from the engine only the shared leaves ${simLeaves.join(', ')}.`,
  },
  {
    target: src('cli'),
    from: src('sim'),
    except: ['./index.ts'],
    message: 'The CLI reaches the simulated cluster only through src/sim/index.ts (k8s-jobs/sim).',
  },
];

const clientNode = '@kubernetes/client-node';

/**
 * Packages the engine never loads on import (test/package/lazy-dependencies.test.ts): what only the
 * CLI and the sim use, the native SQLite addon, loaded when a `sqlite://` store is opened, and the
 * OpenTelemetry SDK (a dev dependency, for tests and examples).
 */
const engineLoadsNever = [
  ...['commander', 'log-update', 'cli-table3', 'yaml'].map((name) => ({
    name,
    message: 'A CLI-only dependency: importing the engine must not load it.',
  })),
  ...['@opentelemetry/sdk-trace-base', '@opentelemetry/context-async-hooks'].map((name) => ({
    name,
    message: "The OpenTelemetry SDK is the application's choice: the engine traces through @opentelemetry/api only.",
  })),
  ...['@keyv/sqlite', 'sqlite3'].map((name) => ({
    name,
    allowTypeImports: true,
    message: 'Loads the native sqlite3 addon: only src/store/sqlite-adapter.ts imports it, dynamically.',
  })),
];

/**
 * One `@typescript-eslint/no-restricted-imports` block per engine folder (each bans
 * `engineLoadsNever` too).
 * @param {string[]} files
 * @param {Array<{ name: string, message: string, allowTypeImports?: boolean, allowImportNames?: string[] }>} paths
 * @returns {import('typescript-eslint').ConfigWithExtends}
 */
const restrictPackages = (files, paths) => ({
  files,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [...paths, ...engineLoadsNever] }] },
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.tmp/**',
      'docs/api/**',
      'test/lint/fixtures/**',
      '.ci/node24/**',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX, local },
    settings: {
      // Our imports name the emitted `.js`; the source is the `.ts` beside it (NodeNext).
      'import-x/resolver-next': [
        createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'], extensionAlias: { '.js': ['.ts', '.js'] } }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      // An `async` function that implements an async contract without awaiting keeps "a throw is a
      // rejection"; dropping `async` to please this rule would turn throws into synchronous
      // exceptions. Forgotten awaits are no-floating-promises' job.
      '@typescript-eslint/require-await': 'off',
      'local/no-import-cycle': 'error',
      // Prettier wraps code at 120 columns but not comments: this keeps those within the width too.
      // Long string, template and regexp literals are left to the formatter (they cannot be split).
      'max-len': [
        'error',
        {
          code: 120,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
          ignorePattern: 'eslint-disable',
        },
      ],
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones }],
    },
  },
  {
    // Tests, benchmarks and examples: vitest's `expect(...)` chains, `JSON.parse` of child process
    // output and the sim's loosely typed objects are `any` by design there; the unsafe-* rules would
    // flag every such line without finding bugs. Source files keep them.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts', 'scripts/**/*.ts', '*.config.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // execFile's error (ExecFileException, an `Omit<ErrnoException, 'code'>`) is an Error the
      // rule does not recognise as one.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    // The simulated API server keeps Kubernetes objects as JSON (`KubeObject.spec` and `.status`
    // are `any`; each kind's strategy validates the fields it knows, as the real server does):
    // every read of a field is `any` or `unknown` by design, and printing a field of whatever a
    // client sent is what it simulates. ~270 reports there, none a bug.
    files: ['src/sim/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  restrictPackages(
    ['src/machines/**/*.ts'],
    [
      { name: clientNode, message: 'Machines are pure: inject effects.', allowTypeImports: true },
      { name: 'keyv', message: 'Machines are pure: persist from the runner.', allowTypeImports: true },
    ],
  ),
  restrictPackages(
    ['src/ports/**/*.ts'],
    [{ name: clientNode, message: 'Ports speak in our own views (JobView, PodView), never client-node models.' }],
  ),
  restrictPackages(
    ['src/effects/**/*.ts'],
    [{ name: clientNode, message: 'Effects see Kubernetes only through the ports (src/ports), not even as types.' }],
  ),
  restrictPackages(['src/store/**/*.ts'], [{ name: clientNode, message: 'The store knows nothing of Kubernetes.' }]),
  restrictPackages(
    ['src/runner/**/*.ts'],
    [
      {
        name: clientNode,
        allowImportNames: ['KubeConfig'],
        message: 'The runner takes a KubeConfig and nothing else from client-node: models stay in src/kube.',
      },
    ],
  ),
  restrictPackages(['src/kube/**/*.ts'], []),
  restrictPackages(
    ['src/leader/**/*.ts'],
    [
      { name: clientNode, message: 'Leader election knows no client-node: the Lease lock lives in src/kube.' },
      { name: 'keyv', message: 'Leader election keeps no records.' },
    ],
  ),
  restrictPackages(
    ['src/*.ts', 'src/{collections,json,validation,time,jobs,logs}/**/*.ts'],
    [{ name: clientNode, message: 'Shared leaves know nothing of client-node.' }],
  ),
  {
    // Ports are types only: nothing in them may exist at run time.
    files: ['src/ports/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...[
          'Program > :matches(FunctionDeclaration, ClassDeclaration, VariableDeclaration, TSEnumDeclaration, ExpressionStatement)',
          'ExportNamedDeclaration > :matches(FunctionDeclaration, ClassDeclaration, VariableDeclaration, TSEnumDeclaration)',
          'ExportDefaultDeclaration',
          'ImportDeclaration[importKind="value"]',
          'ExportNamedDeclaration[source][exportKind="value"]',
          'ExportAllDeclaration[exportKind="value"]',
        ].map((selector) => ({
          selector,
          message: 'src/ports holds types only (`import type`, `export type`, interfaces).',
        })),
      ],
    },
  },
);
