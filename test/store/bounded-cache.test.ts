import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/store/bounded-cache.js';

/** The same LRU as an array, least recently used first: what the cache must match after every step. */
class ReferenceLru {
  readonly order: Array<[string, number]> = [];
  constructor(readonly capacity: number) {}
  get(key: string): number | undefined {
    const at = this.order.findIndex(([k]) => k === key);
    if (at < 0) return undefined;
    const [entry] = this.order.splice(at, 1);
    this.order.push(entry as [string, number]);
    return entry?.[1];
  }
  set(key: string, value: number): void {
    const at = this.order.findIndex(([k]) => k === key);
    if (at >= 0) this.order.splice(at, 1);
    this.order.push([key, value]);
    if (this.order.length > this.capacity) this.order.shift();
  }
  delete(key: string): void {
    const at = this.order.findIndex(([k]) => k === key);
    if (at >= 0) this.order.splice(at, 1);
  }
}

describe('BoundedCache', () => {
  it('evicts the least recently used; get refreshes an entry, peek does not', () => {
    const cache = new BoundedCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    expect(cache.peek('b')).toBe(2);
    cache.set('d', 4);
    expect([...cache.values()]).toEqual([3, 1, 4]);
    cache.set('e', 5);
    expect(cache.has('c')).toBe(false);
    cache.delete('a');
    cache.set('f', 6);
    cache.set('g', 7);
    expect([...cache.values()]).toEqual([5, 6, 7]);
    cache.clear();
    expect(cache.size).toBe(0);
    cache.set('h', 8);
    cache.set('i', 9);
    cache.set('j', 10);
    cache.set('k', 11);
    expect([...cache.values()]).toEqual([9, 10, 11]);
  });

  it('matches a plain LRU over 20,000 mixed operations (evictions resume where the last one stopped)', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (const capacity of [1, 2, 50]) {
      const cache = new BoundedCache<string, number>(capacity);
      const reference = new ReferenceLru(capacity);
      for (let step = 0; step < 20_000; step++) {
        const key = `k${random(capacity * 3)}`;
        const op = random(10);
        if (op < 5) {
          cache.set(key, step);
          reference.set(key, step);
        } else if (op < 8) {
          expect(cache.get(key)).toBe(reference.get(key));
        } else if (op < 9) {
          cache.delete(key);
          reference.delete(key);
        } else if (random(50) === 0) {
          cache.clear();
          reference.order.length = 0;
        }
        expect([...cache.values()]).toEqual(reference.order.map(([, value]) => value));
      }
    }
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new BoundedCache(0)).toThrow(RangeError);
    expect(() => new BoundedCache(1.5)).toThrow('capacity must be a positive integer, got 1.5');
  });
});
