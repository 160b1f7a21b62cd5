import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { storeSchemaVersion } from '../../src/store/layout.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { tempDir } from './harnesses.js';
import { testEntry } from '../helpers/test-entries.js';
import { record, transition } from './task-store-contract.js';

const dir = tempDir('k8s-jobs-sqlite-');
const opened: Array<{ close(): Promise<void> }> = [];
const track = <T extends { close(): Promise<void> }>(closable: T): T => {
  opened.push(closable);
  return closable;
};
/** A second, independent connection to the file (what another process would see). */
const connect = (path: string): KeyvSqlite => {
  const sqlite = new KeyvSqlite({ uri: `sqlite://${path}` });
  track({ close: () => sqlite.disconnect() });
  return sqlite;
};

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  dir.cleanup();
});

describe('openTaskStore("sqlite://…")', () => {
  it('puts the file in WAL mode and writes batches with SQL transactions', async () => {
    const path = dir.path('wal.sqlite');
    const store = track(await openTaskStore(`sqlite://${path}`));
    expect(store.batchMode).toBe('sqlite-transaction');
    expect(await connect(path).query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
  });

  it('opens ./k8s-jobs.sqlite when no store is given', async () => {
    const cwd = process.cwd();
    process.chdir(dirname(dir.path('default')));
    try {
      track(await openTaskStore(undefined));
      expect(existsSync(dir.path('k8s-jobs.sqlite'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('concurrent reads are answered by a few multi-key queries, each read its own record', async () => {
    const path = dir.path('reads.sqlite');
    const sqlite = new KeyvSqlite({ uri: `sqlite://${path}` });
    const store = track(await openTaskStore(new Keyv({ store: sqlite, namespace: 'k8s-jobs' })));
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => store.saveTask(record(`r${i}`), transition(`r${i}`, null, 'queued'))),
    );
    // Counts the adapter's queries from here on (the adapter is @keyv/sqlite's own).
    const queries: string[] = [];
    const query = sqlite.query.bind(sqlite);
    sqlite.query = (sql: string, ...args: unknown[]) => {
      queries.push(sql);
      return query(sql, ...args);
    };
    const ids = Array.from({ length: 600 }, (_, i) => `r${i}`);
    const found = await Promise.all(ids.map((id) => store.getTask(id)));
    expect(found.map((r) => r?.id)).toEqual(ids.map((id, i) => (i < 300 ? id : undefined)));
    // 600 keys, 500 per IN list: two queries, not 600.
    expect(queries.filter((sql) => sql.startsWith('SELECT'))).toHaveLength(2);
  });

  it('saveTask() resolves only once committed: another connection sees the rows at that moment', async () => {
    const path = dir.path('commit.sqlite');
    const store = track(await openTaskStore(`sqlite://${path}`));
    const other = connect(path);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.saveTask(record(`c${i}`), transition(`c${i}`, null, 'queued'))),
    );
    const rows = (await other.query("SELECT count(*) AS n FROM keyv WHERE key LIKE 'k8s-jobs:task:%'")) as Array<{
      n: number;
    }>;
    expect(rows[0]?.n).toBe(50);
  });

  it('a batch larger than one statement is one BEGIN IMMEDIATE … COMMIT transaction', async () => {
    const path = dir.path('big.sqlite');
    let store: KeyvTaskStore = track(await openTaskStore(`sqlite://${path}`));
    const statements: string[] = [];
    const sqlite = store.keyv.store as KeyvSqlite;
    const query = sqlite.query;
    sqlite.query = async (sql: string, ...params: unknown[]) => {
      statements.push(sql.split(' ')[0] ?? sql);
      return query(sql, ...params);
    };
    // 300 tasks × (record + history + 2 listing index keys) = 1,200 rows: three INSERT statements of ≤ 500 rows.
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => store.saveTask(record(`b${i}`), transition(`b${i}`, null, 'queued'))),
    );
    expect(statements).toEqual(['BEGIN', 'INSERT', 'INSERT', 'INSERT', 'COMMIT']);
    await store.close();
    store = track(await openTaskStore(`sqlite://${path}`));
    expect(await store.getTask('b299')).toEqual(record('b299'));
    expect(await store.getTransitions('b0')).toEqual([transition('b0', null, 'queued')]);
  });

  it('rows it writes are read by a separate plain Keyv over @keyv/sqlite', async () => {
    const path = dir.path('plain.sqlite');
    const store = await openTaskStore(`sqlite://${path}`);
    const saved = record('p', 'failed', {
      outcome: 'failed',
      failure: { reason: 'BackoffLimitExceeded', message: ':colon-led' },
    });
    await store.saveTask(saved, transition('p', null, 'failed'));
    await store.close();
    const keyv = new Keyv({ store: connect(path), namespace: 'k8s-jobs' });
    expect(await keyv.get('task:p')).toMatchObject({ schemaVersion: storeSchemaVersion, record: saved });
  });

  it('a Keyv instance passed in keeps its adapter: SQL batches, and close() leaves it connected', async () => {
    const path = dir.path('passed.sqlite');
    const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${path}` }), namespace: 'app' });
    track({ close: () => keyv.disconnect() });
    const store = await openTaskStore(keyv);
    expect(store.batchMode).toBe('sqlite-transaction');
    await store.saveTask(record('mine'), transition('mine', null, 'queued'));
    await store.close();
    expect(await keyv.get('task:mine')).toMatchObject({ record: record('mine') });
  });

  it('what saveTask() resolved survives the process being killed right after (SIGKILL)', async () => {
    const path = dir.path('crash.sqlite');
    const child = spawn(process.execPath, [testEntry('test/store/fixtures/save-then-hang.ts'), path, '300'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('durable')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code} before saving`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const store = track(await openTaskStore(`sqlite://${path}`));
    for (const id of ['k0', 'k150', 'k299']) {
      expect((await store.getTask(id))?.state).toBe('running');
      expect((await store.getTransitions(id)).map((t) => t.to)).toEqual(['queued', 'creating', 'running']);
    }
  });
});
