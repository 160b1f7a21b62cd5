import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { MemoryMonitor } from './memory-monitor.js';
import { resourceAmount } from './pod-resources.js';
import {
  startErrorMessage,
  type ContainerExit,
  type ContainerRuntime,
  type ContainerSpec,
  type ContainerStart,
  type RunningContainer,
  type StartOutcome,
} from './runtime.js';

/** Sends `signal` to the process group led by `child` (the whole "container"); a group already gone is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** runc's message when exec of argv[0] fails (what containerd puts in the StartError). */
function execFailure(file: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') {
    return file.includes('/')
      ? `exec: "${file}": stat ${file}: no such file or directory`
      : `exec: "${file}": executable file not found in $PATH`;
  }
  if (err.code === 'EACCES') return `exec: "${file}": permission denied`;
  return `exec: "${file}": ${err.message}`;
}

/** The container's memory limit in bytes; undefined without one (0 means none too, as the kubelet reads it). */
function memoryLimitOf(container: ContainerSpec): number | undefined {
  const declared: unknown = container.resources?.limits?.memory;
  if (declared === undefined) return undefined;
  const bytes = resourceAmount('memory', declared);
  return bytes > 0 ? bytes : undefined;
}

/** What the runtime reports for a container the memory cgroup killed (the scripted runtime's `oomKilled` too). */
const oomKilledExit: ContainerExit = { exitCode: 137, reason: 'OOMKilled' };

function exitOf(code: number | null, signal: NodeJS.Signals | null): ContainerExit {
  if (signal) {
    const exitCode = 128 + (constants.signals[signal] ?? 0);
    return { exitCode, reason: 'Error', signal };
  }
  const exitCode = code ?? 0;
  return { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' };
}

/**
 * Runs each container as a local child process: argv = `command` + `args` (no shell), the
 * container's environment on top of the host's PATH and HOME, stdout/stderr into the log. The
 * process leads its own process group, which stands for the container: when the main process
 * exits, whatever it left behind is killed, as the runtime does when a container's PID 1 exits.
 *
 * Differences from a real node, by necessity: the image is not used (the command runs on the
 * host), a container without `command`/`args` has no image default to run and completes at once,
 * and a local process is not PID 1, so SIGTERM's default action ends it (exit 143) where a real
 * PID 1 without a handler would ignore it until SIGKILL.
 *
 * `resources.limits.memory` is enforced as the memory cgroup does (with `memory.oom.group`, as
 * the kubelet sets it on cgroup v2): when the processes of the container's group together hold
 * more resident memory than the limit, the whole group is SIGKILLed and the container ends
 * `OOMKilled`, exit code 137. The memory (the sum of the processes' RSS) is sampled from /proc
 * every 50 ms of real time, only for containers that have a limit, so a fast-growing process may
 * overshoot by what it allocates in one interval; a process that leaves the group (`setsid`)
 * escapes, as it escapes the kill. Without /proc (not Linux) limits are not enforced.
 */
export function processRuntime(memory = new MemoryMonitor()): ContainerRuntime {
  const running = new Set<ChildProcess>();
  return {
    plan() {
      return { start: (start) => startProcess(start, running, memory) };
    },
    async close() {
      const exits = [...running].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once('exit', () => resolve());
          }),
      );
      for (const child of running) signalGroup(child, 'SIGKILL');
      await Promise.all(exits);
    },
  };
}

function startProcess(start: ContainerStart, running: Set<ChildProcess>, memory: MemoryMonitor): Promise<StartOutcome> {
  const [file, ...args] = start.argv;
  if (file === undefined) {
    // No command: the image's default would run, and there is no image here.
    start.log.end();
    return Promise.resolve({
      kind: 'started',
      container: { exited: Promise.resolve({ exitCode: 0, reason: 'Completed' }), terminate() {}, kill() {} },
    });
  }
  const cwd =
    start.container.workingDir && existsSync(start.container.workingDir) ? start.container.workingDir : tmpdir();
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/',
    HOSTNAME: start.pod.metadata.name,
    ...start.env,
  };
  return new Promise<StartOutcome>((resolve) => {
    const child = spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => start.log.write('stdout', chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => start.log.write('stderr', chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Only a failed exec ends up here before 'spawn'; later errors (kill of a dead process) are moot.
      if (child.pid !== undefined) return;
      start.log.end();
      resolve({ kind: 'startError', message: startErrorMessage(execFailure(file, err)) });
    });
    child.once('spawn', () => {
      running.add(child);
      const limit = memoryLimitOf(start.container);
      let oomKilled = false;
      const unwatch =
        child.pid === undefined || limit === undefined
          ? undefined
          : memory.watch(child.pid, limit, () => {
              oomKilled = true;
              signalGroup(child, 'SIGKILL');
            });
      const exited = new Promise<ContainerExit>((done) => {
        child.once('exit', (code, signal) => {
          unwatch?.();
          // PID 1 gone: the runtime kills the rest of the container.
          signalGroup(child, 'SIGKILL');
          // Killed for its memory, whatever its main process was doing at that instant.
          const exit = oomKilled ? oomKilledExit : exitOf(code, signal);
          // Output still buffered in the pipes belongs to this instance: wait for them to close.
          child.once('close', () => {
            running.delete(child);
            start.log.end();
            done(exit);
          });
        });
      });
      const container: RunningContainer = {
        exited,
        terminate: () => signalGroup(child, 'SIGTERM'),
        kill: () => signalGroup(child, 'SIGKILL'),
      };
      resolve({ kind: 'started', container });
    });
  });
}
