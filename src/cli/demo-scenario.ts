/**
 * The demo's tasks: one per outcome a task can have, a few successes that print over time, and a
 * high-priority task submitted last. Each runs as a `sh -c` command on the process runtime; each
 * also carries a scripted behaviour doing the same, for the scripted runtime.
 */
import { behaviourAnnotation, procAvailable, type ContainerBehaviour } from '../sim/index.js';
import type { TaskFailureReason, TaskOutcome, TaskRecord } from '../types.js';
import type { TaskInput } from '../validation/task-spec.js';

/** The sim's container runtimes the demo runs on. */
export type DemoRuntime = 'process' | 'scripted';

/** What a demo task must end as, for the demo to be working. */
export interface ExpectedOutcome {
  outcome: TaskOutcome;
  /** The failure's reason must be one of these. */
  reasons?: TaskFailureReason[];
  exitCode?: number;
  oomKilled?: boolean;
}

/** One task of the demo. */
export interface DemoTask {
  /** The task (id, image, command; `timeout`, `priority` where the story needs them). */
  task: TaskInput & { command: string[] };
  /** What it shows, in a few words. */
  about: string;
  expected: ExpectedOutcome;
  /** The same workload for the scripted runtime. */
  script: ContainerBehaviour;
  /**
   * Its outcome needs memory limits enforced: always by the scripted runtime, by the process runtime only where it can
   * read /proc (Linux).
   */
  needsMemoryLimits?: boolean;
  /** The demo cancels it this long (ms) after it started running. */
  cancelAfterMs?: number;
}

const image = 'busybox:1.36';

/**
 * The demo runner's `stuck.imagePullGraceMs`: how long a pod may fail to pull its image before its
 * task fails. Chosen so that, at the demo's time scale (0.1), it ends while the kubelet is backing
 * off (ImagePullBackOff) rather than retrying the pull.
 */
export const demoImagePullGraceMs = 2800;

/** Images containing this are answered 429 Too Many Requests by the demo cluster's registry. */
export const throttledRegistryPath = 'rate-limited';
const sh = (script: string): string[] => ['sh', '-c', script];
const at = (afterMs: number, line: string, stream: 'stdout' | 'stderr' = 'stdout') => ({ line, afterMs, stream });

/** The demo's tasks, in submission order. */
export const demoTasks: readonly DemoTask[] = [
  {
    task: { id: 'hello', image, command: sh('echo "hello from a Kubernetes Job"; sleep 0.3; echo "bye"') },
    about: 'succeeds',
    expected: { outcome: 'succeeded' },
    script: { durationMs: 300, logs: ['hello from a Kubernetes Job', at(300, 'bye')] },
  },
  {
    task: { id: 'count-to-five', image, command: sh('for i in 1 2 3 4 5; do echo "step $i/5"; sleep 0.4; done') },
    about: 'succeeds, printing a line every 0.4 s',
    expected: { outcome: 'succeeded' },
    script: { durationMs: 2000, logs: [0, 1, 2, 3, 4].map((i) => at(i * 400, `step ${i + 1}/5`)) },
  },
  {
    task: { id: 'cancel-me', image, command: sh('echo "a long job started"; sleep 30; echo "never printed"') },
    about: 'cancelled by the demo while it runs',
    expected: { outcome: 'cancelled', reasons: ['Cancelled'] },
    script: { durationMs: 30_000, logs: ['a long job started'] },
    cancelAfterMs: 1000,
  },
  {
    // Kubernetes measures the deadline from status.startTime, which has whole seconds: 2 s is 1–2 s.
    task: { id: 'too-slow', image, command: sh('echo "this takes a while"; sleep 30'), timeout: 2 },
    about: 'runs past its 2 s timeout',
    expected: { outcome: 'timedOut', reasons: ['DeadlineExceeded', 'Timeout'] },
    script: { durationMs: 30_000, logs: ['this takes a while'] },
  },
  {
    task: { id: 'missing-image', image: 'registry.example.com/does-not-exist:1.0', command: ['true'] },
    about: 'its image does not exist: fails at once (ErrImagePull)',
    expected: { outcome: 'failed', reasons: ['ErrImagePull', 'ImagePullBackOff'] },
    script: {},
  },
  {
    task: { id: 'busy-registry', image: `registry.example.com/${throttledRegistryPath}/app:1.0`, command: ['true'] },
    about: `its registry keeps answering 429: ImagePullBackOff, failed after a ${demoImagePullGraceMs / 1000} s grace`,
    // Between back-offs the kubelet retries the pull, and the reason is ErrImagePull for a moment.
    expected: { outcome: 'failed', reasons: ['ImagePullBackOff', 'ErrImagePull'] },
    script: {},
  },
  {
    task: {
      id: 'exit-3',
      image,
      command: sh('echo "reading input.csv"; sleep 0.2; echo "input.csv is corrupt" >&2; exit 3'),
    },
    about: 'exits with code 3',
    expected: { outcome: 'failed', exitCode: 3 },
    script: { durationMs: 200, exitCode: 3, logs: ['reading input.csv', at(200, 'input.csv is corrupt', 'stderr')] },
  },
  {
    task: { id: 'checksum', image, command: sh('echo "hashing 3 files"; sleep 1; echo "sha256: all 3 files match"') },
    about: 'succeeds after 1 s',
    expected: { outcome: 'succeeded' },
    script: { durationMs: 1000, logs: ['hashing 3 files', at(1000, 'sha256: all 3 files match')] },
  },
  {
    // Kubernetes expands `$(VAR)` in a command and turns `$$` into `$`: `$$$$` reaches the shell as `$$`.
    task: { id: 'segfault', image, command: sh('echo "about to crash"; kill -s SEGV $$$$') },
    about: 'killed by a signal (SIGSEGV, exit code 139)',
    expected: { outcome: 'failed', exitCode: 139 },
    script: { durationMs: 50, exitCode: 139, logs: ['about to crash'] },
  },
  {
    // Grows by 1 MiB every ~10 ms (a newline-less input that `tail` keeps whole), passing 32Mi in
    // about 0.4 s; it stops at 256 MiB, so a host that enforced no limit would not suffer for it.
    task: {
      id: 'out-of-memory',
      image,
      command: sh(
        'echo "loading everything into memory"; i=0; while [ $i -lt 256 ]; do head -c 1048576 /dev/zero; sleep 0.01; i=$((i+1)); done | tail >/dev/null',
      ),
      resources: { limits: { memory: '32Mi' } },
    },
    about: 'killed for exceeding its 32Mi memory limit',
    expected: { outcome: 'failed', oomKilled: true, exitCode: 137 },
    script: { durationMs: 400, oomKilled: true, logs: ['loading everything into memory'] },
    needsMemoryLimits: true,
  },
  {
    task: {
      id: 'warn-on-stderr',
      image,
      command: sh('echo "warning: disk 91% full" >&2; sleep 0.5; echo "done anyway"'),
    },
    about: 'succeeds, with a warning on stderr',
    expected: { outcome: 'succeeded' },
    script: { durationMs: 500, logs: [at(0, 'warning: disk 91% full', 'stderr'), at(500, 'done anyway')] },
  },
  {
    task: { id: 'resize-images', image, command: sh('for i in 1 2 3; do echo "resized image $i/3"; sleep 0.3; done') },
    about: 'succeeds, printing a line every 0.3 s',
    expected: { outcome: 'succeeded' },
    script: { durationMs: 900, logs: [0, 1, 2].map((i) => at(i * 300, `resized image ${i + 1}/3`)) },
  },
  {
    task: { id: 'urgent-report', image, command: sh('echo "urgent report ready"'), priority: 10 },
    about: 'submitted last with priority 10: runs before the queued ones',
    expected: { outcome: 'succeeded' },
    script: { durationMs: 100, logs: ['urgent report ready'] },
  },
];

