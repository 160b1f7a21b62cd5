import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseWarningHeader } from '../../src/kube/preflight-api.js';
import { warnPolicy } from '../../src/sim/pod-security-warnings.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';

/*
 * PodSecurity's warn mode on Jobs in the simulated cluster: a Job is never refused for its
 * template, but its create (dry run or not) answers with the `Warning` header the apiserver sends.
 */

let cluster: SimulatedCluster;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const namespaces: Record<string, Record<string, string>> = {
    enforced: { 'pod-security.kubernetes.io/enforce': 'restricted' },
    warned: { 'pod-security.kubernetes.io/warn': 'baseline', 'pod-security.kubernetes.io/warn-version': 'v1.30' },
    open: {},
  };
  for (const [name, labels] of Object.entries(namespaces))
    await core.createNamespace({ body: { metadata: { name, labels } } });
});
afterAll(() => cluster.close());

const privilegedJob = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'p' },
  spec: {
    template: {
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }],
      },
    },
  },
};

/** A raw create (client-node hides response headers from its plain calls): status and warnings. */
async function create(namespace: string, dryRun: boolean): Promise<{ status: number; warnings: string[] }> {
  const url = `${cluster.url}/apis/batch/v1/namespaces/${namespace}/jobs${dryRun ? '?dryRun=All' : ''}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer k8s-jobs-sim-token' },
    body: JSON.stringify(privilegedJob),
  });
  return { status: res.status, warnings: parseWarningHeader(res.headers.get('warning') ?? undefined) };
}

describe('PodSecurity warnings on Job creates', () => {
  test('enforce alone warns at its level; the Job is admitted (its pods are the ones refused)', async () => {
    const { status, warnings } = await create('enforced', true);
    expect(status).toBe(201);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^would violate PodSecurity "restricted:latest": privileged \(container "c" must not set securityContext\.privileged=true\), allowPrivilegeEscalation != false/,
    );
    expect(cluster.objects('jobs', 'enforced')).toEqual([]);
  });

  test('an explicit warn label and version are used; no label, no warning', async () => {
    expect((await create('warned', false)).warnings).toEqual([
      'would violate PodSecurity "baseline:v1.30": privileged (container "c" must not set securityContext.privileged=true)',
    ]);
    expect(await create('open', false)).toEqual({ status: 201, warnings: [] });
    // The real create went through; client-node reads it as any other Job.
    const job = await cluster.kubeConfig
      .makeApiClient(BatchV1Api)
      .readNamespacedJob({ name: 'p', namespace: 'warned' });
    expect(job.metadata?.name).toBe('p');
  });

  test('the warn policy follows the plugin: a bad warn level is privileged, enforce is copied with its version', () => {
    expect(warnPolicy(undefined)).toEqual({ level: 'privileged' });
    expect(warnPolicy({ 'pod-security.kubernetes.io/warn': 'bogus' })).toEqual({
      level: 'privileged',
      version: 'latest',
    });
    expect(
      warnPolicy({
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/enforce-version': 'v1.29',
      }),
    ).toEqual({ level: 'baseline', version: 'v1.29' });
    expect(warnPolicy({ 'pod-security.kubernetes.io/enforce': 'privileged' })).toEqual({ level: 'privileged' });
  });

  test('parseWarningHeader unescapes each quoted text of a combined header', () => {
    expect(parseWarningHeader('299 - "a \\"b\\" c", 299 - "d, e"')).toEqual(['a "b" c', 'd, e']);
    expect(parseWarningHeader(undefined)).toEqual([]);
  });
});
