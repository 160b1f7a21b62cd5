import { test } from 'vitest';
import { describeFlood, expectBoundedFlood, runLogFlood, type FloodOptions } from '../helpers/log-flood.js';

/*
 * Issue 12, log flood, the full run (`npm run test:slow`): one container writes 1 GB of lines to
 * stdout (`yes … | head -c 1000000000`); the sim and the runner in processes of their own. Once
 * with the sim's heap capped (a sim that kept the output would die of it), once with V8's
 * defaults, for the figures the docs quote.
 */
for (const simMaxOldSpaceMiB of [192, undefined]) {
  test(`1 GB to stdout (sim heap ${simMaxOldSpaceMiB ? `capped at ${simMaxOldSpaceMiB} MiB` : 'uncapped'})`, async () => {
    const options: FloodOptions = {
      bytes: 1_000_000_000,
      line: 'flood line 0123456789 0123456789',
      simMaxOldSpaceMiB,
      timeoutMs: 600_000,
    };
    const figures = await runLogFlood(options);
    console.log(describeFlood(options, figures));
    expectBoundedFlood(options, figures);
  }, 900_000);
}
