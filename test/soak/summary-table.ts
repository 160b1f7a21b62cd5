/**
 * The soak's summary as a Markdown table: readable on a terminal, and pasted as is into
 * docs/crash-safety.md.
 */
import type { SoakSummary } from './soak.js';

/** One row per figure of `summary`. */
export function summaryTable(summary: SoakSummary): string {
  const { faults: f, outcomes: o, ceiling, worstWindow: w } = summary;
  const rows: [string, string][] = [
    [
      'tasks',
      `${summary.tasks} (${o.succeeded} succeeded, ${o.failed} failed, ${o.timedOut} timed out, ${o.cancelled} cancelled)`,
    ],
    ['runner SIGKILLs', `${summary.kills} (${summary.launches} launches)`],
    ['requests answered', String(summary.requests)],
    ['faults: 500 / 503', `${f.http500} / ${f.http503}`],
    ['faults: 429 + Retry-After', String(f.http429)],
    ['faults: connection resets (before / after the API applied)', `${f.resetsBefore} / ${f.resetsAfter}`],
    ['faults: watches dropped (every 2 s)', String(f.watchesDropped)],
    [`faults: 410 Expired (forced every ${summary.expireWatchesEveryMs / 1000} s)`, String(f.watchesExpired)],
    ['duplicate Jobs (by uid)', String(summary.duplicates)],
    ['orphan Jobs', String(summary.orphans)],
    [
      'most requests of one runner in 1 s (sim stamps)',
      `${summary.busiestSecond}, ceiling ${ceiling.burst} + ${ceiling.qps}/s × (1 s + ${Math.round(summary.slackMs)} ms stall slack) = ${Math.floor(ceiling.burst + (ceiling.qps * (1000 + summary.slackMs)) / 1000)}`,
    ],
    [
      'closest window to burst + qps·T',
      `${w.count} requests in ${w.spanMs} ms, ${(-w.excess).toFixed(1)} under (slack ${Math.round(w.slackMs)} ms)`,
    ],
    ['problems', String(summary.problems.length)],
    ['wall time', `${(summary.wallMs / 1000).toFixed(1)} s`],
  ];
  return ['| figure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}
