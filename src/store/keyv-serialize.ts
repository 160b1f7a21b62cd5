/**
 * Keyv's value format, produced fast. Keyv's default serializer (`@keyv/serialize`) is JSON with
 * two twists: a string value starting with `:` gets one more `:` (its deserializer strips one), and
 * Buffers become `:base64:…`. It is written in JavaScript, by string concatenation: measured here it
 * costs ~3× `JSON.stringify` and most of the garbage of a write-heavy run (it halved `saveTask`
 * throughput). For plain JSON values — which is all the task store writes: records, transitions,
 * log snapshots, no Buffers — `JSON.stringify` with a replacer doing the `:` escape produces the
 * very same text (a test compares both).
 */
import Keyv from 'keyv';

/** The serializer a Keyv instance has unless given another (same function for every instance of this Keyv copy). */
const keyvDefaultSerialize = new Keyv().serialize;

const escapeColonStrings = (_key: string, value: unknown): unknown =>
  typeof value === 'string' && value.startsWith(':') ? `:${value}` : value;

/**
 * Whether a string starting with `:` is anywhere in `value` (a plain JSON value). Walking the
 * value first and then calling `JSON.stringify` without a replacer is ~1.6× faster than always
 * passing the replacer (V8's fast path skips any replacer), and such strings are rare.
 */
function hasColonString(value: unknown): boolean {
  if (typeof value === 'string') return value.startsWith(':');
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasColonString);
  // `for…in` rather than `Object.keys`: no array of keys per object walked (a quarter of a
  // kilobyte per `addTask`). The values are plain JSON objects: no inherited enumerable keys.
  for (const key in value) if (hasColonString((value as Record<string, unknown>)[key])) return true;
  return false;
}

/**
 * Serializes `{ value }` exactly as `keyv.serializeData` would, given a plain JSON value: at once
 * on the fast path (no promise per row), else through the instance's own serializer.
 */
export type ValueSerializer = (value: unknown) => string | Promise<string>;

/**
 * The fast equivalent when `keyv` uses the default serializer and no compression, else the
 * instance's own (custom serializers and compression keep working, at their own speed).
 */
export function keyvValueSerializer(keyv: Keyv): ValueSerializer {
  if (keyv.serialize === keyvDefaultSerialize && !keyv.opts.compression) {
    return (value) =>
      hasColonString(value) ? JSON.stringify({ value }, escapeColonStrings) : JSON.stringify({ value });
  }
  return async (value) => {
    const serialized = await keyv.serializeData({ value, expires: undefined });
    if (typeof serialized !== 'string')
      throw new TypeError(`the Keyv serializer produced a ${typeof serialized}, @keyv/sqlite stores strings`);
    return serialized;
  };
}
