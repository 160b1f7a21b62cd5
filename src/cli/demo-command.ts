import { BatchV1Api, CoreV1Api, Watch, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { Command, Option } from 'commander';
import { startSimulatedCluster } from '../sim/cluster.js';
import { parsePositiveNumber } from './options.js';

/*
 * A provisional demo: three Jobs straight through client-node against the simulated cluster.
 * The real demo, on top of the task engine, replaces it.
 */

const namespace = 'default';

/** The three Jobs: one that succeeds and prints, one that exits 3, one whose image cannot be pulled. */
export const demoJobs: readonly V1Job[] = [
  job('hello', 'busybox:1.36', ['sh', '-c', 'for i in 1 2 3; do echo "hello from a Job ($i/3)"; sleep 0.2; done']),
  job('exit-three', 'busybox:1.36', ['sh', '-c', 'echo "about to fail" >&2; exit 3']),
  job('missing-image', 'registry.example.com/does-not-exist:1.0', ['true']),
];

function job(name: string, image: string, command: string[]): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels: { app: 'k8s-jobs-demo' } },
    // One attempt each, so a failure is final at once instead of after six re-created pods.
    spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image, command }] } } },
  };
}

/** The Job's `Complete` or `Failed` condition, once it has one. */
function finishedCondition(j: V1Job | undefined) {
  return j?.status?.conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** One line of progress for a Job: its finished condition, else its counters. */
function jobLine(j: V1Job): string {
  const finished = finishedCondition(j);
  if (finished) return finished.reason ? `${finished.type} (${finished.reason})` : finished.type;
  const s = j.status ?? {};
  return `active=${s.active ?? 0} succeeded=${s.succeeded ?? 0} failed=${s.failed ?? 0}`;
}

/** One line of progress for a Pod: its phase and what its container is doing. */
function podLine(pod: V1Pod): string {
  const state = pod.status?.containerStatuses?.[0]?.state;
  const phase = pod.status?.phase ?? 'Pending';
  if (state?.waiting?.reason) return `${phase} ${state.waiting.reason}`;
  if (state?.terminated) return `${phase} exit code ${state.terminated.exitCode}`;
  return phase;
}

/** The waiting reason that settles the unpullable Job for the demo's purpose (it would wait forever). */
const stuckReason = 'ImagePullBackOff';

interface DemoState {
  jobs: Map<string, V1Job>;
  pods: Map<string, V1Pod>;
}

function podsOf(state: DemoState, jobName: string): V1Pod[] {
  return [...state.pods.values()].filter((p) => p.metadata?.labels?.['job-name'] === jobName);
}

function settled(state: DemoState, name: string): boolean {
  if (finishedCondition(state.jobs.get(name))) return true;
  return podsOf(state, name).some((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === stuckReason);
}

/** Options of `k8s-jobs demo`. */
export interface DemoOptions {
  timeScale: number;
  /** Seconds to wait for the three Jobs to settle. */
  timeout: number;
}

/**
 * Starts a simulated cluster in this process (containers run as local processes), submits the
 * demo Jobs with client-node, prints their progress from watches, then a summary, and cleans up.
 * Returns the exit code: 0 when every Job ended as expected.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const cluster = await startSimulatedCluster({ timeScale: options.timeScale, kubelet: { runtime: 'process' } });
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const state: DemoState = { jobs: new Map(), pods: new Map() };
  const printed = new Map<string, string>();
  const print = (key: string, line: string): void => {
    if (printed.get(key) === line) return;
    printed.set(key, line);
    console.log(`  ${key.padEnd(28)} ${line}`);
  };
  let changed: () => void = () => {};
  const watches: AbortController[] = [];
  try {
    console.log(`Simulated cluster at ${cluster.url} (time scale ${options.timeScale})`);
    const watch = new Watch(cluster.kubeConfig);
    const failed = (what: string) => (err: unknown) => {
      if (err && (err as Error).name !== 'AbortError') console.error(`  (${what} watch ended: ${String(err)})`);
    };
    watches.push(
      await watch.watch(`/apis/batch/v1/namespaces/${namespace}/jobs`, {}, (type, obj: V1Job) => {
        const name = obj.metadata?.name ?? '';
        if (type === 'DELETED') state.jobs.delete(name);
        else state.jobs.set(name, obj);
        print(`job/${name}`, type === 'DELETED' ? 'deleted' : jobLine(obj));
        changed();
      }, failed('job')),
      await watch.watch(`/api/v1/namespaces/${namespace}/pods`, {}, (type, obj: V1Pod) => {
        const name = obj.metadata?.name ?? '';
        if (type === 'DELETED') state.pods.delete(name);
        else state.pods.set(name, obj);
        print(`pod/${name}`, type === 'DELETED' ? 'deleted' : podLine(obj));
        changed();
      }, failed('pod')),
    );

    console.log('Submitting three Jobs; their progress, as the watches see it:');
    for (const body of demoJobs) {
      await batch.createNamespacedJob({ namespace, body });
      console.log(`  job/${body.metadata?.name} created (${body.spec?.template.spec?.containers[0]?.image})`);
    }
    const names = demoJobs.map((j) => j.metadata?.name ?? '');
    const allSettled = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), options.timeout * 1000);
      changed = () => {
        if (!names.every((n) => settled(state, n))) return;
        clearTimeout(timer);
        resolve(true);
      };
      changed();
    });

    console.log('Summary:');
    for (const name of names) console.log(`  ${name.padEnd(14)} ${await summaryOf(core, state, name)}`);
    if (!allSettled) console.log(`Not every Job settled within ${options.timeout} s.`);

    for (const name of names) await batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' });
    console.log('Deleted the Jobs (propagationPolicy=Background).');
    console.log('');
    console.log('Run the simulated cluster on its own and use kubectl against it:');
    console.log('  npx k8s-jobs sim --kubeconfig-out sim.kubeconfig     # or, in this repository: npm run sim -- --kubeconfig-out sim.kubeconfig');
    console.log('  kubectl --kubeconfig sim.kubeconfig get jobs');
    return allSettled ? 0 : 1;
  } finally {
    changed = () => {};
    for (const controller of watches) controller.abort();
    await cluster.close();
  }
}

/** How a Job ended, with the evidence: its logs, exit code or waiting reason. */
async function summaryOf(core: CoreV1Api, state: DemoState, name: string): Promise<string> {
  const j = state.jobs.get(name);
  const pod = podsOf(state, name)[0];
  const container = pod?.status?.containerStatuses?.[0];
  const outcome = j ? jobLine(j) : 'unknown';
  if (container?.state?.waiting?.reason === stuckReason) {
    return `stuck: ${stuckReason} — ${container.state.waiting.message ?? ''}`.trim();
  }
  const logs = pod?.metadata?.name ? (await core.readNamespacedPodLog({ namespace, name: pod.metadata.name, container: 'main' })).trim() : '';
  const exitCode = container?.state?.terminated?.exitCode;
  const printedLines = logs ? ` — logs: ${logs.split('\n').join(' | ')}` : '';
  return `${outcome}${exitCode === undefined ? '' : `, exit code ${exitCode}`}${printedLines}`;
}

/** `k8s-jobs demo`: the provisional demo `npm start` runs. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run three Jobs on an in-process simulated cluster and show what happens (what `npm start` runs)')
    .addOption(new Option('--time-scale <x>', 'multiplies the durations the cluster chooses (pull back-off...)').argParser(parsePositiveNumber).default(0.1))
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the Jobs to settle').argParser(parsePositiveNumber).default(60))
    .action(async (options: DemoOptions) => {
      process.exitCode = await runDemo(options);
    });
}
