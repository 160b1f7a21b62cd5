/**
 * The Go k8sJobs package's documented usage, translated: a runner on the namespace "default" with
 * at most 5 Jobs at once and a queue of 100, one task, then shutdown. It talks to the cluster of
 * your current kubeconfig (`KUBECONFIG` or ~/.kube/config) and keeps its state in
 * ./k8s-jobs.sqlite.
 */
import { createRunner } from '../src/index.js';

const runner = await createRunner({ namespace: 'default', maxConcurrentJobs: 5, queueSize: 100 });
try {
  await runner.addTask({ id: 'unique-job-id', image: 'busybox', command: ['echo', 'Hello World'], timeout: 30 });
  const done = await runner.waitFor('unique-job-id');
  console.log(`task ${done.id}: ${done.outcome}`);
  console.log(await runner.getLogs('unique-job-id'));
} catch (err) {
  console.error('Failed to add task:', err);
  process.exitCode = 1;
} finally {
  await runner.shutdown();
}
