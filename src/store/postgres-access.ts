/**
 * The task store's reads and batched writes on a `@keyv/postgres` table, in SQL through the
 * adapter's own `query` (its pool): a batch is one statement — so one transaction, all or nothing —
 * and the index reads are range queries on the primary key, compared in the `"C"` collation so the
 * order is the byte order of the keys (what `preparePostgresTable` indexes). `keyv-access.ts` wraps
 * this as a `KeyvAccess`.
 */
import type KeyvPostgres from '@keyv/postgres';
import type { ValueSerializer } from './keyv-serialize.js';
import { describePostgres, tableOf, type PostgresQuery } from './postgres-adapter.js';

/** How keys and values look to Keyv: what `keyv-access.ts` knows of the instance. */
export interface KeyvCodec {
  /** The key as stored (with Keyv's namespace prefix). */
  prefixed: (key: string) => string;
  /** The key as the task store names it. */
  unprefixed: (key: string) => string;
  /** A stored value as the task store wrote it. */
  decode: (raw: unknown) => Promise<unknown>;
  /** A value in Keyv's stored format. */
  serialize: ValueSerializer;
  /** Whether a batch value deletes its key. */
  isRemoval: (value: unknown) => boolean;
}

/** The reads and writes of `KeyvAccess`, on PostgreSQL. */
export interface PostgresAccess {
  readMany(keys: readonly string[]): Promise<Map<string, unknown>>;
  scan(prefix: string): Promise<Array<[key: string, value: unknown]>>;
  range(prefix: string, after: string | undefined, limit: number): Promise<Array<[key: string, value: unknown]>>;
  beforeLast(prefix: string, skip: number, limit: number): Promise<string[]>;
  write(entries: ReadonlyMap<string, unknown>): Promise<void>;
  claim(key: string, value: unknown): Promise<unknown>;
}

/** Every key with the prefix sorts (byte-wise) in [prefix, prefix with its last character + 1). */
const upperBound = (prefix: string): string =>
  prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

/**
 * The batch as one statement: a data-modifying CTE deletes, the INSERT upserts, each with its keys
 * as one array parameter (no limit on the rows of a statement, one round trip). One statement is
 * one transaction. A key is never both deleted and written in one batch (the group commit keeps
 * its latest value only).
 */
export function upsertStatement(table: string): string {
  return (
    `WITH removed AS (DELETE FROM ${table} WHERE key = ANY($3::text[])) ` +
    `INSERT INTO ${table} (key, value) SELECT * FROM UNNEST($1::text[], $2::text[]) ` +
    'ON CONFLICT (key) DO UPDATE SET value = excluded.value'
  );
}

/** Reads and writes `store`'s table through its `query`. */
export function createPostgresAccess(store: KeyvPostgres, codec: KeyvCodec): PostgresAccess {
  // Looked up on every call, as for SQLite: whoever wraps the adapter's `query` sees every statement.
  const query: PostgresQuery = (sql, values) => store.query(sql, values) as Promise<unknown[]>;
  // Checked (and the names validated) once: everything below interpolates it.
  const table = tableOf(store, describePostgres(store));
  const { prefixed, unprefixed, decode } = codec;
  const toEntries = async (rows: unknown[]): Promise<Array<[string, unknown]>> =>
    Promise.all(
      (rows as Array<{ key: string; value: string }>).map(async (row): Promise<[string, unknown]> => [
        unprefixed(row.key),
        await decode(row.value),
      ]),
    );
  const upsert = upsertStatement(table);
  return {
    async readMany(keys) {
      const rows = await query(`SELECT key, value FROM ${table} WHERE key = ANY($1::text[])`, [keys.map(prefixed)]);
      const found = new Map<string, unknown>();
      for (const [key, value] of await toEntries(rows)) if (value !== undefined) found.set(key, value);
      return found;
    },
    async scan(prefix) {
      const from = prefixed(prefix);
      return toEntries(
        await query(
          `SELECT key, value FROM ${table} WHERE key COLLATE "C" >= $1 AND key COLLATE "C" < $2 ` +
            'ORDER BY key COLLATE "C"',
          [from, upperBound(from)],
        ),
      );
    },
    async range(prefix, after, limit) {
      const from = prefixed(prefix);
      // `key > prefix` also holds for every key with the prefix: the prefix itself is never a key.
      return toEntries(
        await query(
          `SELECT key, value FROM ${table} WHERE key COLLATE "C" > $1 AND key COLLATE "C" < $2 ` +
            'ORDER BY key COLLATE "C" LIMIT $3',
          [prefixed(after ?? prefix), upperBound(from), limit],
        ),
      );
    },
    async beforeLast(prefix, skip, limit) {
      const from = prefixed(prefix);
      const rows = (await query(
        `SELECT key FROM ${table} WHERE key COLLATE "C" > $1 AND key COLLATE "C" < $2 ` +
          'ORDER BY key COLLATE "C" DESC LIMIT $3 OFFSET $4',
        [from, upperBound(from), limit, skip],
      )) as Array<{ key: string }>;
      return rows.map((row) => unprefixed(row.key));
    },
    async claim(key, value) {
      const inserted = (await query(
        `INSERT INTO ${table} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value`,
        [prefixed(key), await codec.serialize(value)],
      )) as Array<{ value: string }>;
      // Not inserted: another writer's row (committed, since the insert waited for it) is read anew.
      const rows =
        inserted.length > 0 ? inserted : await query(`SELECT value FROM ${table} WHERE key = $1`, [prefixed(key)]);
      const row = (rows as Array<{ value: string }>)[0];
      return row === undefined ? undefined : decode(row.value);
    },
    async write(entries) {
      const keys: string[] = [];
      const values: string[] = [];
      const deletes: string[] = [];
      for (const [key, value] of entries) {
        if (codec.isRemoval(value)) {
          deletes.push(prefixed(key));
        } else {
          keys.push(prefixed(key));
          const text = codec.serialize(value);
          values.push(typeof text === 'string' ? text : await text);
        }
      }
      if (keys.length === 0 && deletes.length === 0) return;
      await query(upsert, [keys, values, deletes]);
    },
  };
}
