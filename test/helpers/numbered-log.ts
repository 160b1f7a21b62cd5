import { expect } from 'vitest';
import type { ContainerBehaviour } from '../../src/sim/index.js';

/**
 * A container log for tests of following through rotation: `count` numbered lines, one a
 * millisecond, then `END`. With the kubelet's `containerLogMaxSize` at 8 KiB the 950 default
 * lines (about 90 KB in the CRI file) rotate about ten times while they are written.
 */
export function numberedLog(count = 950): ContainerBehaviour {
  return {
    durationMs: count + 100,
    logs: [
      ...Array.from({ length: count }, (_, i) => ({ line: numberedLine(i), afterMs: i + 1 })),
      { line: 'END', afterMs: count + 50 },
    ],
  };
}

/** Line `i` of `numberedLog` (51 bytes with its newline). */
export const numberedLine = (i: number): string => `line ${String(i).padStart(4, '0')} ${'x'.repeat(40)}`;

/**
 * The lines are `numberedLog`'s, none twice, `END` once and last (a follower may skip what rotated
 * away; the order of lines a few ms apart is the timers', which a late event loop may swap).
 */
export function expectNumberedOnce(lines: readonly string[]): void {
  expect(lines.every((line) => line === 'END' || /^line \d{4} x{40}$/.test(line))).toBe(true);
  expect(new Set(lines).size).toBe(lines.length);
  expect(lines.indexOf('END')).toBe(lines.length - 1);
}
