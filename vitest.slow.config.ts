import { defineConfig } from 'vitest/config';

/** `npm run test:slow`: the long runs of `test/slow/` (minutes each), kept out of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/slow/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
