import { Command, Option } from 'commander';
import {
  defaultTaskPageSize,
  maxTaskPageSize,
  taskStates,
  type TaskOutcome,
  type TaskRecord,
  type TaskState,
} from '../types.js';
import { reportErrors } from './fail.js';
import { between, formatDuration, reasonOf } from './format.js';
import { storeOption, withStore } from './store-option.js';
import { renderTable } from './table.js';

/** Options of `k8s-jobs list`. */
export interface ListOptions {
  store: string;
  state?: TaskState;
  outcome?: TaskOutcome;
  /** Tasks per page (1 … 1,000). @default 100 */
  limit?: number;
  /** The cursor a previous page printed: the page after it. */
  cursor?: string;
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

/** The arguments that list the page after this one (the store and filters kept, the cursor added). */
function nextPageArgs(options: ListOptions, cursor: string): string {
  const args = ['--store', options.store];
  if (options.state) args.push('--state', options.state);
  if (options.outcome) args.push('--outcome', options.outcome);
  if (options.limit !== undefined) args.push('--limit', String(options.limit));
  return [...args, '--cursor', cursor].join(' ');
}

/**
 * One page of the tasks of the store (deleted ones included), newest first, optionally only those
 * in one state or finished with one outcome; a table followed by the command for the next page, or
 * the page as JSON (`{ items, nextCursor? }`) with `json`.
 */
export async function runList(options: ListOptions): Promise<void> {
  const { state, outcome, limit, cursor } = options;
  const page = await withStore(options.store, (store) =>
    store.listTasks({
      ...(state ? { state } : {}),
      ...(outcome ? { outcome } : {}),
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { cursor }),
    }),
  );
  if (options.json) {
    process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
    return;
  }
  if (page.items.length === 0) {
    const which = [state && `in state ${state}`, outcome && `finished ${outcome}`].filter(Boolean).join(', ');
    process.stdout.write(which ? `No task ${which}.\n` : 'No tasks in the store.\n');
  } else {
    process.stdout.write(
      `${renderTable(['TASK', 'STATE', 'OUTCOME', 'REASON', 'IMAGE', 'CREATED', 'RAN FOR'], page.items.map(row))}\n`,
    );
  }
  if (page.nextCursor) process.stdout.write(`Next page: k8s-jobs list ${nextPageArgs(options, page.nextCursor)}\n`);
}

/** `--limit`'s value as a number (the store checks its range). */
function parseLimit(value: string): number {
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}

/** `k8s-jobs list [--state S] [--outcome O] [--limit N] [--cursor C] [--store URL] [--json]`. */
export function listCommand(): Command {
  return new Command('list')
    .description(
      'list a page of the tasks of a store (finished ones included), newest first; works while a runner uses the store',
    )
    .addOption(new Option('--state <state>', 'only tasks in this state').choices(taskStates))
    .addOption(
      new Option('--outcome <outcome>', 'only finished (deleted) tasks with this outcome').choices([
        'succeeded',
        'failed',
        'timedOut',
        'cancelled',
      ]),
    )
    .addOption(
      new Option('--limit <n>', `tasks per page, 1 to ${maxTaskPageSize} (default ${defaultTaskPageSize})`).argParser(
        parseLimit,
      ),
    )
    .option('--cursor <cursor>', 'the page after this cursor (printed under the previous page)')
    .addOption(storeOption())
    .option('--json', 'print the page as JSON: { items, nextCursor? }')
    .addHelpText('after', '\nExit codes: 0 listed (possibly nothing), 1 the store cannot be read.')
    .action(reportErrors((options: ListOptions) => runList(options)));
}
