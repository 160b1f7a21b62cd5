import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../cli/cli-process.js';

/*
 * What a documented shell command claims, checked without running it: the npm scripts exist, the
 * files exist, and every `k8s-jobs` option is one its subcommand's `--help` lists. A line this
 * file cannot check is a problem too: shell blocks stay few and plain.
 */

/** The words of one shell command line: quotes removed, `# comments` dropped, `&&` a word of its own. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unbalanced ${c} in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** What the checks need to know of the project. */
export interface ShellContext {
  /** package.json `scripts`. */
  scripts: Record<string, string>;
  /** `k8s-jobs <sub> --help` output by subcommand (undefined: no such subcommand). */
  cliHelp: (sub: string) => string | undefined;
}

const fileExists = (path: string): boolean => existsSync(join(repoRoot, path));

/** The subcommand a `tsx src/cli/main.ts <sub>` npm script runs. */
const cliScript = /^tsx src\/cli\/main\.ts (\w+)$/;

function checkCli(sub: string | undefined, args: string[], ctx: ShellContext): string[] {
  if (sub === undefined) return ['k8s-jobs without a subcommand'];
  const help = ctx.cliHelp(sub);
  if (help === undefined) return [`k8s-jobs has no subcommand "${sub}"`];
  const end = args.indexOf('--');
  const options = (end < 0 ? args : args.slice(0, end)).filter((a) => a.startsWith('-'));
  return options.flatMap((option) => {
    const name = option.split('=')[0] ?? option;
    return new RegExp(`(^|[\\s,])${name.replace(/[-]/g, '\\-')}(?=[\\s,=]|$)`, 'm').test(help)
      ? []
      : [`k8s-jobs ${sub} has no option ${name}`];
  });
}

function checkCommand(words: string[], ctx: ShellContext): string[] {
  // Leading `NAME=value` words set the environment.
  const start = words.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  const [command, ...args] = start < 0 ? [] : words.slice(start);
  switch (command) {
    case undefined:
      return [];
    case 'export':
      return args.every((a) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(a))
        ? []
        : [`export of something other than NAME=value: ${args.join(' ')}`];
    case 'npm': {
      const [sub, script, ...rest] = args;
      if (sub === 'ci' && args.length === 1) return [];
      if ((sub === 'start' || sub === 'test') && args.length === 1)
        return ctx.scripts[sub] === undefined ? [`no npm script "${sub}"`] : [];
      if (sub === 'run' && script !== undefined) {
        const body = ctx.scripts[script];
        if (body === undefined) return [`no npm script "${script}"`];
        const cli = cliScript.exec(body);
        const extra = rest[0] === '--' ? rest.slice(1) : rest;
        return cli
          ? checkCli(cli[1], extra, ctx)
          : extra.length === 0 || rest[0] === '--'
            ? []
            : [`npm run ${script} ${rest.join(' ')}: arguments without --`];
      }
      return [`npm ${args.join(' ')}: not a command these checks know`];
    }
    case 'npx': {
      const [tool, ...rest] = args;
      if (tool === 'k8s-jobs') return checkCli(rest[0], rest.slice(1), ctx);
      if (tool === 'tsx')
        return rest[0] !== undefined && fileExists(rest[0]) ? [] : [`npx tsx: no file ${rest[0] ?? '(none)'}`];
      if (tool === 'vitest' && rest[0] === 'run')
        return rest
          .slice(1)
          .filter((p) => !fileExists(p))
          .map((p) => `npx vitest run: no file ${p}`);
      return [`npx ${tool ?? ''}: not a command these checks know`];
    }
    case 'k8s-jobs':
      return checkCli(args[0], args.slice(1), ctx);
    case 'kubectl': {
      const file = args[args.indexOf('-f') + 1];
      if (args.includes('-f') && file !== undefined) return fileExists(file) ? [] : [`kubectl -f: no file ${file}`];
      return [`kubectl ${args.join(' ')}: only \`kubectl … -f FILE\` is checked outside a block the tests run`];
    }
    case 'bash':
      return args[0] !== undefined && fileExists(args[0]) ? [] : [`bash: no file ${args[0] ?? '(none)'}`];
    default:
      return [`${command}: not a command these checks know`];
  }
}

/** The problems of one shell block (empty: every line checks out). */
export function checkShellBlock(code: string, ctx: ShellContext): string[] {
  return code.split('\n').flatMap((line, i) => {
    const words = shellWords(line);
    const commands: string[][] = [[]];
    for (const word of words) {
      if (word === '&&') commands.push([]);
      else commands.at(-1)?.push(word);
    }
    return commands.flatMap((command) => checkCommand(command, ctx)).map((problem) => `line ${i + 1}: ${problem}`);
  });
}
