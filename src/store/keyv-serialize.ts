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

/** Serializes `{ value }` exactly as `keyv.serializeData` would, given a plain JSON value. */
export type ValueSerializer = (value: unknown) => Promise<string>;

/**
 * The fast equivalent when `keyv` uses the default serializer and no compression, else the
 * instance's own (custom serializers and compression keep working, at their own speed).
 */
export function keyvValueSerializer(keyv: Keyv): ValueSerializer {
  if (keyv.serialize === keyvDefaultSerialize && !keyv.opts.compression) {
    return async (value) => JSON.stringify({ value }, escapeColonStrings);
  }
  return async (value) => {
    const serialized = await keyv.serializeData({ value, expires: undefined });
    if (typeof serialized !== 'string')
      throw new TypeError(`the Keyv serializer produced a ${typeof serialized}, @keyv/sqlite stores strings`);
    return serialized;
  };
}
