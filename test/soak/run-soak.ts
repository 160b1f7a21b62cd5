/**
 * `npm run soak`: the full fault soak (1,000 tasks, 20 SIGKILLs of the runner; `SOAK_TASKS`,
 * `SOAK_KILLS` and `SOAK_SEED` override), its progress on stderr and its summary table on stdout.
 * Exits 1 when any check failed, listing what.
 */
import { useTestEntries } from '../helpers/test-entries.js';
import { runSoak } from './soak.js';
import { summaryTable } from './summary-table.js';

const tasks = Number(process.env.SOAK_TASKS ?? 1000);
const kills = Number(process.env.SOAK_KILLS ?? 20);
process.stderr.write(`fault soak: ${tasks} tasks, ${kills} SIGKILLs of the runner\n`);
// The runner processes run bundled, as in the tests (test/helpers/test-entries.ts).
const entries = await useTestEntries();
const summary = await runSoak({ tasks, kills, progress: (line) => process.stderr.write(`${line}\n`) }).finally(() =>
  entries.remove(),
);
process.stdout.write(`${summaryTable(summary)}\n`);
if (summary.problems.length > 0) {
  process.stderr.write(`\n${summary.problems.length} problems:\n${summary.problems.map((p) => `- ${p}`).join('\n')}\n`);
  process.stderr.write(`the store is kept: ${summary.keptStore}\n`);
  process.exitCode = 1;
}
