import { test } from 'vitest';
import { describeFlood, expectBoundedFlood, runLogFlood, type FloodOptions } from '../helpers/log-flood.js';

/*
 * A pod floods stdout (issue 12), shortened to 120 MB here; the full 1 GB is
 * `test/slow/log-flood.test.ts`. The sim (`k8s-jobs sim`, process runtime) and the runner run in
 * processes of their own, so each one's peak RSS is its own; see `expectBoundedFlood` for what
 * must hold. The size is chosen so that the current log file at the end (what the final
 * snapshot reads) holds more than the 1 MiB cap: 120 MB of 33-byte lines is 25 rotations of
 * 143,641 lines (73 bytes each in the CRI file) and 45,338 lines (1.5 MB) in the last file;
 * 100 MB would leave 456 KB, stored whole.
 */
test('120 MB to stdout: runner under 200 MB, sim bounded, snapshot capped, slow subscriber bounded', async () => {
  const options: FloodOptions = {
    bytes: 120_000_000,
    line: 'flood line 0123456789 0123456789',
    simMaxOldSpaceMiB: 192,
    timeoutMs: 120_000,
  };
  const figures = await runLogFlood(options);
  console.log(describeFlood(options, figures));
  expectBoundedFlood(options, figures);
}, 180_000);
