import { expect, test } from 'vitest';
import {
  demoTasks,
  demoTasksFor,
  describeExpected,
  leftOutNote,
  matchesExpected,
  taskInputFor,
} from '../../src/cli/demo-scenario.js';
import { DemoTracker } from '../../src/cli/demo-tracker.js';
import { plainView, renderFrame } from '../../src/cli/demo-views.js';
import { behaviourAnnotation } from '../../src/sim/index.js';
import type { TaskRecord, Transition } from '../../src/types.js';
import { parseTaskSpec } from '../../src/validation/parse.js';

const record = (extra: Partial<TaskRecord>): TaskRecord => ({
  id: 'x',
  spec: { id: 'x', image: 'busybox' },
  state: 'deleted',
  jobName: 'x',
  createdAt: '2026-01-01T00:00:00.000Z',
  ...extra,
});

test('every demo task is a valid task, ids are unique, and every outcome is covered', () => {
  for (const runtime of ['process', 'scripted'] as const) {
    for (const demo of demoTasksFor(runtime)) expect(() => parseTaskSpec(taskInputFor(demo, runtime))).not.toThrow();
  }
  expect(new Set(demoTasks.map((t) => t.task.id)).size).toBe(demoTasks.length);
  expect(new Set(demoTasksFor('scripted').map((t) => t.expected.outcome))).toEqual(
    new Set(['succeeded', 'failed', 'timedOut', 'cancelled']),
  );
  expect(demoTasksFor('scripted').some((t) => t.expected.oomKilled)).toBe(true);
  // The process runtime enforces memory limits where it can read /proc (Linux): the OOMKilled task runs there too.
  expect(demoTasksFor('process').some((t) => t.expected.oomKilled)).toBe(process.platform === 'linux');
  expect(demoTasksFor('process').length).toBe(process.platform === 'linux' ? 13 : 12);
  expect(demoTasksFor('scripted').length).toBe(13);
});

test('without /proc the process runtime leaves the out-of-memory task out, and the opening lines say so', () => {
  expect(demoTasksFor('process', false).map((t) => t.task.id)).not.toContain('out-of-memory');
  expect(demoTasksFor('process', false)).toHaveLength(demoTasks.length - 1);
  expect(leftOutNote('process', false)).toMatch(
    /^left out on this host: out-of-memory \(OOMKilled\) — .*\/proc.*`k8s-jobs demo --runtime scripted`/,
  );
  // Where memory limits are enforced nothing is left out, and nothing is said.
  expect(demoTasksFor('process', true)).toHaveLength(demoTasks.length);
  expect(leftOutNote('process', true)).toBeUndefined();
  expect(demoTasksFor('scripted', false)).toHaveLength(demoTasks.length);
  expect(leftOutNote('scripted', false)).toBeUndefined();
});

test('on the scripted runtime a task carries its behaviour as an annotation; on the process runtime it is left as is', () => {
  const [first] = demoTasks;
  if (!first) throw new Error('no demo task');
  expect(taskInputFor(first, 'process')).toBe(first.task);
  expect(JSON.parse(taskInputFor(first, 'scripted').annotations?.[behaviourAnnotation] ?? '')).toEqual(first.script);
});

test('an outcome other than the expected one is a mismatch (the demo then exits 1)', () => {
  const exit3 = { outcome: 'failed', exitCode: 3 } as const;
  expect(
    matchesExpected(
      record({ outcome: 'failed', failure: { reason: 'BackoffLimitExceeded', message: '', exitCode: 3 } }),
      exit3,
    ),
  ).toBe(true);
  expect(
    matchesExpected(
      record({ outcome: 'failed', failure: { reason: 'BackoffLimitExceeded', message: '', exitCode: 2 } }),
      exit3,
    ),
  ).toBe(false);
  expect(matchesExpected(record({ outcome: 'succeeded' }), exit3)).toBe(false);
  const oom = { outcome: 'failed', oomKilled: true } as const;
  expect(
    matchesExpected(
      record({
        outcome: 'failed',
        failure: { reason: 'BackoffLimitExceeded', message: '', exitCode: 137, oomKilled: false },
      }),
      oom,
    ),
  ).toBe(false);
  expect(
    matchesExpected(record({ outcome: 'timedOut', failure: { reason: 'Timeout', message: '' } }), {
      outcome: 'timedOut',
      reasons: ['DeadlineExceeded'],
    }),
  ).toBe(false);
  expect(describeExpected(exit3)).toBe('failed (exit code 3)');
});

const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1, 12, 0, 0, ms)).toISOString();
const t = (
  taskId: string,
  from: Transition['from'],
  to: Transition['to'],
  ms: number,
  outcome?: Transition['outcome'],
): Transition => ({ taskId, from, to, event: 'E', at: at(ms), ...(outcome ? { outcome } : {}) });

test('the live frame shows the progress bar, the counts and one line per task with its state, elapsed time and reason', () => {
  const tracker = new DemoTracker(['a', 'b', 'c', 'd']);
  for (const transition of [
    t('a', null, 'queued', 0),
    t('a', 'queued', 'creating', 100),
    t('a', 'creating', 'running', 200),
    t('a', 'running', 'failed', 1300, 'failed'),
    t('b', null, 'queued', 0),
    t('b', 'queued', 'creating', 500),
    t('c', null, 'queued', 0),
  ])
    tracker.apply(transition);
  tracker.noteRecord(
    record({ id: 'a', outcome: 'failed', failure: { reason: 'BackoffLimitExceeded', message: '', exitCode: 3 } }),
  );
  const frame = renderFrame('heading', tracker, Date.parse(at(2000)), 1).split('\n');
  expect(frame).toEqual([
    'heading',
    `${'█'.repeat(8)}${'░'.repeat(22)}  1/4 finished · 1 running · 1 queued`,
    '',
    '  ✖ a  failed      1.2s  failed: exit code 3 (BackoffLimitExceeded)',
    '  ▶ b  creating    1.5s',
    '  … c  queued      2.0s',
    '    d  —              —',
  ]);
});

test('the plain view prints one line per transition, with the reason on an outcome', () => {
  const lines: string[] = [];
  const view = plainView((line) => lines.push(line), 4);
  view.transition(t('ab', null, 'queued', 5), '');
  view.transition(t('ab', 'running', 'timedOut', 1234, 'timedOut'), 'DeadlineExceeded');
  view.transition(t('ab', 'timedOut', 'deleting', 1300, 'timedOut'), 'DeadlineExceeded');
  expect(lines).toEqual([
    '12:00:00.005  ab    —         → queued',
    '12:00:01.234  ab    running   → timedOut   DeadlineExceeded',
    '12:00:01.300  ab    timedOut  → deleting',
  ]);
});
