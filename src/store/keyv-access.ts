/**
 * Raw reads and batched writes over any Keyv instance, with errors always surfacing. Keyv itself
 * swallows store errors unless `throwOnErrors` is set (`set` → `false`, `get` → `undefined`), and
 * the instance may be the application's own: we neither trust nor change its setting. Reads go to
 * the adapter directly (its errors propagate) and are decoded with the instance's own
 * deserializer; writes check every result Keyv returns.
 */
import KeyvSqlite from '@keyv/sqlite';
import type Keyv from 'keyv';
import { keyvValueSerializer } from './keyv-serialize.js';
import { upsertRows } from './sqlite-upsert.js';

/** How a batch reaches the adapter. */
export type BatchMode = 'sqlite-transaction' | 'set-many';

/** Narrow access to one Keyv instance. Methods throw the adapter's own errors. */
export interface KeyvAccess {
  readonly mode: BatchMode;
  /** The stored value (what was passed to `write`), or `undefined`. */
  read(key: string): Promise<unknown>;
  /** Writes every entry; with `sqlite-transaction`, atomically. Rejects if any write failed. */
  write(entries: ReadonlyArray<readonly [key: string, value: unknown]>): Promise<void>;
}

/** Wraps `keyv`; `@keyv/sqlite` adapters get one multi-row transaction per batch, others `setMany`. */
export function createKeyvAccess(keyv: Keyv): KeyvAccess {
  const store: unknown = keyv.store;
  const sqlite = store instanceof KeyvSqlite ? store : undefined;

  // Keyv's `_getKeyPrefix`, reproduced exactly (including keys that already start with the
  // namespace) so that rows we write are the rows `keyv.get` finds.
  const prefixed = (key: string): string => {
    const namespace = keyv.namespace;
    if (!keyv.useKeyPrefix || !namespace || key.startsWith(`${namespace}:`)) return key;
    return `${namespace}:${key}`;
  };

  const read = async (key: string): Promise<unknown> => {
    const raw: unknown = await (keyv.store as { get(key: string): unknown }).get(prefixed(key));
    if (raw === undefined || raw === null) return undefined;
    const data = typeof raw === 'string' || keyv.opts.compression ? await keyv.deserializeData(raw as string) : (raw as { value?: unknown });
    return data?.value;
  };

  if (sqlite) {
    // The value format Keyv's own `set` produces: `{ value }` through its serializer.
    const serialize = keyvValueSerializer(keyv);
    return {
      mode: 'sqlite-transaction',
      read,
      async write(entries) {
        const rows = await Promise.all(entries.map(async ([key, value]): Promise<[string, string]> => [prefixed(key), await serialize(value)]));
        await upsertRows(sqlite, rows);
      },
    };
  }

  return {
    mode: 'set-many',
    read,
    async write(entries) {
      // With `throwOnErrors` off, Keyv reports a failed write only as `false` plus an `error` event:
      // collect the events so the failure keeps its cause.
      const errors: unknown[] = [];
      const onError = (err: unknown): void => {
        errors.push(err);
      };
      keyv.on('error', onError);
      try {
        // `ttl: 0` overrides any default TTL the instance has: task history must not expire.
        const results: unknown = await keyv.setMany(entries.map(([key, value]) => ({ key, value, ttl: 0 })));
        const failed = Array.isArray(results) ? results.filter((result) => result === false).length : 0;
        if (failed > 0) {
          const [firstError] = errors;
          const detail = firstError instanceof Error ? `: ${firstError.message}` : '';
          const cause = errors.length > 1 ? new AggregateError(errors, `${errors.length} errors`) : firstError;
          throw new Error(`the Keyv store rejected ${failed} of ${entries.length} writes${detail}`, { cause });
        }
      } finally {
        keyv.off('error', onError);
      }
    },
  };
}
