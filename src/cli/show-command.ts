import { Command } from 'commander';
import type { TaskRecord, Transition } from '../types.js';
import { CliUsageError, reportErrors } from './fail.js';
import { between, formatDuration, reasonOf } from './format.js';
import { storeOption, withStore } from './store-option.js';
import { renderFields, renderTable } from './table.js';

/** Options of `k8s-jobs show`. */
export interface ShowOptions {
  store: string;
  json?: boolean;
}

/** The record's fields worth reading, in lifecycle order (absent ones left out). */
function fieldsOf(record: TaskRecord): Array<[string, string]> {
  const { spec, failure } = record;
  const fields: Array<[string, string | undefined]> = [
    ['id', record.id],
    ['state', record.state],
    ['outcome', record.outcome],
    ['reason', failure ? reasonOf(record) : undefined],
    ['message', failure?.message],
    ['image', spec.image],
    ['command', spec.command ? JSON.stringify([...spec.command, ...(spec.args ?? [])]) : undefined],
    ['timeout', spec.timeout !== undefined ? `${spec.timeout}s` : undefined],
    ['priority', spec.priority !== undefined ? String(spec.priority) : undefined],
    ['job', record.jobName],
    ['attempt', record.attempt !== undefined ? String(record.attempt) : undefined],
    ['waiting for', record.waitingFor ? `${record.waitingFor} until ${record.waitingUntil ?? '?'}` : undefined],
    ['retries', record.retries?.map(retryLine).join('\n')],
    ['created', record.createdAt],
    ['started', record.startedAt],
    ['finished', record.finishedAt],
    ['deleted', record.deletedAt],
    ['cleanup error', record.cleanupError],
    ['pod', failure?.podName],
    ['node', failure?.nodeName],
    ['container', failure?.container],
    ['exit code', failure?.exitCode !== undefined ? String(failure.exitCode) : undefined],
    ['termination', failure?.terminationReason],
    ['termination message', failure?.terminationMessage],
    ['container ran', failure?.startedAt ? `${failure.startedAt} → ${failure.finishedAt ?? '?'}` : undefined],
    ['logs', record.logs?.lost ? `lost: ${record.logs.reason}` : undefined],
    ['last log lines', failure?.lastLogLines?.join('\n')],
    ['events', failure?.events?.join('\n')],
  ];
  return fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
}

/** One retry as a line: when, why, what was done, where, what Kubernetes said. */
function retryLine(r: NonNullable<TaskRecord['retries']>[number]): string {
  const where = [r.podName && `pod ${r.podName}`, r.nodeName && `node ${r.nodeName}`].filter(Boolean).join(', ');
  const memory = r.memory ? `, next memory ${r.memory}` : '';
  return `${r.at} ${r.reason} (attempt ${r.attempt}, Job ${r.jobName}, ${r.action}${memory})${where ? ` ${where}` : ''}: ${r.message}`;
}

/** The timeline: each transition with its time and the time since the task was created. */
function timeline(record: TaskRecord, transitions: Transition[]): string {
  return renderTable(
    ['TIME (UTC)', 'SINCE CREATED', 'FROM', 'TO', 'EVENT'],
    transitions.map((t) => [
      t.at,
      `+${formatDuration(between(record.createdAt, t.at))}`,
      t.from ?? '—',
      t.to,
      t.retry ? `${t.event} (retry: ${t.retry.reason})` : t.event,
    ]),
  );
}

/** The record of task `id` and its transitions, as tables or as `{ record, transitions }` JSON. */
export async function runShow(id: string, options: ShowOptions): Promise<void> {
  const found = await withStore(options.store, async (store) => {
    const record = await store.getTask(id);
    return record ? { record, transitions: await store.getTransitions(id) } : undefined;
  });
  if (!found) throw new CliUsageError(`no task "${id}" in the store ${options.store}`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `${renderFields(fieldsOf(found.record))}\nTimeline:\n${timeline(found.record, found.transitions)}\n`,
  );
}

/** `k8s-jobs show ID [--store URL] [--json]`. */
export function showCommand(): Command {
  return new Command('show')
    .description("show a task's record and its timeline of transitions, from the store (works while a runner uses it)")
    .argument('<id>', 'the task id')
    .addOption(storeOption())
    .option('--json', 'print { record, transitions } as JSON')
    .addHelpText('after', '\nExit codes: 0 shown, 1 no such task or the store cannot be read.')
    .action(reportErrors((id: string, options: ShowOptions) => runShow(id, options)));
}
