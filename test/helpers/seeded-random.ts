/**
 * A linear congruential generator: the same sequence from the same seed, so a randomised test
 * fails the same way every run. Returns integers in [0, n).
 */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}
