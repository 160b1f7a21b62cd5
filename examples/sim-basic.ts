/**
 * The README's `k8s-jobs/sim` example: README.md shows this file with the import from
 * 'k8s-jobs/sim'; test/examples/sim-basic.test.ts runs it and checks that the two stay the same.
 */
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { startSimulatedCluster } from '../src/sim/index.js';

// Scripted containers (no local processes); cluster timings 100× faster than Kubernetes'.
const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
try {
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);

  await batch.createNamespacedJob({
    namespace: 'default',
    body: {
      metadata: { name: 'hello' },
      spec: {
        template: {
          // What the scripted container does: print a line, run for 200 ms, exit 0.
          metadata: {
            annotations: {
              'sim.k8s-jobs.io/behaviour': JSON.stringify({
                logs: ['hello from the simulated cluster'],
                durationMs: 200,
              }),
            },
          },
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'main', image: 'busybox:1.36', command: ['echo', 'hello'] }],
          },
        },
      },
    },
  });

  // Wait for the Job to finish (a controller would watch; polling keeps the example short).
  let job = await batch.readNamespacedJob({ namespace: 'default', name: 'hello' });
  while (!job.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    job = await batch.readNamespacedJob({ namespace: 'default', name: 'hello' });
  }
  console.log('conditions:', job.status?.conditions?.map((c) => c.type).join(', '));

  const pods = await core.listNamespacedPod({
    namespace: 'default',
    labelSelector: 'batch.kubernetes.io/job-name=hello',
  });
  const pod = pods.items[0]?.metadata?.name ?? '';
  console.log('logs:', (await core.readNamespacedPodLog({ namespace: 'default', name: pod })).trim());
  console.log('requests served:', cluster.stats().totalRequests);
} finally {
  await cluster.close();
}
