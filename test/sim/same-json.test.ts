import { describe, expect, it } from 'vitest';
import { sameJson } from '../../src/sim/object-store.js';

/** Pairs of JSON-like values; sameJson must say what comparing their JSON text says. */
const pairs: Array<[unknown, unknown]> = [
  [
    { a: 1, b: [1, 2, { c: 'x' }] },
    { a: 1, b: [1, 2, { c: 'x' }] },
  ],
  [
    { a: 1, b: 2 },
    { b: 2, a: 1 },
  ],
  [{ a: 1, skipped: undefined }, { a: 1 }],
  [
    { skipped: undefined, a: 1 },
    { a: 1, other: undefined },
  ],
  [{ a: undefined }, {}],
  [{ a: 1 }, { a: 1, b: null }],
  [
    [1, 2],
    [1, 2, 3],
  ],
  [[], {}],
  [{ 0: 'a' }, ['a']],
  [{ status: { conditions: [{ type: 'Complete', status: 'True' }] } }, { status: { conditions: [] } }],
  [{ a: [{ b: [{ c: 1 }] }] }, { a: [{ b: [{ c: 2 }] }] }],
  ['x', 'x'],
  [0, -0],
  [null, null],
  [null, {}],
  [{ a: 'x' }, { a: 'x ' }],
];

describe('sameJson', () => {
  it.each(pairs)('%j vs %j: the same answer as comparing JSON.stringify', (a, b) => {
    expect(sameJson(a, b)).toBe(JSON.stringify(a) === JSON.stringify(b));
    expect(sameJson(b, a)).toBe(JSON.stringify(a) === JSON.stringify(b));
  });
});
