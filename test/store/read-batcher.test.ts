import { describe, expect, it } from 'vitest';
import { ReadBatcher } from '../../src/store/read-batcher.js';

/** A reader over a Map that records the keys of every call. */
function mapReader(values: Map<string, unknown>, fail?: (keys: readonly string[]) => Error | undefined) {
  const calls: string[][] = [];
  const readMany = async (keys: readonly string[]): Promise<Map<string, unknown>> => {
    calls.push([...keys]);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const error = fail?.(keys);
    if (error) throw error;
    return new Map(keys.filter((key) => values.has(key)).map((key) => [key, values.get(key)]));
  };
  return { calls, readMany };
}

describe('ReadBatcher', () => {
  it('answers the reads of one turn with one multi-key read, each with its own value', async () => {
    const { calls, readMany } = mapReader(
      new Map([
        ['a', 1],
        ['c', 3],
      ]),
    );
    const batcher = new ReadBatcher(readMany);
    const results = await Promise.all(['a', 'b', 'c', 'a'].map((key) => batcher.read(key)));
    expect(results).toEqual([1, undefined, 3, 1]);
    // 'a' asked twice, read once.
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('reads asked for while one is in flight go out together next, in batches of at most the limit', async () => {
    const values = new Map(Array.from({ length: 10 }, (_, i) => [`k${i}`, i] as const));
    const { calls, readMany } = mapReader(values);
    const batcher = new ReadBatcher(readMany, 4);
    const first = batcher.read('k0');
    await new Promise((resolve) => setImmediate(resolve));
    // k0 is in flight now.
    const rest = Array.from({ length: 9 }, (_, i) => batcher.read(`k${i + 1}`));
    expect(await Promise.all([first, ...rest])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(calls).toEqual([['k0'], ['k1', 'k2', 'k3', 'k4'], ['k5', 'k6', 'k7', 'k8'], ['k9']]);
  });

  it('a failed read rejects the reads it carried, and only those', async () => {
    const boom = new Error('disk I/O error');
    const { readMany } = mapReader(new Map([['ok', 'yes']]), (keys) => (keys.includes('bad') ? boom : undefined));
    const batcher = new ReadBatcher(readMany, 2);
    const reads = ['bad', 'x', 'ok'].map((key) => batcher.read(key));
    const settled = await Promise.allSettled(reads);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(settled[0]).toMatchObject({ reason: boom });
    expect(settled[2]).toMatchObject({ value: 'yes' });
  });

  it('drain() reads what is queued at once and resolves when nothing is left', async () => {
    const { calls, readMany } = mapReader(new Map([['a', 1]]));
    const batcher = new ReadBatcher(readMany);
    const read = batcher.read('a');
    await batcher.drain();
    expect(calls).toEqual([['a']]);
    expect(await read).toBe(1);
  });
});
