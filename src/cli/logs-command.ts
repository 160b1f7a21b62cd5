import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import type { KeyvTaskStore } from '../store/keyv-task-store.js';
import { CliUsageError, reportErrors } from './fail.js';
import { LogTail } from './log-tail.js';
import { parsePositiveNumber } from './options.js';
import { openStoreForReading, storeOption } from './store-option.js';

/** Options of `k8s-jobs logs`. */
export interface LogsOptions {
  store: string;
  follow?: boolean;
  /** Seconds between two reads of the store with `follow`. */
  interval: number;
}

/**
 * Prints the stored log snapshot of task `id`. With `follow`, reads the store again every
 * `interval` seconds and prints what is new, until the task is `deleted` (its final snapshot
 * is then printed to the end). The store is opened read-only: a runner may be using it.
 */
export async function runLogs(id: string, options: LogsOptions): Promise<void> {
  const store = await openStoreForReading(options.store);
  try {
    const tail = new LogTail((text) => process.stdout.write(text));
    const record = await store.getTask(id);
    if (!record) throw new CliUsageError(`no task "${id}" in the store ${options.store}`);
    let state = record.state;
    tail.update(await snapshotText(store, id));
    while (options.follow && state !== 'deleted') {
      await sleep(options.interval * 1000);
      // The record first: a snapshot read after it is at least as new as the state it shows.
      state = (await store.getTask(id))?.state ?? 'deleted';
      tail.update(await snapshotText(store, id));
    }
  } finally {
    await store.close();
  }
}

async function snapshotText(store: KeyvTaskStore, id: string): Promise<string> {
  return (await store.getLogSnapshot(id))?.text ?? '';
}

/** `k8s-jobs logs ID [--follow] [--store URL]`. */
export function logsCommand(): Command {
  return new Command('logs')
    .description("print a task's logs as stored by the runner (the CLI reads the store only, never the cluster)")
    .argument('<id>', 'the task id')
    .option('-f, --follow', 'keep reading the store and print what is new until the task is deleted')
    .addOption(
      new Option('--interval <seconds>', 'with --follow: seconds between two reads of the store')
        .argParser(parsePositiveNumber)
        .default(1),
    )
    .addOption(storeOption())
    .addHelpText(
      'after',
      [
        '',
        "The runner stores a snapshot of a running task's log every logs.snapshotIntervalMs (30 s by",
        'default) and the final log when the task finishes; --follow shows each snapshot as it lands.',
        'For a live log of a running pod, use `kubectl logs job/<job name>` (see `k8s-jobs show ID`).',
        '',
        'Exit codes: 0 printed, 1 no such task or the store cannot be read.',
      ].join('\n'),
    )
    .action(reportErrors((id: string, options: LogsOptions) => runLogs(id, options)));
}
