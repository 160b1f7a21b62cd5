import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/collections/bounded-cache.js';
import { heapAfterGc } from '../helpers/heap.js';
import { seededInts } from '../helpers/seeded-ints.js';

/** The heap after a full collection, in MB, once `churn` has run, for each of `rounds` runs. */
function heapAfter(rounds: number, churn: () => void): number[] {
  return Array.from({ length: rounds }, () => {
    churn();
    return heapAfterGc();
  });
}

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
    const random = seededInts(7);
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

  /*
   * A live Map iterator keeps every table V8 rehashes the map into until it steps again. Before
   * the cache dropped an iterator no eviction moves, both runs below grew the heap by about 5 MB
   * per round (55 bytes per change); now they stay within a fraction of one.
   */
  it('holds no more memory however long it changes without evicting', () => {
    const underCapacity = new BoundedCache<string, number>(1000);
    for (let i = 0; i <= 1000; i++) underCapacity.set(`k${i}`, i); // one eviction: an iterator exists
    underCapacity.delete('k500');
    let n = 0;
    const belowCapacity = heapAfter(4, () => {
      for (let i = 0; i < 100_000; i++, n++) {
        underCapacity.set(`x${n}`, n);
        underCapacity.delete(`x${n}`);
      }
    });
    expect(belowCapacity[3]! - belowCapacity[0]!, belowCapacity.join(', ')).toBeLessThan(1);

    const full = new BoundedCache<string, number>(1000);
    for (let i = 0; i <= 1000; i++) full.set(`k${i}`, i);
    const touchedOnly = heapAfter(4, () => {
      for (let i = 0; i < 100_000; i++) full.get(`k${(i % 1000) + 1}`);
    });
    expect(touchedOnly[3]! - touchedOnly[0]!, touchedOnly.join(', ')).toBeLessThan(1);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new BoundedCache(0)).toThrow(RangeError);
    expect(() => new BoundedCache(1.5)).toThrow('capacity must be a positive integer, got 1.5');
  });
});
