/**
 * One atomic multi-row upsert into a `@keyv/sqlite` table, through the adapter's own connection
 * (`store.query`, promisified `sqlite3` `Database#all`). The adapter itself has no `setMany`:
 * Keyv would run one autocommit statement per key, each its own transaction.
 */
import type { KeyvSqlite } from '@keyv/sqlite';

/**
 * Rows per INSERT statement: 2 bound parameters each, far below SQLite's 32,766 limit, and large
 * enough that the statement count stays small (measured: multi-row VALUES of a few hundred rows is
 * ~6× faster than a prepared statement run once per row inside a transaction).
 */
export const rowsPerStatement = 500;

/**
 * Writes every `[key, serializedValue]` row and deletes every key of `deletes`, all or nothing: one
 * statement when everything fits in one, else `BEGIN IMMEDIATE` … `COMMIT`. Keys must already carry
 * Keyv's namespace prefix and values be exactly what Keyv's serializer produced, so that Keyv reads
 * them back as its own.
 */
export async function upsertRows(
  store: KeyvSqlite,
  rows: ReadonlyArray<readonly [string, string]>,
  deletes: readonly string[] = [],
): Promise<void> {
  const statements: Array<{ sql: string; params: string[] }> = [];
  const table = store.opts.table ?? 'keyv';
  for (let start = 0; start < rows.length; start += rowsPerStatement) {
    const chunk = rows.slice(start, start + rowsPerStatement);
    statements.push({
      sql: `INSERT INTO ${table} (key, value) VALUES ${chunk.map(() => '(?, ?)').join(', ')} ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      params: chunk.flatMap(([key, value]) => [key, value]),
    });
  }
  for (let start = 0; start < deletes.length; start += rowsPerStatement) {
    const chunk = deletes.slice(start, start + rowsPerStatement);
    statements.push({ sql: `DELETE FROM ${table} WHERE key IN (${chunk.map(() => '?').join(', ')})`, params: chunk });
  }
  const [only] = statements;
  if (only === undefined) return;
  // A single statement is its own transaction: no need for three round trips.
  if (statements.length === 1) {
    await store.query(only.sql, only.params);
    return;
  }
  await store.query('BEGIN IMMEDIATE');
  try {
    for (const { sql, params } of statements) await store.query(sql, params);
    await store.query('COMMIT');
  } catch (err) {
    try {
      await store.query('ROLLBACK');
    } catch (rollbackErr) {
      // SQLite rolls some failures back itself (then ROLLBACK finds no transaction); keep both.
      throw new AggregateError([err, rollbackErr], 'upsert failed and so did its rollback', { cause: err });
    }
    throw err;
  }
}
