import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openTaskStore } from '../../src/store/open-store.js';
import { demoTasksFor } from '../../src/cli/demo-scenario.js';
import { startCli, startCliOnTty, type CliProcess } from './cli-process.js';

/*
 * `k8s-jobs demo` end to end, as real child processes: each run starts its own simulated cluster
 * and runner on a store in a temp dir (never ./k8s-jobs-demo.sqlite of the checkout).
 */

let dir: string;
const started: CliProcess[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-demo-'));
});
// The tests run concurrently: what a failed one left running is killed once all are done.
afterAll(async () => {
  for (const cli of started.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
  await rm(dir, { recursive: true, force: true });
});

const demo = (args: string[], tty = false): CliProcess => {
  const cli = tty ? startCliOnTty(['demo', ...args]) : startCli(['demo', ...args]);
  started.push(cli);
  return cli;
};

/** The summary table's row of task `id` (cells trimmed), from the output after "Summary:". */
function summaryRow(out: string, id: string): string[] | undefined {
  const summary = out.slice(out.indexOf('Summary:'));
  const line = summary.split('\n').find((l) => l.startsWith(`│ ${id} `));
  return line
    ?.split('│')
    .slice(1, -1)
    .map((cell) => cell.trim());
}

/** The outcome and reason columns every demo task must show on the process runtime (memory limits enforced: Linux). */
const expectedRows: Record<string, [outcome: string, reason: RegExp]> = {
  hello: ['succeeded', /^—$/],
  'count-to-five': ['succeeded', /^—$/],
  'cancel-me': ['cancelled', /^Cancelled$/],
  'too-slow': ['timedOut', /^(DeadlineExceeded|Timeout)$/],
  'missing-image': ['failed', /^(ErrImagePull|ImagePullBackOff)$/],
  'busy-registry': ['failed', /^(ImagePullBackOff|ErrImagePull)$/],
  'exit-3': ['failed', /^exit code 3 /],
  checksum: ['succeeded', /^—$/],
  segfault: ['failed', /^exit code 139 /],
  'out-of-memory': ['failed', /^OOMKilled \(exit code 137\)$/],
  'warn-on-stderr': ['succeeded', /^—$/],
  'resize-images': ['succeeded', /^—$/],
  'urgent-report': ['succeeded', /^—$/],
};

describe.concurrent('k8s-jobs demo', () => {
  test('without a terminal: plain transition lines, every outcome in the summary, the store written, exit 0', async () => {
    const store = join(dir, 'plain.sqlite');
    const cli = demo(['--store', `sqlite://${store}`]);
    expect(await cli.exited).toBe(0);
    const out = cli.stdout();
    expect(cli.stderr()).toBe('');
    expect(out).not.toContain('\u001b[');
    // One plain line per transition: time, task, from → to (and the reason of an outcome).
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}exit-3 +running +→ failed +exit code 3 \(BackoffLimitExceeded\)$/m);
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}hello +— +→ queued$/m);
    expect(Object.keys(expectedRows)).toEqual(demoTasksFor('process').map((t) => t.task.id));
    expect(out).toContain('  out-of-memory   killed for exceeding its 32Mi memory limit\n');
    expect(out).not.toContain('left out on this host');
    for (const [id, [outcome, reason]] of Object.entries(expectedRows)) {
      const row = summaryRow(out, id);
      expect(row, id).toBeDefined();
      const [, actualOutcome = '', actualReason = '', queueWait = '', ranFor = '', asExpected = ''] = row ?? [];
      expect(actualOutcome, id).toBe(outcome);
      expect(actualReason, id).toMatch(reason);
      expect(queueWait, id).toMatch(/^\d+(ms|\.\d+s)$/);
      expect(ranFor, id).toMatch(/^\d+(ms|\.\d+s)$/);
      expect(asExpected, id).toBe('✔');
    }
    // One task's log, as stored, follows the summary.
    expect(out).toContain(
      'The log of count-to-five, as the runner stored it:\n  step 1/5\n  step 2/5\n  step 3/5\n  step 4/5\n  step 5/5\n',
    );
    const reader = await openTaskStore(`sqlite://${store}`, { readOnly: true });
    try {
      const { items: records } = await reader.listTasks({ limit: 1000 });
      expect(records.map((r) => r.id).sort()).toEqual(Object.keys(expectedRows).sort());
      expect(records.every((r) => r.state === 'deleted')).toBe(true);
    } finally {
      await reader.close();
    }
  });

  test('on a terminal: the live view (progress bar, counts, per-task lines), then the summary; a previous store is replaced', async () => {
    const store = join(dir, 'tty.sqlite');
    // A previous demo's store, with tasks of the same ids: the demo must start from an empty one.
    const previous = startCli(['demo', '--store', `sqlite://${store}`, '--runtime', 'scripted']);
    started.push(previous);
    expect(await previous.exited).toBe(0);
    const cli = demo(['--store', `sqlite://${store}`, '--runtime', 'scripted'], true);
    expect(await cli.exited).toBe(0);
    const out = cli.stdout();
    expect(out).toContain(`(the previous ${store} was removed first)`);
    // log-update's frames: the first one whole, then the lines that changed.
    expect(out).toMatch(/░{30} {2}0\/13 finished · 0 running · 0 queued/);
    expect(out).toMatch(/█+░* {2}\d+\/13 finished · [1-4] running · \d+ queued/);
    expect(out).toMatch(/█{30} {2}13\/13 finished · 0 running · 0 queued/);
    expect(out).toMatch(/▶ count-to-five +running +\d+(ms|\.\d+s)/);
    expect(out).toMatch(/✖ exit-3 +(failed|deleting|deleted) +\d+(ms|\.\d+s) +failed: exit code 3/);
    // The scripted runtime has the OOMKilled task too.
    expect(summaryRow(out, 'out-of-memory')).toEqual([
      'out-of-memory',
      'failed',
      'OOMKilled (exit code 137)',
      expect.any(String),
      expect.any(String),
      '✔',
    ]);
    expect(out.match(/│ ✔ +│/g)).toHaveLength(13);
  });

  test('Ctrl-C cancels the running tasks, deletes their Jobs and exits 130', async () => {
    const store = join(dir, 'interrupted.sqlite');
    const cli = demo(['--store', `sqlite://${store}`, '--view', 'plain']);
    await cli.waitForOutput(/count-to-five +creating +→ running/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(130);
    expect(cli.stdout()).toContain('SIGINT: cancelling the running tasks and deleting their Jobs…');
    const reader = await openTaskStore(`sqlite://${store}`, { readOnly: true });
    try {
      // Nothing is left half-way: tasks are finished and deleted, or still queued for a next run.
      const states = new Set((await reader.listTasks({ limit: 1000 })).items.map((r) => r.state));
      expect([...states].every((s) => s === 'deleted' || s === 'queued')).toBe(true);
      expect((await reader.getTask('count-to-five'))?.outcome).toBe('cancelled');
    } finally {
      await reader.close();
    }
  });

  test('a file at the store path that is not a k8s-jobs store is left alone: exit 1 with the reason', async () => {
    const path = join(dir, 'not-a-store.sqlite');
    await writeFile(path, 'my notes\n');
    const cli = demo(['--store', `sqlite://${path}`]);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toMatch(/^k8s-jobs: .*not-a-store\.sqlite/);
    expect(await readFile(path, 'utf8')).toBe('my notes\n');
    expect(existsSync(`${path}-wal`)).toBe(false);
  });
});
