import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level (arrays keep their order: it is meaningful). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}

/**
 * The spec's fingerprint: sha256 (hex) of its canonical JSON, independent of key order. Put on
 * the Job as an annotation, it tells "our Job for this very spec" (adopt it on 409) from "a Job
 * with our name made from something else" (refuse).
 */
export function fingerprintSpec(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec), 'utf8').digest('hex');
}
