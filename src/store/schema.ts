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
  /**
   * Rewrites a store of layout version `from` into version `from + 1` (resolves once durable).
   * Called for each version step between the stored one and this code's.
   */
  migrate(from: number): Promise<void>;
}

/**
 * Checks what `meta:schema` holds (undefined for a fresh store): refuses, with a `StoreError`, a
 * value that is not a schema record and a version newer than this code's. Reads nothing else and
 * writes nothing (a read-only open uses it alone).
 */
export function checkSchema(found: unknown, location: string): Partial<SchemaMeta> | undefined {
  const meta = found as Partial<SchemaMeta> | undefined;
  if (meta !== undefined && typeof meta.schemaVersion !== 'number') {
    throw new StoreError(`"${schemaKey}" holds no schema version: not a k8s-jobs store`, location);
  }
  if (meta?.schemaVersion !== undefined && meta.schemaVersion > storeSchemaVersion) {
    throw new StoreError(
      `the store was written by a newer k8s-jobs (schema v${meta.schemaVersion}; this version reads up to v${storeSchemaVersion})`,
      location,
    );
  }
  return meta;
}

/**
 * Accepts a fresh store or one written with this layout version, migrates an older one step by
 * step through `access.migrate` (then records the new version), and refuses a newer one with a
 * `StoreError`.
 */
export async function ensureSchema(access: SchemaAccess, location: string, openedAt: string): Promise<SchemaMeta> {
  const found = checkSchema(await access.read(schemaKey), location);
  for (let version = found?.schemaVersion ?? storeSchemaVersion; version < storeSchemaVersion; version++) {
    try {
      await access.migrate(version);
    } catch (err) {
      throw new StoreError(`migrating the store from schema v${version} to v${version + 1} failed`, location, {
        cause: err,
      });
    }
  }
  const meta: SchemaMeta = { schemaVersion: storeSchemaVersion, createdAt: found?.createdAt ?? openedAt, openedAt };
  await access.write(schemaKey, meta);
  return meta;
}
