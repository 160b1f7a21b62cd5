import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, expect, test } from 'vitest';
import { behaviour, startEngine } from '../engine/harness.js';
import { kubeConfigWithToken, serviceAccountToken } from '../engine/rbac-mode.js';

/*
 * The engine harness's RBAC mode (`K8S_JOBS_TEST_RBAC=<manifest>`, as `npm run test:engine-rbac`
 * sets it): the runner runs as the manifest's Role, the tests' own client keeps full access.
 */

const saved = process.env.K8S_JOBS_TEST_RBAC;
afterEach(() => {
  if (saved === undefined) delete process.env.K8S_JOBS_TEST_RBAC;
  else process.env.K8S_JOBS_TEST_RBAC = saved;
});

test('with K8S_JOBS_TEST_RBAC=deploy/rbac.yaml the runner works as the service account, which may do nothing else, while the test client stays admin', async () => {
  process.env.K8S_JOBS_TEST_RBAC = 'deploy/rbac.yaml';
  const engine = await startEngine();
  try {
    await engine.runner.addTask({ id: 'rbac-mode', image: 'busybox', ...behaviour({ durationMs: 10 }) });
    expect(await engine.runner.waitFor('rbac-mode')).toMatchObject({ outcome: 'succeeded' });
    const asServiceAccount = kubeConfigWithToken(engine.cluster, serviceAccountToken).makeApiClient(CoreV1Api);
    await expect(asServiceAccount.listNamespacedSecret({ namespace: 'default' })).rejects.toMatchObject({ code: 403 });
    await expect(
      engine.cluster.kubeConfig.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'default' }),
    ).resolves.toBeDefined();
  } finally {
    await engine.close();
  }
});

test('the runner really is held to the manifest: under a Role without `list` on jobs it cannot start', async () => {
  process.env.K8S_JOBS_TEST_RBAC = 'test/deploy/fixtures/rbac-without-jobs-list.yaml';
  await expect(startEngine()).rejects.toThrow('cannot list resource "jobs"');
});
