import { Command, Option } from 'commander';
import type { DemoOptions } from './demo-run.js';
import { defaultDemoStoreUri } from './demo-store.js';
import { reportErrors } from './fail.js';
import { parsePositiveNumber } from './options.js';

/** `k8s-jobs demo`: what `npm start` runs. */
export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run a dozen tasks with every outcome on an in-process simulated cluster and show what happens (what `npm start` runs)',
    )
    .addOption(
      new Option('--store <url>', "the demo's store; a previous k8s-jobs store at that path is removed first").default(
        defaultDemoStoreUri,
      ),
    )
    .addOption(
      new Option(
        '--runtime <runtime>',
        'how containers run: local processes (`sh -c`, memory limits enforced on Linux), or scripted by annotations',
      )
        .choices(['process', 'scripted'])
        .default('process'),
    )
    .addOption(
      new Option('--view <view>', 'live: redraw in place; plain: one line per transition; auto: live on a terminal')
        .choices(['auto', 'live', 'plain'])
        .default('auto'),
    )
    .addOption(
      new Option('--time-scale <x>', 'multiplies the durations the cluster chooses (pulls, back-offs, grace periods)')
        .argParser(parsePositiveNumber)
        .default(0.1),
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up (exit 1) when the tasks have not all finished by then')
        .argParser(parsePositiveNumber)
        .default(120),
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 every task ended as expected, 1 the demo broke (an unexpected outcome, a timeout, an error), 130 interrupted (Ctrl-C).',
    )
    .action(
      reportErrors(async (options: DemoOptions) => {
        // Loaded on use: the cluster, runner and client-node are not needed to print help or run other commands.
        const { runDemo } = await import('./demo-run.js');
        process.exitCode = await runDemo(options);
      }),
    );
}
