/**
 * The README's fault injection and RBAC example: README.md shows this file with the import from
 * 'k8s-jobs/sim'; test/examples/readme-examples.test.ts runs it and checks that the two stay the same.
 */
import { ApiException, BatchV1Api } from '@kubernetes/client-node';
import { startSimulatedCluster } from '../src/sim/index.js';

const cluster = await startSimulatedCluster({
  kubelet: { enabled: false }, // no pods run: this example is about the API
  faults: { seed: 42 }, // the same requests are hit on every run
  rbac: { rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create'] }] },
});
try {
  const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  const job = (name: string) => ({
    metadata: { name },
    spec: {
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }] },
      },
    },
  });
  const outcome = (err: unknown) =>
    err instanceof ApiException ? `HTTP ${err.code}` : `${(err as { code?: string }).code}`;

  // Half of the Job creates are throttled as API Priority and Fairness does it (429, Retry-After).
  const throttle = cluster.faults.failRequests({
    verbs: ['create'],
    resources: ['jobs'],
    status: 429,
    retryAfterSeconds: 1,
    rate: 0.5,
  });
  // Lists take 50-150 ms longer; open watches are cut every 2 s.
  cluster.faults.delayRequests({ verbs: ['list'], ms: [50, 150] });
  cluster.faults.dropWatchesEvery(2000);
  for (let i = 0; i < 6; i++) {
    const result = await batch
      .createNamespacedJob({ namespace: 'default', body: job(`job-${i}`) })
      .then(() => 'created', outcome);
    console.log(`job-${i}: ${result}`);
  }
  throttle.remove();
  console.log('jobs listed:', (await batch.listNamespacedJob({ namespace: 'default' })).items.length);

  // The next create is applied, but its response is lost: the client sees a reset.
  cluster.faults.resetConnections({ verbs: ['create'], resources: ['jobs'], phase: 'after', times: 1 });
  console.log(
    'lost-reply:',
    await batch.createNamespacedJob({ namespace: 'default', body: job('lost-reply') }).then(() => 'created', outcome),
  );
  console.log(
    'exists anyway:',
    (await batch.readNamespacedJob({ namespace: 'default', name: 'lost-reply' })).metadata?.name,
  );

  // RBAC: delete is not in the allow-list.
  await batch.deleteNamespacedJob({ namespace: 'default', name: 'job-0' }).catch((err: unknown) => {
    if (!(err instanceof ApiException)) throw err;
    console.log(err.code, (JSON.parse(err.body as string) as { message: string }).message);
  });

  console.log(cluster.faults.counts());
} finally {
  await cluster.close();
}
