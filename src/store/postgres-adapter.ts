/**
 * `@keyv/postgres`, and the PostgreSQL table the task store keeps its rows in: the `postgres://`
 * URL (its `?schema=` and its password, which never reaches a message), the table created on first
 * use with a byte-ordered key, and an adapter that owns its own connection pool. Loaded only when
 * a `postgres://` store is opened or a Keyv over `@keyv/postgres` is passed in.
 */
import type KeyvPostgres from '@keyv/postgres';
import type { Pool } from 'pg';
import { messageOf, StoreError } from '../errors.js';

/** The schema a URL without `?schema=` uses. */
export const defaultPostgresSchema = 'public';

/** The table `openTaskStore` creates (the one `@keyv/postgres` defaults to). */
export const postgresTable = 'keyv';

/**
 * Characters a key column must hold: the longest key the layout writes (a 253-character task id in
 * an index key, under Keyv's namespace) is about 320. `@keyv/postgres` itself defaults to 255.
 */
export const minPostgresKeySize = 512;

/** The key column of the tables `openTaskStore` creates. */
export const postgresKeySize = 1024;

/** How long opening a connection may take before the store reports the server unreachable. */
export const postgresConnectTimeoutMs = 10_000;

/**
 * Schema and table names we accept: unquoted lower-case identifiers, because `@keyv/postgres`
 * interpolates them into its SQL unquoted (so `MySchema` would silently become `myschema`).
 */
const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

/** How a query reaches the server: the adapter's own `query` (rows of the result). */
export type PostgresQuery = (sql: string, values?: unknown[]) => Promise<unknown[]>;

/**
 * Whether a Keyv `store` is a `@keyv/postgres` adapter, told by its `postgres` dialect and its
 * `query` (not by `instanceof`, which would need the module loaded).
 */
export function isKeyvPostgres(store: unknown): store is KeyvPostgres {
  if (typeof store !== 'object' || store === null) return false;
  const candidate = store as { opts?: { dialect?: unknown }; query?: unknown };
  return candidate.opts?.dialect === 'postgres' && typeof candidate.query === 'function';
}

/** A parsed `postgres://` store URL. */
export interface PostgresTarget {
  /** What `pg` connects with: the URL without `?schema=`. Holds the password: never print it. */
  connectionString: string;
  schema: string;
  /** The URL with its password replaced by `***`: the store's location in every message. */
  location: string;
  /** The password as written and decoded, to scrub from messages that might echo it. */
  secrets: string[];
}

/** Whether `uri` names a PostgreSQL store. */
export const isPostgresUrl = (uri: string): boolean => /^postgres(ql)?:\/\//i.test(uri);

/**
 * The URL with any password replaced by `***` (also when the URL does not parse: then everything
 * between `://` and the last `@` of the authority goes).
 */
export function redactPostgresUrl(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return uri.replace(/^([a-z]+:\/\/[^:/@]*):[^/]*@/i, '$1:***@');
  }
}

/**
 * Parses `postgres://user[:password]@host[:port]/database[?schema=name]`.
 * @throws {StoreError} (password redacted) for a URL that does not parse or a bad schema name.
 */
export function parsePostgresUrl(uri: string): PostgresTarget {
  const location = redactPostgresUrl(uri);
  let url: URL;
  try {
    url = new URL(uri);
  } catch (err) {
    // Node's URL error carries the whole input (`input`): keep only its message and code.
    const cause = Object.assign(new Error(messageOf(err)), { code: (err as { code?: unknown }).code });
    throw new StoreError('the PostgreSQL store URL does not parse', location, { cause });
  }
  const secrets = url.password === '' ? [] : [url.password, decodedOrSame(url.password)];
  const schema = url.searchParams.get('schema') ?? defaultPostgresSchema;
  if (!identifier.test(schema)) {
    const rule = 'must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)';
    throw new StoreError(`the "schema" parameter ${rule}, got ${JSON.stringify(schema)}`, location);
  }
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema, location, secrets };
}