/**
 * Whether `runtime` enforces containers' memory limits: the scripted one always, the process one
 * where it can read `/proc` (`readsProc`, default: whether this host can, i.e. Linux).
 */
export function enforcesMemoryLimits(runtime: DemoRuntime, readsProc = procAvailable()): boolean {
  return runtime === 'scripted' || readsProc;
}

/** The tasks that can show their outcome on `runtime` (`readsProc`: see `enforcesMemoryLimits`). */
export function demoTasksFor(runtime: DemoRuntime, readsProc = procAvailable()): DemoTask[] {
  return demoTasks.filter((t) => !t.needsMemoryLimits || enforcesMemoryLimits(runtime, readsProc));
}

/**
 * The demo's opening words about the tasks it leaves out on `runtime` (`readsProc`: see
 * `enforcesMemoryLimits`), so that a missing outcome is never a surprise; `undefined` when it runs
 * them all.
 */
export function leftOutNote(runtime: DemoRuntime, readsProc = procAvailable()): string | undefined {
  const kept = new Set(demoTasksFor(runtime, readsProc));
  const left = demoTasks.filter((t) => !kept.has(t)).map((t) => t.task.id);
  if (left.length === 0) return undefined;
  return `left out on this host: ${left.join(', ')} (OOMKilled) — the process runtime enforces memory limits by reading /proc, which only Linux has; \`k8s-jobs demo --runtime scripted\` runs it`;
}

/** The task to submit: on the scripted runtime, with its behaviour as the pod's annotation. */
export function taskInputFor(demo: DemoTask, runtime: DemoRuntime): TaskInput {
  if (runtime === 'process') return demo.task;
  return {
    ...demo.task,
    annotations: { ...demo.task.annotations, [behaviourAnnotation]: JSON.stringify(demo.script) },
  };
}

/** Whether `record` ended as `expected` says. */
export function matchesExpected(record: TaskRecord, expected: ExpectedOutcome): boolean {
  if (record.outcome !== expected.outcome) return false;
  const failure = record.failure;
  if (expected.reasons && (!failure || !expected.reasons.includes(failure.reason))) return false;
  if (expected.exitCode !== undefined && failure?.exitCode !== expected.exitCode) return false;
  if (expected.oomKilled !== undefined && (failure?.oomKilled ?? false) !== expected.oomKilled) return false;
  return true;
}

/** The expected outcome in words: `failed (exit code 3)`, `timedOut (DeadlineExceeded)`. */
export function describeExpected(expected: ExpectedOutcome): string {
  const detail = expected.oomKilled
    ? 'OOMKilled'
    : expected.exitCode !== undefined
      ? `exit code ${expected.exitCode}`
      : expected.reasons?.[0];
  return detail ? `${expected.outcome} (${detail})` : expected.outcome;
}
