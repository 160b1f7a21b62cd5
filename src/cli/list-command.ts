import { Command, Option } from 'commander';
import { taskStates, type TaskRecord, type TaskState } from '../types.js';
import { reportErrors } from './fail.js';
import { between, formatDuration, reasonOf } from './format.js';
import { storeOption, withStore } from './store-option.js';
import { renderTable } from './table.js';

/** Options of `k8s-jobs list`. */
export interface ListOptions {
  store: string;
  state?: TaskState;
  json?: boolean;
}

/** The table row of one task: id, state, outcome, reason, image, created, run duration. */
function row(record: TaskRecord): string[] {
  return [
    record.id,
    record.state,
    record.outcome ?? '',
    reasonOf(record),
    record.spec.image,
    record.createdAt,
    formatDuration(between(record.startedAt, record.finishedAt)),
  ];
}

/**
 * Every task of the store (deleted ones included), oldest first, optionally only those in one
 * state; a table, or the records as a JSON array with `json`.
 */
export async function runList(options: ListOptions): Promise<void> {
  const records = await withStore(options.store, (store) => store.listTasks());
  const selected = options.state ? records.filter((r) => r.state === options.state) : records;
  if (options.json) {
    process.stdout.write(`${JSON.stringify(selected, null, 2)}\n`);
    return;
  }
  if (selected.length === 0) {
    process.stdout.write(options.state ? `No task in state ${options.state}.\n` : 'No tasks in the store.\n');
    return;
  }
  process.stdout.write(
    `${renderTable(['TASK', 'STATE', 'OUTCOME', 'REASON', 'IMAGE', 'CREATED', 'RAN FOR'], selected.map(row))}\n`,
  );
}

/** `k8s-jobs list [--state S] [--store URL] [--json]`. */
export function listCommand(): Command {
  return new Command('list')
    .description(
      'list the tasks of a store (every task, finished ones included), oldest first; works while a runner uses the store',
    )
    .addOption(new Option('--state <state>', 'only tasks in this state').choices(taskStates))
    .addOption(storeOption())
    .option('--json', 'print the task records as a JSON array')
    .addHelpText('after', '\nExit codes: 0 listed (possibly nothing), 1 the store cannot be read.')
    .action(reportErrors((options: ListOptions) => runList(options)));
}
