import { Command, InvalidArgumentError, Option } from 'commander';
import { maxPurgeBatch } from '../store/contract.js';
import type { KeyvTaskStore } from '../store/keyv-task-store.js';
import { openTaskStore } from '../store/open-store.js';
import { newLockOwner } from '../store/store-lock.js';
import type { TaskOutcome } from '../types.js';
import { CliUsageError, reportErrors } from './fail.js';
import { storeOption } from './store-option.js';

/** Options of `k8s-jobs purge`. */
export interface PurgeOptions {
  store: string;
  /** Seconds: purge tasks that finished longer ago than this. */
  olderThan?: number;
  /** Keep this many tasks of each outcome (the ones that finished last). */
  keep?: number;
  outcome?: TaskOutcome[];
  dryRun?: boolean;
  vacuum?: boolean;
  json?: boolean;
}

const outcomes = ['succeeded', 'failed', 'timedOut', 'cancelled'] as const satisfies readonly TaskOutcome[];
const unitSeconds = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** `--older-than`: a duration such as `90s`, `30m`, `12h` or `7d`, in seconds. */
export function parseDuration(raw: string): number {
  const match = /^(\d+)([smhd])$/.exec(raw);
  const [, amount, unit] = match ?? [];
  if (amount === undefined || unit === undefined || Number(amount) <= 0) {
    throw new InvalidArgumentError(`must be a duration like 90s, 30m, 12h or 7d, got "${raw}"`);
  }
  return Number(amount) * unitSeconds[unit as keyof typeof unitSeconds];
}

function parseCount(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new InvalidArgumentError(`must be a whole number ≥ 0, got "${raw}"`);
  return Number(raw);
}

/**
 * Purges finished tasks of the store past `olderThan` and/or beyond the newest `keep`, per outcome
 * (all four unless `outcome` names some), batch after batch; prints what went (or, with `dryRun`,
 * what would, without changing the file). Takes the store's lock: a runner using the store makes
 * it fail (its own `retention` does the same work). With `vacuum`, rewrites the SQLite file after.
 */
export async function runPurge(options: PurgeOptions): Promise<void> {
  if (options.olderThan === undefined && options.keep === undefined) {
    throw new CliUsageError('say what to purge: --older-than <duration> and/or --keep <count>');
  }
  if (options.dryRun && options.vacuum) throw new CliUsageError('--vacuum changes the file: not with --dry-run');
  const store = options.dryRun
    ? await openTaskStore(options.store, { readOnly: true })
    : await openTaskStore(options.store, { lock: { owner: newLockOwner() } });
  try {
    const counts = await purgeAll(store, options);
    if (options.vacuum) await store.vacuum();
    const size = await store.size();
    report(options, counts, size.bytes);
  } finally {
    await store.close();
  }
}

type Counts = Record<TaskOutcome, { count: number; more: boolean }>;

async function purgeAll(store: KeyvTaskStore, options: PurgeOptions): Promise<Counts> {
  const finishedBefore = options.olderThan === undefined ? undefined : Date.now() - options.olderThan * 1000;
  const counts: Counts = {
    succeeded: { count: 0, more: false },
    failed: { count: 0, more: false },
    timedOut: { count: 0, more: false },
    cancelled: { count: 0, more: false },
  };
  for (const outcome of options.outcome ?? outcomes) {
    const query = {
      outcome,
      ...(finishedBefore !== undefined ? { finishedBefore } : {}),
      ...(options.keep !== undefined ? { keepNewest: options.keep } : {}),
    };
    if (options.dryRun) {
      // Nothing is removed, so a second call would find the same tasks: one batch, the largest.
      const { ids, more } = await store.purgeFinished({ ...query, limit: maxPurgeBatch, dryRun: true });
      counts[outcome] = { count: ids.length, more };
      continue;
    }
    for (;;) {
      const { ids, more } = await store.purgeFinished({ ...query, limit: 1000 });
      counts[outcome].count += ids.length;
      if (ids.length > 0) await store.releaseSpace(100_000);
      if (!more || ids.length === 0) break;
    }
  }
  return counts;
}

function report(options: PurgeOptions, counts: Counts, bytes: number | undefined): void {
  const total = Object.values(counts).reduce((sum, { count }) => sum + count, 0);
  const more = Object.values(counts).some((c) => c.more);
  if (options.json) {
    const byOutcome = Object.fromEntries(Object.entries(counts).map(([outcome, { count }]) => [outcome, count]));
    const result = { dryRun: Boolean(options.dryRun), total, byOutcome, ...(bytes !== undefined ? { bytes } : {}) };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const parts = Object.entries(counts)
    .filter(([, { count }]) => count > 0)
    .map(([outcome, { count, more: m }]) => `${outcome} ${String(count)}${m ? '+' : ''}`);
  const detail = parts.length > 0 ? ` (${parts.join(', ')})` : '';
  const verb = options.dryRun ? `Would purge ${more ? 'at least ' : ''}` : 'Purged ';
  const size = bytes === undefined ? '' : ` Store size: ${(bytes / 1024 / 1024).toFixed(2)} MB.`;
  process.stdout.write(`${verb}${String(total)} finished task(s)${detail}.${size}\n`);
}

/** `k8s-jobs purge [--older-than D] [--keep N] [--outcome O…] [--dry-run] [--vacuum] [--store URL] [--json]`. */
export function purgeCommand(): Command {
  return new Command('purge')
    .description(
      'remove finished tasks (record, transitions, logs) from a store: those that finished before a duration ago and/or beyond the newest N per outcome; open tasks are never touched',
    )
    .addOption(
      new Option('--older-than <duration>', 'tasks that finished longer ago than this: 90s, 30m, 12h, 7d').argParser(
        parseDuration,
      ),
    )
    .addOption(new Option('--keep <count>', 'keep this many of each outcome (the newest)').argParser(parseCount))
    .addOption(
      new Option('--outcome <outcome...>', 'only tasks that finished with this outcome (default: all)').choices(
        outcomes,
      ),
    )
    .option('--dry-run', 'count what would be purged; change nothing (works while a runner uses the store)')
    .option(
      '--vacuum',
      'then rewrite the SQLite file (VACUUM): all free space back, and incremental auto-vacuum for a file made by an older k8s-jobs',
    )
    .addOption(storeOption())
    .option('--json', 'print { dryRun, total, byOutcome, bytes? } as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  k8s-jobs purge --store sqlite://./k8s-jobs.sqlite --older-than 7d',
        '  k8s-jobs purge --outcome succeeded cancelled --keep 1000 --dry-run',
        '',
        'A purge takes the store’s lock: stop the runner first, or let its `retention` option do it.',
        'Exit codes: 0 done (possibly nothing to purge), 1 bad options or the store cannot be opened or written.',
      ].join('\n'),
    )
    .action(reportErrors((options: PurgeOptions) => runPurge(options)));
}
