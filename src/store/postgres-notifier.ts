/**
 * Notifications between the replicas that share one PostgreSQL store: `LISTEN`/`NOTIFY` on one
 * channel per store table, through one dedicated `pg` connection per replica (the pool's
 * connections come and go, and a `LISTEN` belongs to one connection).
 */
import { createHash } from 'node:crypto';
import type Keyv from 'keyv';
import type { Client } from 'pg';
import { messageOf, StoreError } from '../errors.js';
import type { StoreNotifier, StoreNotifierHandlers } from './contract.js';
import {
  defaultPostgresSchema,
  isKeyvPostgres,
  isPostgresUrl,
  parsePostgresUrl,
  postgresConnectTimeoutMs,
  postgresTable,
  redactPostgresUrl,
  scrubbed,
} from './postgres-adapter.js';

/** PostgreSQL refuses a `NOTIFY` payload of 8,000 bytes or more. */
export const maxNotifyBytes = 7_900;

/** How long a broken connection waits before the next try, doubling up to the cap. */
const reconnect = { baseMs: 250, maxMs: 5_000 } as const;

interface NotifierTarget {
  connectionString: string;
  /** One channel per store table: two stores on one server never hear each other. */
  channel: string;
  location: string;
  secrets: string[];
}

/** The channel of a store table: an identifier of its own (a hash: the names may be long). */
function channelOf(schema: string, table: string): string {
  return `k8s_jobs_${createHash('sha256').update(`${schema}.${table}`).digest('hex').slice(0, 20)}`;
}

/**
 * The notifier of a PostgreSQL store: a `postgres://` URL, or a Keyv over `@keyv/postgres`;
 * undefined for any other store (SQLite, a Map, another adapter), which several replicas cannot share.
 */
export function postgresNotifierFor(store: string | Keyv | undefined): StoreNotifier | undefined {
  if (typeof store === 'string') {
    if (!isPostgresUrl(store)) return undefined;
    const target = parsePostgresUrl(store);
    return new PostgresNotifier({
      connectionString: target.connectionString,
      channel: channelOf(target.schema, postgresTable),
      location: target.location,
      secrets: target.secrets,
    });
  }
  const adapter: unknown = store?.store;
  if (!isKeyvPostgres(adapter) || adapter.opts.uri === undefined) return undefined;
  const uri = adapter.opts.uri;
  const password = URL.canParse(uri) ? new URL(uri).password : '';
  return new PostgresNotifier({
    connectionString: uri,
    channel: channelOf(adapter.opts.schema ?? defaultPostgresSchema, adapter.opts.table ?? postgresTable),
    location: redactPostgresUrl(uri),
    secrets: password === '' ? [] : [password, decodeURIComponent(password)],
  });
}

/**
 * One connection that listens and notifies. Messages sent from it arrive at every listener in the
 * order sent (one connection, one session), its own listener included. When the connection breaks
 * it reconnects with back-off and tells `onGap`: messages sent meanwhile are lost, and a listener
 * must read the store again for what it missed. A `notify` while disconnected rejects.
 */
export class PostgresNotifier implements StoreNotifier {
  readonly #target: NotifierTarget;
  #client: Client | undefined;
  #handlers: StoreNotifierHandlers | undefined;
  #closed = false;
  /** Sends, one after the other on the one connection. */
  #sending: Promise<void> = Promise.resolve();
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(target: NotifierTarget) {
    this.#target = target;
  }

  get location(): string {
    return this.#target.location;
  }

  async listen(handlers: StoreNotifierHandlers): Promise<void> {
    this.#handlers = handlers;
    await this.#connect();
  }

  notify(message: string): Promise<void> {
    if (Buffer.byteLength(message) > maxNotifyBytes) {
      return Promise.reject(new RangeError(`a notification is at most ${maxNotifyBytes} bytes`));
    }
    const send = this.#sending.then(async () => {
      const client = this.#client;
      if (!client) throw this.#error('notify', new Error('not connected'));
      try {
        await client.query('SELECT pg_notify($1, $2)', [this.#target.channel, message]);
      } catch (err) {
        throw this.#error('notify', err);
      }
    });
    this.#sending = send.catch(() => undefined);
    return send;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.#sending;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({
      connectionString: this.#target.connectionString,
      connectionTimeoutMillis: postgresConnectTimeoutMs,
    });
    client.on('notification', (n) => {
      if (n.channel === this.#target.channel && n.payload !== undefined) this.#handlers?.onMessage(n.payload);
    });
    client.on('error', (err) => this.#broken(client, err));
    client.on('end', () => this.#broken(client, new Error('the connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#target.channel}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw this.#error('listen', err);
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#failures = 0;
  }

  /** The connection broke (or ended under us): reconnect with back-off, then report the gap. */
  #broken(client: Client, err: unknown): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.#handlers?.onError(this.#error('listen', err));
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = Math.min(reconnect.maxMs, reconnect.baseMs * 2 ** this.#failures);
    this.#failures++;
    this.#retryTimer = setTimeout(() => {
      if (this.#closed) return;
      this.#connect().then(
        () => this.#handlers?.onGap(),
        (err: unknown) => {
          this.#handlers?.onError(err);
          this.#scheduleReconnect();
        },
      );
    }, delay);
    this.#retryTimer.unref();
  }

  #error(what: 'listen' | 'notify', err: unknown): StoreError {
    const cause = scrubbed(err, this.#target.secrets);
    return new StoreError(`PostgreSQL ${what} on the store's channel failed: ${messageOf(cause)}`, this.location, {
      cause,
    });
  }
}
