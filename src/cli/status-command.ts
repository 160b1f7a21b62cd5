import { Command } from 'commander';
import { exitFailure } from './exit-codes.js';
import { reportErrors } from './fail.js';
import { formatDuration } from './format.js';
import type { LeaseStatus, StatusReport } from './lease-status.js';
import type { StatusTarget } from './status-read.js';
import { renderFields } from './table.js';

/** `status`: no replica leads now (no Lease, a released one, or an expired one). */
export const exitNoLeader = 3;

/** The Lease name `deploy/rbac.yaml` grants `get` and `update` on. */
export const defaultLeaseName = 'k8s-jobs';

/** Options of `k8s-jobs status`. */
export interface StatusOptions extends StatusTarget {
  json?: boolean;
}

/** `1.2s ago (2026-01-01T00:00:00.000000Z)`, or `—` without a time. */
function ago(time: string | undefined, now: number): string {
  if (time === undefined) return '—';
  return `${formatDuration(now - Date.parse(time))} ago (${time})`;
}

/** The Lease's fields, as `show` prints a record's. */
function leaseFields(lease: LeaseStatus, now: number): Array<[string, string]> {
  return [
    ['lease', `${lease.namespace}/${lease.name}`],
    ['holder', lease.holderIdentity ? lease.holderIdentity : 'none (released)'],
    ['renewed', ago(lease.renewTime, now)],
    ['acquired', ago(lease.acquireTime, now)],
    ['lease duration', `${String(lease.leaseDurationSeconds)}s`],
    ['transitions', String(lease.leaseTransitions)],
    ['expired', lease.expired ? 'yes' : 'no'],
  ];
}

/** The one line under the fields: who leads, or why nobody does. */
function verdict(report: StatusReport): string {
  const { lease, leader } = report;
  if (leader !== null) return `Leader: ${leader}.`;
  if (!lease.holderIdentity) return 'No leader: the Lease was released; the next replica to try takes it.';
  return `No leader: ${lease.holderIdentity} has not renewed the Lease within its ${String(lease.leaseDurationSeconds)}s; a follower takes it over.`;
}

function queueLine(queue: NonNullable<StatusReport['queue']>): string {
  const parts = Object.entries(queue.byState).map(([state, count]) => `${state} ${String(count)}`);
  return queue.open === 0 ? 'Open tasks: none.' : `Open tasks: ${String(queue.open)} (${parts.join(', ')}).`;
}

/** The report for humans: the Lease's fields (or that there is none), who leads, the open tasks. */
export function renderStatus(report: StatusReport, now: number): string {
  const { lease } = report;
  const lines = lease.found
    ? [renderFields(leaseFields(lease, now)), verdict(report)]
    : [
        `No Lease ${lease.namespace}/${lease.name}: no runner with leaderElection has used it yet ` +
          '(or --lease-name and --namespace name another one).',
      ];
  if (report.queue) lines.push(queueLine(report.queue));
  return `${lines.join('\n')}\n`;
}

/**
 * Reads the Lease (and with `store` the open tasks), prints them, and resolves with the exit code:
 * 0 when a replica leads, {@link exitNoLeader} when none does.
 */
export async function runStatus(options: StatusOptions): Promise<number> {
  // Loaded on use: client-node is not needed to print help or run other commands.
  const { readStatus } = await import('./status-read.js');
  const report = await readStatus(options);
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderStatus(report, Date.now()));
  return report.leader === null ? exitNoLeader : 0;
}

/** `k8s-jobs status [--lease-name NAME] [--namespace NS] [--kubeconfig PATH] [--store URL] [--json]`. */
export function statusCommand(): Command {
  return (
    new Command('status')
      .description(
        "show who leads the runners of a leader-election Lease (holder, age, expiry), and with --store the open tasks' counts",
      )
      .option('--lease-name <name>', 'the Lease the runners elect their leader with', defaultLeaseName)
      .option('--namespace <ns>', "the Lease's namespace (default: the kubeconfig context's, as the runner's)")
      .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)')
      // No default here, unlike list/show: without --store no store is read at all.
      .option(
        '--store <url>',
        'also count the open tasks by state in this store (read-only): sqlite://<path> or postgres://<user>@<host>/<db>?schema=<name>',
      )
      .option('--json', 'print { leader, lease, queue? } as JSON')
      .addHelpText(
        'after',
        [
          '',
          'Exit codes:',
          '  0     a replica leads: the Lease has a holder and has not expired',
          `  ${String(exitNoLeader)}     no replica leads: no such Lease, a released one (empty holder), or an expired one`,
          `  ${String(exitFailure)}     the Lease (or the store) could not be read; the reason is printed on stderr`,
        ].join('\n'),
      )
      .action(
        reportErrors(async (options: StatusOptions) => {
          process.exitCode = await runStatus(options);
        }),
      )
  );
}
