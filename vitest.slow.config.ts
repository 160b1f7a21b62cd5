import { defineConfig } from 'vitest/config';

/** `npm run test:slow`: the long runs of `test/slow/` (minutes each), kept out of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/slow/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 60_000,
    // Bundles the programs tests run as child processes (test/helpers/test-entries.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    reporters: ['default'],
  },
});
