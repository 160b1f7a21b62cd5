/**
 * The `meta:schema` entry: which layout version a store holds. Checked and rewritten every time a
 * store is opened, which also proves the store is writable before the runner relies on it.
 */
import { StoreError } from '../errors.js';
import { schemaKey, storeSchemaVersion, type SchemaMeta } from './layout.js';

/** What the schema check needs from the task store. */
export interface SchemaAccess {
  read(key: string): Promise<unknown>;
  /** Resolves once durable. */
  write(key: string, value: unknown): Promise<void>;
}

/**
 * Accepts a fresh store or one written with this layout version; refuses others with a
 * `StoreError`. Older versions are where migrations plug in: read with the old layout, write the
 * new one, then record the new version here. There is no older version yet (v1 is the first).
 */
export async function ensureSchema(access: SchemaAccess, location: string, openedAt: string): Promise<SchemaMeta> {
  const found = (await access.read(schemaKey)) as Partial<SchemaMeta> | undefined;
  if (found !== undefined && typeof found.schemaVersion !== 'number') {
    throw new StoreError(`"${schemaKey}" holds no schema version: not a k8s-jobs store`, location);
  }
  if (found?.schemaVersion !== undefined && found.schemaVersion > storeSchemaVersion) {
    throw new StoreError(`the store was written by a newer k8s-jobs (schema v${found.schemaVersion}; this version reads up to v${storeSchemaVersion})`, location);
  }
  if (found?.schemaVersion !== undefined && found.schemaVersion < storeSchemaVersion) {
    throw new StoreError(`no migration from schema v${found.schemaVersion} to v${storeSchemaVersion}`, location);
  }
  const meta: SchemaMeta = { schemaVersion: storeSchemaVersion, createdAt: found?.createdAt ?? openedAt, openedAt };
  await access.write(schemaKey, meta);
  return meta;
}
