import { afterAll, beforeAll, expect, test } from 'vitest';
import type { TaskPage } from '../../src/types.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';
import { record, transition } from '../store/task-store-contract.js';
import { startCli } from './cli-process.js';

/*
 * `logs` and `purge` on a PostgreSQL store (`--store postgres://…?schema=…`), as real child
 * processes, on the real server in a schema of this file's own, dropped after. (`list` and `show`
 * on PostgreSQL: test/store/postgres-cli.test.ts.)
 */

const schema = randomSchema('k8s_jobs_cli_pg');
const store = postgresStoreUrl(schema);
const longAgo = new Date(Date.now() - 10 * 86_400_000).toISOString();

beforeAll(async () => {
  const writer = await openTaskStore(store);
  try {
    await writer.saveTask(record('pg-open'), transition('pg-open', null, 'queued'), { queue: { priority: 0, seq: 0 } });
    for (const id of ['pg-old-1', 'pg-old-2']) {
      await writer.saveTask(
        record(id, 'deleted', { outcome: 'succeeded', finishedAt: longAgo, deletedAt: longAgo }),
        transition(id, null, 'deleted', longAgo),
      );
    }
    await writer.putLogSnapshot({
      taskId: 'pg-old-1',
      text: 'hello from postgres\n',
      totalBytes: 20,
      truncated: false,
      final: true,
      capturedAt: longAgo,
    });
  } finally {
    await writer.close();
  }
});
afterAll(() => dropSchemas([schema]));

async function cli(...args: string[]): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const child = startCli(args);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

test('logs prints the stored snapshot of a task in a postgres:// store', async () => {
  expect(await cli('logs', 'pg-old-1', '--store', store)).toEqual({
    code: 0,
    stdout: 'hello from postgres\n',
    stderr: '',
  });
});

test('purge --dry-run counts, purge removes the finished tasks (open ones stay), list shows what is left', async () => {
  const dry = await cli('purge', '--store', store, '--older-than', '7d', '--dry-run', '--json');
  expect(dry).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, total: 2, byOutcome: { succeeded: 2 } });
  const purged = await cli('purge', '--store', store, '--older-than', '7d', '--json');
  expect(purged).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(purged.stdout)).toMatchObject({ dryRun: false, total: 2, byOutcome: { succeeded: 2 } });
  const listed = await cli('list', '--store', store, '--json');
  expect(listed.code).toBe(0);
  expect((JSON.parse(listed.stdout) as TaskPage).items.map((r) => r.id)).toEqual(['pg-open']);
});
