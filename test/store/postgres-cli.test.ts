import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import type { TaskPage, TaskRecord } from '../../src/types.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { startCli } from '../cli/cli-process.js';
import { dropSchemas, postgresStoreUrl, randomSchema, testPostgresUrl } from './harnesses.js';
import { record, transition } from './task-store-contract.js';

/*
 * `list` and `show` read a PostgreSQL store (`--store postgres://…`) as real child processes:
 * read-only, so a schema without a store is an error and is not created, and a password in the
 * URL is never printed.
 */

const schema = randomSchema('k8s_jobs_cli');
const missing = randomSchema('k8s_jobs_cli_missing');
const store = postgresStoreUrl(schema);

beforeAll(async () => {
  const writer = await openTaskStore(store);
  try {
    await writer.saveTask(record('pg-queued'), transition('pg-queued', null, 'queued'), {
      queue: { priority: 0, seq: 0 },
    });
    await writer.saveTask(
      record('pg-done', 'deleted', { outcome: 'succeeded' }),
      transition('pg-done', null, 'queued'),
    );
  } finally {
    await writer.close();
  }
});
afterAll(() => dropSchemas([schema, missing]));

async function cli(...args: string[]): Promise<{ code: number | NodeJS.Signals; stdout: string; stderr: string }> {
  const child = startCli(args);
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

test('list --json and show read the tasks of a postgres:// store', async () => {
  const [list, show] = await Promise.all([
    cli('list', '--store', store, '--json'),
    cli('show', 'pg-done', '--store', store, '--json'),
  ]);
  expect(list.stderr).toBe('');
  expect(list.code).toBe(0);
  expect((JSON.parse(list.stdout) as TaskPage).items.map((r) => [r.id, r.state]).sort()).toEqual([
    ['pg-done', 'deleted'],
    ['pg-queued', 'queued'],
  ]);
  expect(show.code).toBe(0);
  const shown = JSON.parse(show.stdout) as { record: TaskRecord; transitions: unknown[] };
  expect([shown.record.id, shown.record.outcome, shown.transitions.length]).toEqual(['pg-done', 'succeeded', 1]);
});

test('a schema without a store exits 1, creates nothing, and prints the URL with its password redacted', async () => {
  const password = 'cli-s3cret-pw';
  const url = postgresStoreUrl(missing).replace('://postgres@', `://postgres:${password}@`);
  const result = await cli('list', '--store', url);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`no table ${missing}.keyv`);
  expect(result.stderr).toContain('postgres:***@');
  expect(`${result.stdout}${result.stderr}`).not.toContain(password);
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [missing]);
    expect(found.rowCount).toBe(0);
  } finally {
    await client.end();
  }
});
