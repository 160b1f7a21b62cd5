import type { SimClock } from './clock.js';
import {
  startErrorMessage,
  type ContainerExit,
  type ContainerRuntime,
  type ContainerSpec,
  type PlanContext,
  type PullOutcome,
  type RunningContainer,
  type StartOutcome,
} from './runtime.js';
import type { KubeObject } from './types.js';

/** A log line a scripted container prints, optionally later than its start. */
export interface ScriptedLogLine {
  line: string;
  /** Real ms after the start (not scaled). @default 0 */
  afterMs?: number;
  /** @default 'stdout' */
  stream?: 'stdout' | 'stderr';
}

/**
 * What one start of a scripted container does. Every field is optional: `{}` is a container
 * that prints nothing and exits 0 at once.
 */
export interface ContainerBehaviour {
  /**
   * How long it runs, in real ms (not scaled: this is the workload, not the cluster). `Infinity` runs until killed.
   * @default 0
   */
  durationMs?: number;
  /** Exit code when it ends by itself (reason `Completed` for 0, `Error` otherwise). @default 0 */
  exitCode?: number;
  /** Output: a string is printed at start (a newline is added), a {@link ScriptedLogLine} at its time. */
  logs?: (string | ScriptedLogLine)[];
  /** It hits its memory limit at `durationMs`: reason `OOMKilled`, exit code 137. */
  oomKilled?: boolean;
  /** How the pull of its image ends; overrides the node's `unpullableImages`/`throttledImages`. */
  pull?: PullOutcome;
  /**
   * The runtime cannot start it; the cause runc reports, e.g. `exec: "python": executable file not found in $PATH`
   * (reason `StartError`, exit 128).
   */
  startError?: string;
  /** It is never created: the container waits in `ContainerCreating` for good. */
  neverStart?: boolean;
  /** It ignores SIGTERM, so a delete ends it with SIGKILL after the grace period (exit 137). */
  ignoreSigterm?: boolean;
  /** Exit code when SIGTERM ends it. @default 143 */
  sigtermExitCode?: number;
}

/** Decides each start of each container of the scripted runtime. */
export type ContainerScript = (pod: KubeObject, container: ContainerSpec, context: PlanContext) => ContainerBehaviour;

/**
 * Pod annotation read by {@link defaultScript}: a JSON {@link ContainerBehaviour} for every
 * container of the pod; `sim.k8s-jobs.io/behaviour-<container>` overrides it for one container.
 * Set it on a Job's pod template to script that Job's pods, from YAML and kubectl too.
 */
export const behaviourAnnotation = 'sim.k8s-jobs.io/behaviour';

/**
 * The default script: the behaviour named by the pod's {@link behaviourAnnotation} annotations,
 * else an instant success with no output, which is what benchmarks of many Jobs want. An
 * annotation that is not a JSON object makes the start fail (StartError) with the parse error,
 * so a typo is visible on the pod rather than silently ignored.
 */
export const defaultScript: ContainerScript = (pod, container) => {
  const annotations = pod.metadata.annotations ?? {};
  const raw = annotations[`${behaviourAnnotation}-${container.name}`] ?? annotations[behaviourAnnotation];
  if (raw === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    const behaviour = parsed as ContainerBehaviour;
    // JSON has no Infinity: a negative duration means "until killed".
    if (typeof behaviour.durationMs === 'number' && behaviour.durationMs < 0) behaviour.durationMs = Infinity;
    return behaviour;
  } catch (err) {
    return { startError: `invalid ${behaviourAnnotation} annotation: ${(err as Error).message}` };
  }
};

/** A container runtime whose containers do what `script` says, on real-time timers. */
export function scriptedRuntime(clock: SimClock, script: ContainerScript = defaultScript): ContainerRuntime {
  const running = new Set<() => void>();
  return {
    plan(pod, container, context) {
      const behaviour = script(pod, container, context);
      return {
        pull: behaviour.pull,
        start: async ({ log }): Promise<StartOutcome> => {
          if (behaviour.startError !== undefined) {
            log.end();
            return { kind: 'startError', message: startErrorMessage(behaviour.startError) };
          }
          if (behaviour.neverStart) return { kind: 'stuck' };
          const timers: (() => void)[] = [];
          let settle!: (exit: ContainerExit) => void;
          const exited = new Promise<ContainerExit>((resolve) => (settle = resolve));
          let done = false;
          const finish = (exit: ContainerExit): void => {
            if (done) return;
            done = true;
            for (const cancel of timers) cancel();
            running.delete(killNow);
            log.end();
            settle(exit);
          };
          const killNow = (): void => finish({ exitCode: 137, reason: 'Error', signal: 'SIGKILL' });
          running.add(killNow);
          for (const entry of behaviour.logs ?? []) {
            const line = typeof entry === 'string' ? { line: entry } : entry;
            const write = () => log.write(line.stream ?? 'stdout', `${line.line}\n`);
            if (!line.afterMs) write();
            else timers.push(clock.afterReal(line.afterMs, write));
          }
          const end = (): void => {
            if (behaviour.oomKilled) finish({ exitCode: 137, reason: 'OOMKilled' });
            else {
              const exitCode = behaviour.exitCode ?? 0;
              finish({ exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' });
            }
          };
          const duration = behaviour.durationMs ?? 0;
          if (duration <= 0) end();
          else if (Number.isFinite(duration)) timers.push(clock.afterReal(duration, end));
          const instance: RunningContainer = {
            exited,
            terminate() {
              if (behaviour.ignoreSigterm) return;
              const exitCode = behaviour.sigtermExitCode ?? 143;
              finish({ exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', signal: 'SIGTERM' });
            },
            kill: killNow,
          };
          return { kind: 'started', container: instance };
        },
      };
    },
    async close() {
      for (const kill of [...running]) kill();
    },
  };
}
