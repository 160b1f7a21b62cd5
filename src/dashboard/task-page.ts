/**
 * One task's page: its summary, timeline to scale with every transition's time, the failure's
 * diagnostics, the task machine's diagram with its state highlighted, its spec as stored (secrets
 * are only ever references there), and its log (outside the live region: the client script tails it).
 */
import type { TaskFailure, TaskRecord, TaskRetry, Transition } from '../types.js';
import { between, formatDuration, queueWait, reasonOf, runTime, waitingOf } from './format.js';
import { html, type Html } from './html.js';
import { machineDiagram } from './machine-diagram.js';
import { timelineSvg } from './timeline-svg.js';

/** What the task page shows. */
export interface TaskView {
  base: string;
  record: TaskRecord;
  transitions: Transition[];
  now: number;
  /** The action forms, when actions are on (`actions.ts`). */
  actions?: Html;
}

function fields(pairs: Array<[string, string | number | undefined]>): Html {
  const kept = pairs.filter((p): p is [string, string | number] => p[1] !== undefined && p[1] !== '');
  return html`<dl class="fields">
    ${kept.map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd>${v}</dd>`,
    )}
  </dl>`;
}

/**
 * Queue wait and run time from the transitions (millisecond times) when they are at hand: leaving
 * `queued` for the last time, and from `running` to the outcome; else from the record's times
 * (Kubernetes' start time has whole seconds).
 */
function durations(record: TaskRecord, transitions: readonly Transition[], now: number): [string, string] {
  const left = transitions.findLast((t) => t.from === 'queued');
  const running = transitions.find((t) => t.to === 'running');
  const ended = transitions.find((t) => t.outcome !== undefined && t.from === 'running' && t.to !== 'running');
  const wait = left ? between(record.createdAt, left.at) : queueWait(record, now);
  const run = running
    ? ended
      ? between(running.at, ended.at)
      : record.outcome
        ? undefined
        : now - Date.parse(running.at)
    : runTime(record, now);
  return [formatDuration(wait), formatDuration(run)];
}

function summary(record: TaskRecord, transitions: readonly Transition[], now: number): Html {
  const [wait, run] = durations(record, transitions, now);
  return fields([
    ['state', record.state],
    ['outcome', record.outcome],
    ['reason', reasonOf(record)],
    ['job', record.jobName],
    ['attempt', record.attempt],
    ['created', record.createdAt],
    ['started', record.startedAt],
    ['finished', record.finishedAt],
    ['deleted', record.deletedAt],
    ['queue wait', wait],
    ['run time', run],
    ['cleanup error', record.cleanupError],
    ['logs', record.logs?.lost ? `lost: ${record.logs.reason}` : undefined],
    ['waiting', waitingOf(record)],
  ]);
}

function failureOf(failure: TaskFailure | undefined): Html {
  if (!failure) return html``;
  const lines = (title: string, list: string[] | undefined): Html =>
    list?.length
      ? html`<h3>${title}</h3>
          <pre class="block">${list.join('\n')}</pre>`
      : html``;
  return html`<section class="failure" aria-labelledby="failure-h">
    <h2 id="failure-h">Why it failed</h2>
    ${fields([
      ['reason', failure.reason],
      ['message', failure.message],
      ['exit code', failure.exitCode],
      ['OOM killed', failure.oomKilled ? 'yes' : undefined],
      ['pod', failure.podName],
      ['node', failure.nodeName],
      ['container', failure.container],
      ['termination', failure.terminationReason],
      ['termination message', failure.terminationMessage],
      ['container ran', failure.startedAt ? `${failure.startedAt} → ${failure.finishedAt ?? '?'}` : undefined],
    ])}
    ${lines('Last log lines', failure.lastLogLines)} ${lines('Kubernetes events', failure.events)}
  </section>`;
}

/** Every retry and quota wait on the record, oldest first, with what Kubernetes said. */
function retriesOf(retries: readonly TaskRetry[] | undefined): Html {
  if (!retries?.length) return html``;
  return html`<section aria-labelledby="retries-h">
    <h2 id="retries-h">Retries</h2>
    <table class="retries">
      <caption>
        ${retries.length} ${retries.length === 1 ? 'retry' : 'retries'}, oldest first
      </caption>
      <thead>
        <tr>
          <th scope="col">Time (UTC)</th>
          <th scope="col">Reason</th>
          <th scope="col">Attempt</th>
          <th scope="col">Job</th>
          <th scope="col">Action</th>
          <th scope="col">Pod / node</th>
          <th scope="col">Memory</th>
          <th scope="col">Message</th>
        </tr>
      </thead>
      <tbody>
        ${retries.map(
          (r) =>
            html`<tr data-retry="${r.reason}">
              <td>${r.at.slice(11, 23)}</td>
              <td>${r.reason}</td>
              <td>${r.attempt}</td>
              <td>${r.jobName}</td>
              <td>${r.action === 'podReplaced' ? 'pod replaced by the Job' : 'new Job'}</td>
              <td>${[r.podName, r.nodeName].filter(Boolean).join(' / ') || '—'}</td>
              <td>${r.memory ?? '—'}</td>
              <td>${r.message}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function timelineTable(record: TaskRecord, transitions: readonly Transition[]): Html {
  return html`<table class="transitions">
    <caption>
      Transitions
    </caption>
    <thead>
      <tr>
        <th scope="col">Time (UTC)</th>
        <th scope="col">Since created</th>
        <th scope="col">From</th>
        <th scope="col">To</th>
        <th scope="col">Event</th>
      </tr>
    </thead>
    <tbody>
      ${transitions.map(
        (t) =>
          html`<tr>
            <td>${t.at.slice(11, 23)}</td>
            <td>+${formatDuration(between(record.createdAt, t.at))}</td>
            <td>${t.from ?? '—'}</td>
            <td>${t.to}</td>
            <td>${t.event}${t.retry ? ` (retry: ${t.retry.reason})` : ''}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** The task page's `#live` region. */
export function taskLive(view: TaskView): Html {
  const { record, transitions, now } = view;
  return html`<div class="task-top">${summary(record, transitions, now)} ${view.actions ?? ''}</div>
    ${failureOf(record.failure)} ${retriesOf(record.retries)}
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      ${timelineSvg(transitions, now)} ${timelineTable(record, transitions)}
    </section>
    <section aria-labelledby="machine-h">
      <h2 id="machine-h">Task machine</h2>
      ${machineDiagram(record.state)}
    </section>`;
}

/** Below the live region: the spec as stored and the log (tailed by the client script while it runs). */
export function taskStatic(record: TaskRecord, log: string): Html {
  return html`<section aria-labelledby="log-h">
      <h2 id="log-h">Log</h2>
      <pre id="log" class="block log" tabindex="0" data-state="${record.state}">${log}</pre>
    </section>
    <section aria-labelledby="spec-h">
      <h2 id="spec-h">Spec (as stored)</h2>
      <pre class="block" tabindex="0">${JSON.stringify(record.spec, null, 2)}</pre>
    </section>`;
}
