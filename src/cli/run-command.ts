import { Command, Option } from 'commander';
import { defaultStoreUri } from '../store/open-store.js';
import { exitFailure, exitInterrupted, exitTimedOut } from './exit-codes.js';
import { CliUsageError, reportErrors } from './fail.js';
import { parsePositiveInteger } from './options.js';
import type { RunOptions } from './run-task.js';

/**
 * `k8s-jobs run --image IMG [--timeout S] [--namespace NS] [--id ID] [--kubeconfig PATH] [--store URL]
 * [--leader-election LEASE [--identity ID]] -- CMD ARGS…`.
 */
export function runCommand(): Command {
  return new Command('run')
    .description(
      "run one task on the cluster of the current kubeconfig, print its log, and exit with the task's exit code",
    )
    .argument('<command...>', 'the container command and its arguments (after --)')
    .requiredOption('--image <image>', 'the container image')
    .addOption(
      new Option('--timeout <seconds>', "the task's timeout (the Job's activeDeadlineSeconds)").argParser(
        parsePositiveInteger,
      ),
    )
    .option('--namespace <ns>', "namespace of the Job (default: the kubeconfig context's)")
    .option(
      '--id <id>',
      'the task id (default: run-<random>); running an id again with the same spec reports its stored outcome',
    )
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)')
    .addOption(
      new Option(
        '--store <url>',
        'the task store: sqlite://<path>, memory://, or postgres://<user>@<host>/<db>?schema=<name> ' +
          '(a runner using it at the same time makes this fail, unless both use the same --leader-election Lease)',
      ).default(defaultStoreUri),
    )
    .option(
      '--leader-election <lease-name>',
      'run as one replica of several over a shared postgres:// --store, electing a leader with this Lease ' +
        '(in --namespace); the task is stored here and run by whichever replica leads',
    )
    .addOption(
      new Option(
        '--identity <id>',
        "with --leader-election: this replica's holderIdentity in the Lease, unique per process (default: the host name and a random suffix)",
      ).env('POD_NAME'),
    )
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        "  k8s-jobs run --image busybox:1.36 --timeout 60 -- sh -c 'echo hello; exit 3'",
        '',
        'Exit codes:',
        '  0     the task succeeded',
        "  N     the task failed with the container's exit code N",
        `  ${exitTimedOut}   the task timed out (like timeout(1))`,
        `  ${exitInterrupted}   interrupted with Ctrl-C: the task was cancelled and its Job deleted`,
        `  ${exitFailure}     any other outcome (cancelled elsewhere, image pull failure, unschedulable...)`,
        '        or an error of the CLI; the reason is printed on stderr',
      ].join('\n'),
    )
    .action(
      reportErrors(async (command: string[], options: RunOptions, self: Command) => {
        // POD_NAME is set in every pod of deploy/: only an explicit --identity without a Lease is a mistake.
        if (options.leaderElection === undefined && self.getOptionValueSource('identity') === 'cli')
          throw new CliUsageError('--identity is only used with --leader-election <lease-name>');
        // Loaded on use: the runner and client-node are not needed to print help or run other commands.
        const { runTask } = await import('./run-task.js');
        process.exitCode = await runTask(command, options);
      }),
    );
}
