import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { keyvValueSerializer } from '../../src/store/keyv-serialize.js';
import type { TaskFailure } from '../../src/types.js';
import { record, transition } from './task-store-contract.js';

/** Plain JSON values of every shape the store writes, with the strings Keyv escapes. */
const values: unknown[] = [
  {
    schemaVersion: 1,
    updatedAt: '2026-01-01T00:00:00.000Z',
    record: record('a:b', 'failed', {
      failure: {
        reason: ':x' as TaskFailure['reason'],
        message: '::y',
        lastLogLines: [':', '', ':base64:QQ==', 'ünïcødé ✓ \u2028 "quoted" \\ back'],
      },
    }),
  },
  {
    schemaVersion: 1,
    updatedAt: 'now',
    transitions: [transition('t', null, 'queued'), transition('t', 'queued', 'creating')],
  },
  // No string starting with ':' anywhere: the path without a replacer.
  { schemaVersion: 1, updatedAt: 'now', record: record('plain', 'running'), context: { slotHeld: true } },
  { 'key:': 'value:', nested: [['a:'], { deep: [null, 0, ' :', 'x'] }] },
  { ':key': ':value', nested: [[':a'], { deep: [null, 0, -1.5e-7, true, false, ''] }], skipped: undefined },
  ':top-level string',
  'plain',
  42,
  null,
  [],
  {},
];

describe('keyvValueSerializer()', () => {
  it("writes exactly what Keyv's own default serializer writes, for every plain JSON shape", async () => {
    const keyv = new Keyv();
    const serialize = keyvValueSerializer(keyv);
    for (const value of values) {
      expect(await serialize(value)).toBe(await keyv.serializeData({ value, expires: undefined }));
    }
  });

  it("uses the instance's own serializer when it has a custom one", async () => {
    const keyv = new Keyv({ serialize: (data) => `custom:${JSON.stringify(data)}` });
    expect(await keyvValueSerializer(keyv)({ a: 1 })).toBe('custom:{"value":{"a":1}}');
  });
});
