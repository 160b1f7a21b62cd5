/**
 * The demo's closing table: for each task its expected and actual outcome, the reason or exit
 * code, how long it waited in the queue and how long it was active (from leaving the queue to
 * its outcome: creating the Job, pulling, running).
 */
import type { TaskRecord } from '../types.js';
import { describeExpected, matchesExpected, type DemoTask } from './demo-scenario.js';
import type { DemoTracker } from './demo-tracker.js';
import { formatDuration, reasonOf } from './format.js';
import { renderTable } from './table.js';

/** One finished demo task: what was expected, what its record says. */
export interface DemoResult {
  demo: DemoTask;
  record: TaskRecord;
}

/** The summary table (a `✔`/`✘ unexpected` column says whether each outcome is the expected one). */
export function renderSummary(results: readonly DemoResult[], tracker: DemoTracker): string {
  const rows = results.map(({ demo, record }) => {
    const tracked = tracker.get(record.id);
    const wait =
      tracked?.queuedAt !== undefined && tracked.dequeuedAt !== undefined
        ? tracked.dequeuedAt - tracked.queuedAt
        : undefined;
    // From the transitions (ms precision), not the record's startedAt: Kubernetes' startTime has whole seconds.
    const run =
      tracked?.dequeuedAt !== undefined && tracked.finishedAt !== undefined
        ? tracked.finishedAt - tracked.dequeuedAt
        : undefined;
    return [
      record.id,
      record.outcome ?? record.state,
      reasonOf(record) || '—',
      formatDuration(wait),
      formatDuration(run),
      matchesExpected(record, demo.expected) ? '✔' : `✘ expected ${describeExpected(demo.expected)}`,
    ];
  });
  return renderTable(['TASK', 'OUTCOME', 'REASON / EXIT CODE', 'QUEUE WAIT', 'RUN DURATION', 'AS EXPECTED'], rows);
}

/** The one command line that opens the demo's store in the dashboard (the last line the demo prints). */
export function dashboardCommandLine(store: string): string {
  return `k8s-jobs dashboard --store ${store}`;
}
