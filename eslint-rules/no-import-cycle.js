// @ts-check
/**
 * `local/no-import-cycle`: no import cycle between the project's own files, type-only imports
 * included.
 *
 * Why our own rule: `eslint-plugin-import-x`'s `no-cycle` skips every `import type` edge by
 * design (a cycle of types costs nothing at run time), and it has no option to count them. We
 * want the module graph to stay a tree of layers, types included (issue 9).
 *
 * How: the graph comes from the TypeScript program that typed linting already built (no second
 * parse): every file of the program outside `node_modules`, every module specifier in it (static
 * and dynamic imports, re-exports, `import('…')` types), resolved by TypeScript with the
 * project's options. Its strongly connected components are computed once per program; an import
 * whose target lies in the importing file's component lies on a cycle, and is reported with one
 * path back.
 */
import path from 'node:path';
import ts from 'typescript';

/** @typedef {{ spec: string, target: string }} Edge */
/** @typedef {{ edges: Map<string, Edge[]>, component: Map<string, number> }} Graph */

/** Module specifiers per source file (a SourceFile object is reused while its text is unchanged). */
/** @type {WeakMap<ts.SourceFile, string[]>} */
const specifiersCache = new WeakMap();
/** @type {WeakMap<ts.Program, Graph>} */
const graphCache = new WeakMap();
/** @type {WeakMap<ts.Program, ts.ModuleResolutionCache>} */
const resolutionCaches = new WeakMap();

/**
 * @param {ts.SourceFile} file
 * @returns {string[]}
 */
function specifiersOf(file) {
  const cached = specifiersCache.get(file);
  if (cached) return cached;
  /** @type {string[]} */
  const found = [];
  /** @param {ts.Node} node */
  const visit = (node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isExternalModuleReference(node) && ts.isStringLiteral(node.expression)) {
      found.push(node.expression.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [first] = node.arguments;
      if (first && ts.isStringLiteralLike(first)) found.push(first.text);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  specifiersCache.set(file, found);
  return found;
}

/**
 * @param {ts.Program} program
 * @returns {Graph}
 */
function graphOf(program) {
  const cached = graphCache.get(program);
  if (cached) return cached;
  const options = program.getCompilerOptions();
  let resolutionCache = resolutionCaches.get(program);
  if (!resolutionCache) {
    resolutionCache = ts.createModuleResolutionCache(program.getCurrentDirectory(), (name) => name, options);
    resolutionCaches.set(program, resolutionCache);
  }
  /** @type {Map<string, Edge[]>} */
  const edges = new Map();
  for (const file of program.getSourceFiles()) {
    if (
      file.isDeclarationFile ||
      program.isSourceFileFromExternalLibrary(file) ||
      file.fileName.includes('/node_modules/')
    )
      continue;
    /** @type {Edge[]} */
    const out = [];
    for (const spec of specifiersOf(file)) {
      const resolved = ts.resolveModuleName(spec, file.fileName, options, ts.sys, resolutionCache).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) continue;
      const target = program.getSourceFile(resolved.resolvedFileName);
      if (target && !target.isDeclarationFile) out.push({ spec, target: target.fileName });
    }
    edges.set(file.fileName, out);
  }
  const graph = { edges, component: stronglyConnected(edges) };
  graphCache.set(program, graph);
  return graph;
}

/**
 * Tarjan's algorithm, iterative. Only files in a component of two or more files (or importing
 * themselves) get an entry.
 * @param {Map<string, Edge[]>} edges
 * @returns {Map<string, number>}
 */
function stronglyConnected(edges) {
  /** @type {Map<string, number>} */
  const index = new Map();
  /** @type {Map<string, number>} */
  const low = new Map();
  /** @type {string[]} */
  const stack = [];
  const onStack = new Set();
  /** @type {Map<string, number>} */
  const component = new Map();
  let next = 0;
  let components = 0;
  for (const root of edges.keys()) {
    if (index.has(root)) continue;
    /** @type {Array<{ node: string, i: number }>} */
    const work = [{ node: root, i: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = /** @type {{ node: string, i: number }} */ (work.at(-1));
      const out = edges.get(frame.node) ?? [];
      if (frame.i < out.length) {
        const target = /** @type {Edge} */ (out[frame.i++]).target;
        if (!index.has(target)) {
          index.set(target, next);
          low.set(target, next++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, i: 0 });
        } else if (onStack.has(target)) {
          low.set(
            frame.node,
            Math.min(/** @type {number} */ (low.get(frame.node)), /** @type {number} */ (index.get(target))),
          );
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent)
        low.set(
          parent.node,
          Math.min(/** @type {number} */ (low.get(parent.node)), /** @type {number} */ (low.get(frame.node))),
        );
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      /** @type {string[]} */
      const members = [];
      let member;
      do {
        member = /** @type {string} */ (stack.pop());
        onStack.delete(member);
        members.push(member);
      } while (member !== frame.node);
      const selfLoop = (edges.get(frame.node) ?? []).some((edge) => edge.target === frame.node);
      if (members.length > 1 || selfLoop) {
        for (const m of members) component.set(m, components);
        components++;
      }
    }
  }
  return component;
}

/**
 * Shortest path from `from` back to `to` inside one component (breadth first).
 * @param {Graph} graph
 * @param {string} from
 * @param {string} to
 * @returns {string[]}
 */
function pathBack(graph, from, to) {
  const wanted = graph.component.get(to);
  /** @type {Map<string, string | null>} */
  const cameFrom = new Map([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const node = /** @type {string} */ (queue.shift());
    if (node === to) break;
    for (const { target } of graph.edges.get(node) ?? []) {
      if (cameFrom.has(target) || graph.component.get(target) !== wanted) continue;
      cameFrom.set(target, node);
      queue.push(target);
    }
  }
  /** @type {string[]} */
  const route = [];
  for (let node = /** @type {string | null | undefined} */ (to); node != null; node = cameFrom.get(node))
    route.unshift(node);
  return route;
}

/** @type {import('eslint').Rule.RuleModule} */
export const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles between project files, type-only imports included' },
    schema: [],
    messages: { cycle: 'Import cycle: {{route}}' },
  },
  create(context) {
    // typescript-eslint's parser services (absent when the file is parsed without type information).
    const services = /** @type {{ program?: ts.Program | null } | undefined} */ (
      /** @type {unknown} */ (context.sourceCode.parserServices)
    );
    const program = services?.program;
    if (!program) return {};
    const self = program.getSourceFile(context.physicalFilename)?.fileName;
    if (self === undefined) return {};
    const graph = graphOf(program);
    const component = graph.component.get(self);
    if (component === undefined) return {};
    const root = context.cwd;
    const outgoing = graph.edges.get(self) ?? [];

    /**
     * @param {import('estree').Node} node
     * @param {unknown} source
     */
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      for (const edge of outgoing) {
        if (edge.spec !== source || graph.component.get(edge.target) !== component) continue;
        const route = [self, ...pathBack(graph, edge.target, self)]
          .map((file) => path.relative(root, file))
          .join(' → ');
        context.report({ node, messageId: 'cycle', data: { route } });
        return;
      }
    };
    /** @param {any} node */
    const fromSource = (node) => check(node, node.source?.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: fromSource,
      /** @param {any} node */
      TSImportType: (node) => check(node, node.source?.value ?? node.argument?.literal?.value),
      /** @param {any} node */
      TSExternalModuleReference: (node) => check(node, node.expression?.value),
    };
  },
};

export default { rules: { 'no-import-cycle': noImportCycle } };
