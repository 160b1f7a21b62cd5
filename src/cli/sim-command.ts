import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseQuantity } from '../validation/quantity.js';
import { parsePort, parsePositiveNumber, untilSignal } from './options.js';

/** Options of `k8s-jobs sim`. */
export interface SimCommandOptions {
  port: number;
  kubeconfigOut: string;
  runtime: 'process' | 'scripted';
  timeScale: number;
  /** The kubelet's `containerLogMaxSize`, a quantity (`10Mi`). */
  containerLogMaxSize: string;
  /** The kubelet's `containerLogMaxFiles`. */
  containerLogMaxFiles: number;
}

/** A positive quantity (`10Mi`, `500Ki`, `1048576`), kept as written. */
function parseSizeQuantity(raw: string): string {
  const bytes = parseQuantity(raw);
  if (bytes === undefined || !(bytes > 0))
    throw new InvalidArgumentError(`must be a positive quantity such as 10Mi, got "${raw}"`);
  return raw;
}

/** An integer greater than 1, as the kubelet requires of `containerLogMaxFiles`. */
function parseMaxFiles(raw: string): number {
  const files = Number(raw);
  if (!/^\d+$/.test(raw) || files < 2)
    throw new InvalidArgumentError(`must be an integer greater than 1, got "${raw}"`);
  return files;
}

/** The kubeconfig `k8s-jobs sim` writes when `--kubeconfig-out` is not given (in the working directory). */
export const defaultKubeconfigFile = 'k8s-jobs-sim.kubeconfig';

/**
 * Serves a simulated cluster on 127.0.0.1 until SIGINT/SIGTERM, then closes it: watches end,
 * container processes are killed, the port is released, and the process exits 0.
 */
export async function runSim(options: SimCommandOptions): Promise<void> {
  // Loaded on use: the other commands start faster without the simulated API server.
  const { startSimulatedCluster } = await import('../sim/index.js');
  const cluster = await startSimulatedCluster({
    port: options.port,
    timeScale: options.timeScale,
    // Nothing reads the request log or the creation audit of a CLI cluster: keep neither, so a sim
    // left up for days stays the same size.
    recordRequests: false,
    auditJobCreations: false,
    kubelet: {
      runtime: options.runtime,
      containerLogMaxSize: options.containerLogMaxSize,
      containerLogMaxFiles: options.containerLogMaxFiles,
    },
  });
  const kubeconfig = resolve(options.kubeconfigOut);
  try {
    await cluster.writeKubeconfig(kubeconfig);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  const quoted = /^[\w@%+=:,./-]+$/.test(kubeconfig) ? kubeconfig : `'${kubeconfig.replaceAll("'", "'\\''")}'`;
  console.log(`Simulated Kubernetes API server listening on ${cluster.url}`);
  console.log(`Kubeconfig written to ${kubeconfig}`);
  console.log(`Try: kubectl --kubeconfig ${quoted} get jobs`);
  console.log('Press Ctrl+C to stop.');
  const signal = await untilSignal();
  // A second signal while closing means the user does not want to wait.
  const force = (): never => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  console.log(`${signal}: stopping the simulated cluster…`);
  await cluster.close();
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  console.log('Stopped.');
}

/**
 * `k8s-jobs sim [--port N] [--kubeconfig-out FILE] [--runtime process|scripted] [--time-scale X]
 * [--container-log-max-size Q] [--container-log-max-files N]`.
 */
export function simCommand(): Command {
  return new Command('sim')
    .description(
      'serve a simulated Kubernetes API server on 127.0.0.1 (for kubectl and client-node) until SIGINT/SIGTERM',
    )
    .addOption(new Option('--port <n>', 'TCP port on 127.0.0.1; 0 picks a free one').argParser(parsePort).default(0))
    .option('--kubeconfig-out <file>', 'where to write a kubeconfig for kubectl', defaultKubeconfigFile)
    .addOption(
      new Option(
        '--runtime <runtime>',
        'how containers run: as local processes, or scripted (by the sim.k8s-jobs.io/behaviour annotation; instant success otherwise)',
      )
        .choices(['process', 'scripted'])
        .default('process'),
    )
    .addOption(
      new Option(
        '--time-scale <x>',
        'multiplies the durations the cluster chooses (back-offs, pulls, grace periods); 0.1 runs them 10x faster',
      )
        .argParser(parsePositiveNumber)
        .default(1),
    )
    .addOption(
      new Option(
        '--container-log-max-size <quantity>',
        "the kubelet's containerLogMaxSize: a container's log file rotates past this size; only the current file is served",
      )
        .argParser(parseSizeQuantity)
        .default('10Mi'),
    )
    .addOption(
      new Option(
        '--container-log-max-files <n>',
        "the kubelet's containerLogMaxFiles: log files per container, the current one included (rotated ones are counted, not kept)",
      )
        .argParser(parseMaxFiles)
        .default(5),
    )
    .action((options: SimCommandOptions) => runSim(options));
}