/** `%`-decoded, or as it is when it is no valid `%` encoding (a password is shown nowhere either way). */
function decodedOrSame(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * `err` itself when its message names none of `secrets`, else an `Error` with them replaced by
 * `***` (same `code`, the original kept out of reach): a cause may be logged whole.
 */
export function scrubbed(err: unknown, secrets: readonly string[]): unknown {
  const message = messageOf(err);
  const scrub = (text: string): string =>
    secrets.filter((s) => s !== '').reduce((out, secret) => out.split(secret).join('***'), text);
  // A URL parse error quotes the input: drop anything that looks like a URL's password too.
  const clean = scrub(message).replace(/(postgres(?:ql)?:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@');
  if (clean === message) return err;
  const copy = new Error(clean);
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== undefined) Object.assign(copy, { code });
  return copy;
}

/** Where an adapter keeps its rows, as SQL (both names checked against {@link identifier}). */
export function tableOf(store: KeyvPostgres, location: string): string {
  const schema = store.opts.schema ?? defaultPostgresSchema;
  const table = store.opts.table ?? postgresTable;
  for (const [what, name] of [
    ['schema', schema],
    ['table', table],
  ] as const) {
    if (!identifier.test(name)) {
      throw new StoreError(
        `the @keyv/postgres ${what} must be a lower-case SQL identifier, got ${JSON.stringify(name)}`,
        location,
      );
    }
  }
  return `${schema}.${table}`;
}

/**
 * Makes the table ready for the task store and proves the server answers:
 * - creates the schema and the table when missing (unless `readOnly`), with the key column in
 *   the `"C"` collation, so that the primary key orders keys byte-wise: the order of JavaScript
 *   strings for the ASCII keys the layout writes, which range reads rely on;
 * - for a table that exists with another collation (made by `@keyv/postgres` itself, say), adds an
 *   index on `key COLLATE "C"` (range reads compare in `"C"` always, and would scan without it);
 * - widens a key column narrower than {@link minPostgresKeySize} (`@keyv/postgres` makes 255) to
 *   {@link postgresKeySize}.
 */
export async function preparePostgresTable(
  query: PostgresQuery,
  store: { schema: string; table: string },
  location: string,
  readOnly: boolean,
): Promise<void> {
  const { schema, table } = store;
  if (!readOnly) {
    await query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch(ignoreConcurrentCreate);
    await query(
      `CREATE TABLE IF NOT EXISTS ${schema}.${table} ` +
        `(key VARCHAR(${postgresKeySize}) COLLATE "C" PRIMARY KEY, value TEXT)`,
    ).catch(ignoreConcurrentCreate);
  }
  const columns = (await query(
    `SELECT collation_name, character_maximum_length FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = $2 AND column_name = 'key'`,
    [schema, table],
  )) as Array<{ collation_name: string | null; character_maximum_length: number | null }>;
  const [key] = columns;
  if (!key) throw new StoreError(`no table ${schema}.${table}: not a k8s-jobs store`, location);
  if (!readOnly && key.character_maximum_length !== null && key.character_maximum_length < minPostgresKeySize) {
    // Widening a VARCHAR is a change of the catalog only (no rewrite of the table or its index). A
    // new type without COLLATE would also reset the column to the database's default collation.
    const collation = key.collation_name === null ? '' : ` COLLATE "${key.collation_name.replace(/"/g, '""')}"`;
    await query(`ALTER TABLE ${schema}.${table} ALTER COLUMN key TYPE VARCHAR(${postgresKeySize})${collation}`);
  }
  if (!readOnly && key.collation_name !== 'C' && key.collation_name !== 'POSIX') {
    await query(`CREATE INDEX IF NOT EXISTS ${table}_key_c ON ${schema}.${table} ((key COLLATE "C"))`).catch(
      ignoreConcurrentCreate,
    );
  }
}

/**
 * What a `CREATE … IF NOT EXISTS` answers when another session creates the same object at the
 * same instant (`IF NOT EXISTS` looks before it creates, and is no lock): a unique violation on
 * the catalog (23505), `schema already exists` (42P06), `relation already exists` (42P07) or, for
 * a table, `type already exists` (42710, its row type). The other session's object exists then:
 * the caller reads it back right after. Replicas started together on a new schema meet this.
 */
const concurrentCreateCodes: ReadonlySet<unknown> = new Set(['23505', '42P06', '42P07', '42710']);

function ignoreConcurrentCreate(err: unknown): void {
  if (!concurrentCreateCodes.has((err as { code?: unknown }).code)) throw err;
}

/** An adapter of ours: `@keyv/postgres` over a pool it alone uses and ends. */
export interface OwnedPostgres {
  adapter: KeyvPostgres;
  pool: Pool;
}

/**
 * A `@keyv/postgres` adapter on a pool of its own. The package keeps one module-wide pool per URL
 * and its `disconnect()` ends whichever pool it made last, so two stores in one process (two
 * schemas, or a store reopened while another is open) would close each other's connections. The
 * adapter's own `CREATE TABLE` is skipped: {@link preparePostgresTable} made the table (with the
 * key collation it needs), and a read-only store must not create anything.
 */
export async function openOwnedPostgres(target: PostgresTarget, readOnly: boolean): Promise<OwnedPostgres> {
  const [{ default: KeyvPostgresClass }, { default: pg }] = await Promise.all([import('@keyv/postgres'), import('pg')]);
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    connectionTimeoutMillis: postgresConnectTimeoutMs,
    // A reader is read-only on the server too: whatever it runs, it cannot write.
    ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  class PooledKeyvPostgres extends KeyvPostgresClass {
    override connect(): Promise<(sql: string, values?: unknown[]) => Promise<unknown[]>> {
      return Promise.resolve(async (sql: string, values?: unknown[]) => {
        if (/^\s*CREATE\b/i.test(sql)) return [];
        return (await pool.query(sql, values)).rows as unknown[];
      });
    }

    override async disconnect(): Promise<void> {
      await pool.end();
    }
  }
  const adapter = new PooledKeyvPostgres({
    uri: target.connectionString,
    schema: target.schema,
    table: postgresTable,
    keySize: postgresKeySize,
  });
  // A pooled connection that breaks while idle (server restart) is an `error` on the pool; it is
  // dropped and the next query opens another. Reported through the adapter, which Keyv forwards.
  pool.on('error', (err) => adapter.emit('error', scrubbed(err, target.secrets)));
  return { adapter, pool };
}

/** `'<redacted uri> (schema …)'` for messages about a passed-in adapter. */
export function describePostgres(store: KeyvPostgres): string {
  return `${redactPostgresUrl(store.opts.uri ?? '?')} schema ${store.opts.schema ?? defaultPostgresSchema}`;
}

/** Wraps a failure to open as a `StoreError` with the password scrubbed from its cause. */
export function openFailure(err: unknown, target: PostgresTarget): StoreError {
  if (err instanceof StoreError) return err;
  const cause = scrubbed(err, target.secrets);
  return new StoreError(`cannot open the PostgreSQL store: ${messageOf(cause)}`, target.location, { cause });
}
