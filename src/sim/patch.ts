import { badRequest, ApiError } from './api-error.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export { applyMergePatch } from '../json/merge-patch.js';

/**
 * Strategic merge patch, to the extent kubectl uses it on Jobs and Pods: like a merge patch, but
 * lists of objects with a `name` (containers, env, volumes, ports) merge by that key, and
 * `$patch: delete` removes an entry.
 */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    const current = result[key];
    if (value === null) delete result[key];
    else if (
      Array.isArray(value) &&
      Array.isArray(current) &&
      value.every((v) => isObject(v) && typeof v['name'] === 'string')
    ) {
      const merged = current.map((item) => structuredClone(item) as unknown);
      for (const entry of value as Record<string, Json>[]) {
        const index = merged.findIndex((item) => isObject(item) && item['name'] === entry['name']);
        if (entry['$patch'] === 'delete') {
          if (index >= 0) merged.splice(index, 1);
        } else if (index >= 0) merged[index] = applyStrategicMergePatch(merged[index], entry);
        else merged.push(applyStrategicMergePatch(undefined, entry));
      }
      result[key] = merged;
    } else result[key] = applyStrategicMergePatch(current, value);
  }
  return result;
}

interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw badRequest(
      `the server rejected our request due to an error in our request: invalid JSON pointer "${pointer}"`,
    );
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(
  doc: unknown,
  tokens: string[],
  pointer: string,
): { parent: Record<string, unknown> | unknown[]; key: string } {
  let node: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node)) node = node[token];
    else node = undefined;
    if (node === undefined)
      throw new ApiError(
        422,
        'Invalid',
        `the server rejected our request due to an error in our request: doc is missing path: "${pointer}"`,
      );
  }
  if (!Array.isArray(node) && !isObject(node)) throw new ApiError(422, 'Invalid', `doc is missing path: "${pointer}"`);
  return { parent: node, key: tokens[tokens.length - 1] ?? '' };
}

function getAt(doc: unknown, pointer: string): unknown {
  let node: unknown = doc;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node)) node = node[token];
    else return undefined;
  }
  return node;
}

/** RFC 6902 JSON patch (`application/json-patch+json`). */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be an array of operations');
  let result = structuredClone(doc);
  for (const raw of ops as JsonPatchOp[]) {
    const tokens = parsePointer(raw.path);
    if (tokens.length === 0) {
      if (raw.op === 'add' || raw.op === 'replace') result = structuredClone(raw.value);
      continue;
    }
    const missing = () =>
      new ApiError(
        422,
        'Invalid',
        `the server rejected our request due to an error in our request: ${raw.op} operation does not apply: doc is missing path: "${raw.path}"`,
      );
    switch (raw.op) {
      case 'test': {
        if (JSON.stringify(getAt(result, raw.path)) !== JSON.stringify(raw.value)) {
          throw new ApiError(
            422,
            'Invalid',
            `the server rejected our request due to an error in our request: testing value ${raw.path} failed: test failed`,
          );
        }
        break;
      }
      case 'add':
      case 'replace':
      case 'remove':
      case 'move':
      case 'copy': {
        let value = raw.value;
        if (raw.op === 'move' || raw.op === 'copy') {
          value = structuredClone(getAt(result, raw.from ?? ''));
          if (value === undefined) throw missing();
          if (raw.op === 'move') result = applyJsonPatch(result, [{ op: 'remove', path: raw.from }]);
        }
        const { parent, key } = resolveParent(result, tokens, raw.path);
        if (Array.isArray(parent)) {
          const index = key === '-' ? parent.length : Number(key);
          if (!Number.isInteger(index) || index < 0 || index > parent.length) throw missing();
          if (raw.op === 'remove') {
            if (index >= parent.length) throw missing();
            parent.splice(index, 1);
          } else if (raw.op === 'replace') {
            if (index >= parent.length) throw missing();
            parent[index] = structuredClone(value);
          } else parent.splice(index, 0, structuredClone(value));
        } else {
          if ((raw.op === 'remove' || raw.op === 'replace') && !(key in parent)) throw missing();
          if (raw.op === 'remove') delete parent[key];
          else parent[key] = structuredClone(value);
        }
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${String((raw as { op?: unknown }).op)}`);
    }
  }
  return result;
}
