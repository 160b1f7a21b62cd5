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
 * The rows of one upsert, made a statement's worth at a time: `params(start, end)` gives the
 * bound parameters of rows [start, end) (key, value, key, value…). sqlite3 copies a statement's
 * parameters when it is called, so the text of one statement is dropped once handed over rather
 * than kept, with every other statement's, until the whole batch has committed.
 */
export interface UpsertRows {
  readonly count: number;
  params(start: number, end: number): string[] | Promise<string[]>;
}

/** The INSERT of `n` rows; the full-size one, made for nearly every statement, is kept per table. */
const fullInserts = new Map<string, string>();
function insertSql(table: string, n: number): string {
  const known = n === rowsPerStatement ? fullInserts.get(table) : undefined;
  if (known) return known;
  const values = Array.from({ length: n }, () => '(?, ?)').join(', ');
  const sql = `INSERT INTO ${table} (key, value) VALUES ${values} ON CONFLICT(key) DO UPDATE SET value = excluded.value`;
  if (n === rowsPerStatement) fullInserts.set(table, sql);
  return sql;
}

/**
 * Writes every row of `rows` and deletes every key of `deletes`, all or nothing: one statement
 * when everything fits in one, else `BEGIN IMMEDIATE` … `COMMIT`. Keys must already carry Keyv's
 * namespace prefix and values be exactly what Keyv's serializer produced, so that Keyv reads
 * them back as its own.
 */
export async function upsertRows(store: KeyvSqlite, rows: UpsertRows, deletes: readonly string[] = []): Promise<void> {
  const table = store.opts.table ?? 'keyv';
  // Each statement's parameters are made when it runs (see UpsertRows).
  const statements: Array<() => Promise<unknown>> = [];
  for (let start = 0; start < rows.count; start += rowsPerStatement) {
    const end = Math.min(start + rowsPerStatement, rows.count);
    statements.push(async () => store.query(insertSql(table, end - start), await rows.params(start, end)));
  }
  for (let start = 0; start < deletes.length; start += rowsPerStatement) {
    const chunk = deletes.slice(start, start + rowsPerStatement);
    statements.push(() => store.query(`DELETE FROM ${table} WHERE key IN (${chunk.map(() => '?').join(', ')})`, chunk));
  }
  const [only] = statements;
  if (only === undefined) return;
  // A single statement is its own transaction: no need for three round trips.
  if (statements.length === 1) {
    await only();
    return;
  }
  await store.query('BEGIN IMMEDIATE');
  try {
    for (const statement of statements) await statement();
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
