import { seededRandom } from '../../src/sim/seeded-random.js';

/**
 * Integers in [0, n) from the sim's seedable generator: the same sequence from the same seed, so
 * a randomised test fails the same way every run.
 */
export function seededInts(seed: number): (n: number) => number {
  const random = seededRandom(seed);
  return (n) => Math.floor(random() * n);
}
