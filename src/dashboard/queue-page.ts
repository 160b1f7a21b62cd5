/**
 * The queue page: counts per state and outcome, the last hour's chart, and the tasks, newest first,
 * filtered by state, outcome, reason or id, paged with `listTasks` cursors.
 */
import { taskFailureReasons } from '../failure-reasons.js';
import { taskStates, type TaskRecord } from '../types.js';
import { lastHourChart } from './chart-svg.js';
import type { FoundTasks, TaskFilters } from './find-tasks.js';
import { formatDuration, queueWait, reasonOf, runTime, waitingOf } from './format.js';
import { html, type Html } from './html.js';
import { outcomes, type Count, type MinuteBucket, type QueueCounts } from './queue-stats.js';

/** What the queue page shows. */
export interface QueueView {
  base: string;
  counts: QueueCounts;
  buckets: MinuteBucket[];
  filters: TaskFilters;
  found: FoundTasks;
  now: number;
}

const shown = (c: Count | undefined): string => (c ? `${c.capped ? '≥ ' : ''}${c.n}` : '0');

function filterLink(base: string, query: Record<string, string>, label: string, count: Count | undefined): Html {
  return html`<a href="${base}/?${new URLSearchParams(query).toString()}"
    >${label} <span class="count">${shown(count)}</span></a
  >`;
}

function countsOf(base: string, counts: QueueCounts): Html {
  return html`<nav class="counts" aria-label="Tasks per state and outcome">
    <ul>
      ${taskStates.map((s) => html`<li class="state-${s}">${filterLink(base, { state: s }, s, counts.byState.get(s))}</li>`)}
    </ul>
    <ul>
      ${outcomes.map(
        (o) =>
          html`<li class="outcome-${o}">
            ${filterLink(base, { state: 'deleted', outcome: o }, o, counts.byOutcome.get(o))}
          </li>`,
      )}
    </ul>
  </nav>`;
}

function option(value: string, selected: string | undefined, label = value || 'any'): Html {
  return html`<option value="${value}" ${value === (selected ?? '') ? 'selected' : ''}>${label}</option>`;
}

function filterForm(base: string, filters: TaskFilters): Html {
  return html`<form class="filters" method="get" action="${base}/" role="search">
    <label
      >State
      <select name="state">
        ${['', ...taskStates].map((s) => option(s, filters.state))}
      </select></label
    >
    <label
      >Outcome
      <select name="outcome">
        ${['', ...outcomes].map((o) => option(o, filters.outcome))}
      </select></label
    >
    <label
      >Reason
      <select name="reason">
        ${['', ...taskFailureReasons].map((r) => option(r, filters.reason))}
      </select></label
    >
    <label>Id <input type="search" name="q" value="${filters.q ?? ''}" placeholder="task id" /></label>
    <button type="submit">Filter</button>
  </form>`;
}

function row(base: string, record: TaskRecord, now: number): Html {
  return html`<tr data-task="${record.id}" class="state-${record.state}">
    <td><a href="${base}/tasks/${encodeURIComponent(record.id)}">${record.id}</a></td>
    <td class="cell-state">${record.state}</td>
    <td>${record.outcome ?? '—'}</td>
    <td>${reasonOf(record) || waitingOf(record) || '—'}</td>
    <td>${record.createdAt.replace('T', ' ').slice(0, 19)}</td>
    <td>${formatDuration(queueWait(record, now))}</td>
    <td>${formatDuration(runTime(record, now))}</td>
  </tr>`;
}

function table(view: QueueView): Html {
  const { base, found, filters, now } = view;
  if (found.items.length === 0) return html`<p class="empty">No task matches.</p>`;
  const next = found.nextCursor
    ? html`<a
        rel="next"
        href="${base}/?${new URLSearchParams({
          ...(Object.fromEntries(Object.entries(filters).filter(([k, v]) => k !== 'cursor' && v)) as Record<
            string,
            string
          >),
          cursor: found.nextCursor,
        }).toString()}"
        >Older tasks →</a
      >`
    : '';
  return html`<table class="tasks">
      <caption>
        Tasks, newest first${found.scanned ? html` (searched the newest ${found.scanned})` : ''}
      </caption>
      <thead>
        <tr>
          <th scope="col">Task</th>
          <th scope="col">State</th>
          <th scope="col">Outcome</th>
          <th scope="col">Reason</th>
          <th scope="col">Created (UTC)</th>
          <th scope="col">Queue wait</th>
          <th scope="col">Run time</th>
        </tr>
      </thead>
      <tbody>
        ${found.items.map((r) => row(base, r, now))}
      </tbody>
    </table>
    <p class="pager">${filters.cursor ? html`<a href="${base}/">← Newest</a> ` : ''}${next}</p>`;
}

/** The queue page's filter form (outside the live region: a refresh must not reset what is being typed). */
export function queueFilters(view: Pick<QueueView, 'base' | 'filters'>): Html {
  return filterForm(view.base, view.filters);
}

/** The queue page's `#live` region. */
export function queueLive(view: QueueView): Html {
  return html`${countsOf(view.base, view.counts)}
    <h2>Last hour</h2>
    ${lastHourChart(view.buckets)}
    <h2>Tasks</h2>
    ${table(view)}`;
}
