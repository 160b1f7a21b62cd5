/**
 * One replica of the failover suite: a real runner with `leaderElection` on the shared
 * PostgreSQL store, against the simulated cluster in the parent process. Started with
 * `child_process.fork` (IPC), it takes `add` and `cancel` requests from the parent and tells it
 * what happened; the parent SIGKILLs it whenever it leads.
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createRunner } from '../../src/runner/create-runner.js';
import { behaviourAnnotation } from '../../src/sim/runtime-scripted.js';
import type { ReplicaConfig, ReplicaReply, ReplicaRequest } from './replica-protocol.js';

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as ReplicaConfig;

function reply(message: ReplicaReply): void {
  process.send?.(message);
}

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(config.kubeconfigPath);
const runner = await createRunner({
  kubeConfig,
  namespace: 'default',
  store: config.storeUrl,
  maxConcurrentJobs: config.maxConcurrentJobs,
  queueSize: 10_000,
  rateLimit: { qps: 1000, burst: 100 },
  clientTimeoutGraceMs: 1000,
  stuck: {
    pendingBudgetMs: 2500,
    imagePullGraceMs: 1200,
    createContainerConfigGraceMs: 1200,
    crashLoopBackOffGraceMs: 1200,
  },
  leaderElection: { leaseName: 'k8s-jobs', identity: config.identity, ...config.election },
});
runner.events$.subscribe((event) => {
  if (event.kind !== 'leadership') return;
  if (event.change === 'leading') reply({ type: 'leading', at: Date.now() });
  else
    reply({
      type: 'leadership',
      at: Date.now(),
      change: event.change,
      leader: event.leader,
      ...(event.reason ? { reason: event.reason } : {}),
    });
});

process.on('message', (request: ReplicaRequest) => {
  if (request.type === 'add') {
    const { task } = request;
    const input = {
      id: task.id,
      image: task.image ?? 'busybox',
      ...(task.timeout !== undefined ? { timeout: task.timeout } : {}),
      podTemplate: { metadata: { annotations: { [behaviourAnnotation]: JSON.stringify(task.behaviour) } } },
    };
    runner.addTask(input).then(
      () => reply({ type: 'added', id: task.id }),
      (err: unknown) => reply({ type: 'failed', id: task.id, error: String(err) }),
    );
  } else if (request.type === 'cancel') {
    runner.cancel(request.id).then(
      () => reply({ type: 'cancelRequested', id: request.id }),
      (err: unknown) => reply({ type: 'failed', id: request.id, error: String(err) }),
    );
  } else if (request.type === 'shutdown') {
    void runner.shutdown().then(() => process.exit(0));
  }
});

reply({ type: 'ready', pid: process.pid });
