import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { testEntry } from '../helpers/test-entries.js';

/** The repository root: the CLI runs from here so `--import tsx` resolves. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A `k8s-jobs` CLI run as a real child process (`node <src/cli/main.ts bundled> …`, see test-entries.ts). */
export interface CliProcess {
  child: ChildProcess;
  /** Everything printed to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | NodeJS.Signals>;
  /** Resolves with the first match of `pattern` in stdout, as it arrives; rejects if the process ends first. */
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
}

/**
 * Starts the CLI with `args`. One node process, no npx/tsx wrapper in between, so a signal sent
 * to `child` reaches the CLI itself (npx does not forward SIGTERM).
 */
export function startCli(args: string[]): CliProcess {
  return track(
    spawn(process.execPath, [testEntry('src/cli/main.ts'), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** Quotes `arg` for `sh`. */
const shellQuote = (arg: string): string => `'${arg.replaceAll("'", "'\\''")}'`;

/**
 * Starts the CLI on a pseudo-terminal of `rows` × `columns` (util-linux `script`), so its stdout
 * is a TTY. The terminal's output, escape sequences included, is `stdout()`; the exit code is
 * the CLI's (`script -e`).
 */
export function startCliOnTty(args: string[], { rows = 40, columns = 150 } = {}): CliProcess {
  const command = [process.execPath, testEntry('src/cli/main.ts'), ...args].map(shellQuote).join(' ');
  // A pty `script` opens without a terminal of its own has no size: give it one first.
  const inner = `stty rows ${rows} cols ${columns}; exec ${command}`;
  return track(spawn('script', ['-qec', inner, '/dev/null'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function track(child: ChildProcessByStdio<null, Readable, Readable>): CliProcess {
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('close', (code, signal) => {
      for (const listener of listeners) listener();
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(out);
          if (match) {
            listeners.delete(check);
            resolve(match);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            listeners.delete(check);
            reject(new Error(`the CLI ended before printing ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
          }
        };
        listeners.add(check);
        check();
      });
    },
  };
}
