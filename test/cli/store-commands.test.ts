import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TaskPage, TaskRecord, Transition } from '../../src/types.js';
import { behaviour, startEngine, type Engine } from '../engine/harness.js';
import { waitUntil } from '../helpers/wait.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { record, transition } from '../store/task-store-contract.js';
import { startCli, type CliProcess } from './cli-process.js';

/*
 * `list`, `show` and `logs` as real child processes, reading the SQLite store of a runner that is
 * still running (and holds the store's lock) — read-only, so the runner goes on undisturbed.
 */

let engine: Engine;
let store: string;
const started: CliProcess[] = [];

beforeAll(async () => {
  // Snapshots of running tasks' logs every 100 ms, for `logs --follow`.
  engine = await startEngine({ runner: { logs: { snapshotIntervalMs: 100 } } });
  store = engine.storeUrl;
  const { runner } = engine;
  await runner.addTask({ id: 'ok', image: 'busybox', ...behaviour({ durationMs: 30, logs: ['hello', 'world'] }) });
  await runner.addTask({ id: 'boom', image: 'busybox', ...behaviour({ durationMs: 30, exitCode: 3, logs: ['boom'] }) });
  await runner.addTask({ id: 'long', image: 'busybox', ...behaviour({ durationMs: -1, logs: ['first line'] }) });
  await runner.waitFor('ok');
  await runner.waitFor('boom');
  await waitUntil(async () => (await runner.getTask('long')).state === 'running', 'long running');
  // waitFor resolves at `deleted` in the runner; the CLI reads the file, where the record may be a
  // group commit behind: wait until a reader of the file sees every state the tests expect.
  const reader = await openTaskStore(store, { readOnly: true });
  try {
    const states = async (): Promise<string[]> =>
      Promise.all(['ok', 'boom', 'long'].map(async (id) => (await reader.getTask(id))?.state ?? 'absent'));
    await waitUntil(
      async () => (await states()).join() === 'deleted,deleted,running' || undefined,
      'the store file to hold ok and boom deleted, long running',
    );
  } finally {
    await reader.close();
  }
});
afterAll(async () => {
  for (const cli of started.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
  await engine.close();
});

/** Runs the CLI to its end; resolves with its exit code and output. */
async function cli(...args: string[]): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const child = startCli(args);
  started.push(child);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

describe.concurrent('reading the store of a running runner', () => {
  test('list: every task, finished ones included, as a table or JSON; --state filters', async () => {
    const [table, json, running] = await Promise.all([
      cli('list', '--store', store),
      cli('list', '--store', store, '--json'),
      cli('list', '--store', store, '--state', 'running', '--json'),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ ok +│ deleted +│ succeeded +│/);
    expect(table.stdout).toMatch(/│ boom +│ deleted +│ failed +│ exit code 3 \(BackoffLimitExceeded\) +│/);
    expect(table.stdout).toMatch(/│ long +│ running +│/);
    expect(table.stdout).not.toContain('Next page');
    expect(json.code).toBe(0);
    const page = JSON.parse(json.stdout) as TaskPage;
    // Newest first (tasks added within one millisecond come by id).
    expect(page.items.map((r) => [r.id, r.state]).sort()).toEqual([
      ['boom', 'deleted'],
      ['long', 'running'],
      ['ok', 'deleted'],
    ]);
    expect(page.nextCursor).toBeUndefined();
    expect((JSON.parse(running.stdout) as TaskPage).items.map((r) => r.id)).toEqual(['long']);
  });

  test('list pages: --limit, then the printed next page (--cursor); --outcome; a bad --limit exits 1', async () => {
    const [first, failed, tooMany] = await Promise.all([
      cli('list', '--store', store, '--limit', '2'),
      cli('list', '--store', store, '--outcome', 'failed', '--json'),
      cli('list', '--store', store, '--limit', '1001'),
    ]);
    expect(first.code).toBe(0);
    const next = /^Next page: k8s-jobs list (.+)$/m.exec(first.stdout)?.[1]?.split(' ') ?? [];
    expect(next).toEqual(['--store', store, '--limit', '2', '--cursor', expect.any(String)]);
    const second = await cli('list', ...next);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('Next page');
    const shown = (out: string) => ['ok', 'boom', 'long'].filter((id) => new RegExp(`│ ${id} +│`).test(out));
    expect([...shown(first.stdout), ...shown(second.stdout)].sort()).toEqual(['boom', 'long', 'ok']);
    expect(shown(first.stdout)).toHaveLength(2);
    expect((JSON.parse(failed.stdout) as TaskPage).items.map((r) => r.id)).toEqual(['boom']);
    expect(tooMany).toMatchObject({ code: 1, stdout: '' });
    expect(tooMany.stderr).toContain('limit: must be an integer from 1 to 1000, got 1001');
  });

  test('show: the record and its timeline of transitions with times; --json', async () => {
    const [table, json] = await Promise.all([
      cli('show', 'boom', '--store', store),
      cli('show', 'boom', '--store', store, '--json'),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ reason +│ exit code 3 \(BackoffLimitExceeded\) +│/);
    expect(table.stdout).toMatch(/│ last log lines +│ boom +│/);
    const timeline = table.stdout.slice(table.stdout.indexOf('Timeline:'));
    for (const [from, to] of [
      ['—', 'queued'],
      ['queued', 'creating'],
      ['creating', 'running'],
      ['running', 'failed'],
      ['failed', 'deleting'],
      ['deleting', 'deleted'],
    ]) {
      expect(timeline).toMatch(new RegExp(`│ \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z │ \\+\\S+ +│ ${from} +│ ${to} +│`));
    }
    const shown = JSON.parse(json.stdout) as { record: TaskRecord; transitions: Transition[] };
    expect(shown.record).toMatchObject({ id: 'boom', state: 'deleted', outcome: 'failed', failure: { exitCode: 3 } });
    expect(shown.transitions.map((t) => t.to)).toEqual([
      'queued',
      'creating',
      'running',
      'failed',
      'deleting',
      'deleted',
    ]);
  });

  test('show and logs of an unknown id exit 1 with a readable message', async () => {
    const [show, logs] = await Promise.all([
      cli('show', 'nope', '--store', store),
      cli('logs', 'nope', '--store', store),
    ]);
    expect(show).toMatchObject({ code: 1, stdout: '', stderr: `k8s-jobs: no task "nope" in the store ${store}\n` });
    expect(logs).toMatchObject({ code: 1, stdout: '', stderr: `k8s-jobs: no task "nope" in the store ${store}\n` });
  });

  test('a store file that does not exist is an error, not a new empty store', async () => {
    const missing = join(engine.dir, 'missing.sqlite');
    const result = await cli('list', '--store', `sqlite://${missing}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no store file at this path (store: ${missing})`);
  });

  test('logs prints the stored log; --follow prints what is new until the task is deleted', async () => {
    expect(await cli('logs', 'ok', '--store', store)).toMatchObject({ code: 0, stdout: 'hello\nworld\n' });
    const follow = startCli(['logs', 'long', '--follow', '--interval', '0.1', '--store', store]);
    started.push(follow);
    await follow.waitForOutput(/first line\n/);
    expect(follow.child.exitCode).toBeNull();
    await engine.runner.cancel('long');
    expect(await follow.exited).toBe(0);
    expect(follow.stdout()).toBe('first line\n');
  });
});

describe('purge', () => {
  test('--dry-run reads a store a runner holds, changes nothing; without it the lock makes it fail', async () => {
    const dry = await cli('purge', '--store', store, '--keep', '0', '--outcome', 'succeeded', 'failed', '--dry-run');
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    expect(dry.stdout).toMatch(
      /^Would purge 2 finished task\(s\) \(succeeded 1, failed 1\)\. Store size: [\d.]+ MB\.\n$/,
    );
    const locked = await cli('purge', '--store', store, '--keep', '0');
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain('k8s-jobs:');
    expect(await engine.runner.getTask('ok')).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
  });

  test('--older-than purges the tasks finished before; open tasks stay; a bad duration exits 1', async () => {
    const path = join(engine.dir, 'purge.sqlite');
    const seeded = await openTaskStore(`sqlite://${path}`);
    const ago = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    for (const [id, days, outcome] of [
      ['old-ok', 10, 'succeeded'],
      ['old-failed', 9, 'failed'],
      ['new-ok', 1, 'succeeded'],
    ] as const) {
      await seeded.saveTask(
        record(id, 'deleted', { outcome, finishedAt: ago(days), deletedAt: ago(days) }),
        transition(id, null, 'deleted', ago(days)),
      );
    }
    await seeded.saveTask(record('open', 'running'), transition('open', null, 'running'), {
      queue: { priority: 0, seq: 0 },
    });
    await seeded.close();
    const url = `sqlite://${path}`;
    const purged = await cli('purge', '--store', url, '--older-than', '7d', '--json');
    expect(purged).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(purged.stdout)).toMatchObject({
      dryRun: false,
      total: 2,
      byOutcome: { succeeded: 1, failed: 1, timedOut: 0, cancelled: 0 },
      bytes: expect.any(Number),
    });
    const listed = await cli('list', '--store', url, '--json');
    expect((JSON.parse(listed.stdout) as TaskPage).items.map((r) => r.id).sort()).toEqual(['new-ok', 'open']);
    const bad = await cli('purge', '--store', url, '--older-than', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('must be a duration like 90s, 30m, 12h or 7d, got "soon"');
    const nothing = await cli('purge', '--store', url);
    expect(nothing).toMatchObject({
      code: 1,
      stderr: 'k8s-jobs: say what to purge: --older-than <duration> and/or --keep <count>\n',
    });
  });
});

test('the runner goes on undisturbed after the CLI read its store', async () => {
  await engine.runner.addTask({ id: 'after', image: 'busybox', ...behaviour({ durationMs: 10 }) });
  expect(await engine.runner.waitFor('after')).toMatchObject({ state: 'deleted', outcome: 'succeeded' });
});
