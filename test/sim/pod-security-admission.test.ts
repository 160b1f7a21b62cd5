import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { enforcedPolicy } from '../../src/sim/pod-security-admission.js';
import { jobManifest } from '../helpers/sim-jobs.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * Pod Security Admission in the sim, through client-node and kubectl: a namespace's
 * `pod-security.kubernetes.io/enforce` label makes pod creates that break its level a 403 with
 * the apiserver's message, for a direct POST and for the pods the Job controller creates (which
 * become FailedCreate events on the Job, retried with back-off).
 */

let cluster: SimulatedCluster;
let core: CoreV1Api;
let batch: BatchV1Api;
let workDir: string;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
  workDir = await mkdtemp(join(tmpdir(), 'k8s-jobs-psa-'));
});
afterAll(async () => {
  await cluster.close();
  await rm(workDir, { recursive: true, force: true });
});

const enforce = 'pod-security.kubernetes.io/enforce';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function namespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, labels } } });
}

/** The status and parsed Status body of a failed client-node call. */
async function failure(call: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  const err: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(err)}`);
  return { code: err.code, body: JSON.parse(err.body as string) as Record<string, unknown> };
}

const privilegedPod = (name: string): V1Pod => ({
  metadata: { name },
  spec: {
    restartPolicy: 'Never',
    containers: [{ name: 'main', image: 'busybox:1.36', securityContext: { privileged: true } }],
  },
});

describe('a direct pod create', () => {
  beforeAll(async () => {
    await namespace('psa-baseline', { [enforce]: 'baseline' });
    await namespace('psa-restricted', {
      [enforce]: 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'v1.30',
    });
    await namespace('psa-none');
  });

  test('breaking the enforced level is 403 Forbidden with the apiserver message, and nothing is stored', async () => {
    const { code, body } = await failure(
      core.createNamespacedPod({ namespace: 'psa-baseline', body: privilegedPod('x') }),
    );
    expect(code).toBe(403);
    expect(body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      details: { name: 'x', kind: 'pods' },
      message:
        'pods "x" is forbidden: violates PodSecurity "baseline:latest": ' +
        'privileged (container "main" must not set securityContext.privileged=true)',
    });
    expect(cluster.objects('pods').filter((p) => p.metadata.namespace === 'psa-baseline')).toEqual([]);
  });

  test('a generated name is the one refused; a dry run is refused too', async () => {
    const generated: V1Pod = { ...privilegedPod(''), metadata: { generateName: 'gen-' } };
    const { body } = await failure(core.createNamespacedPod({ namespace: 'psa-baseline', body: generated }));
    expect(body['message']).toMatch(/^pods "gen-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": /);
    const dry = await failure(
      core.createNamespacedPod({ namespace: 'psa-baseline', body: privilegedPod('dry'), dryRun: 'All' }),
    );
    expect(dry.code).toBe(403);
  });

  test('the restricted level at a pinned version lists every failed check in order', async () => {
    const body: V1Pod = {
      metadata: { name: 'plain' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'browser', image: 'busybox:1.36' }] },
    };
    const { code, body: status } = await failure(core.createNamespacedPod({ namespace: 'psa-restricted', body }));
    expect(code).toBe(403);
    expect(status['message']).toBe(
      'pods "plain" is forbidden: violates PodSecurity "restricted:v1.30": ' +
        'allowPrivilegeEscalation != false (container "browser" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "browser" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "browser" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "browser" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
  });

  test('a compliant pod is created, and a namespace without labels is privileged', async () => {
    const hardened: V1Pod = {
      metadata: { name: 'hardened' },
      spec: {
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'main',
            image: 'busybox:1.36',
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    };
    await core.createNamespacedPod({ namespace: 'psa-restricted', body: hardened });
    await core.createNamespacedPod({ namespace: 'psa-none', body: privilegedPod('anything-goes') });
    expect(
      cluster
        .objects('pods')
        .map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`)
        .sort(),
    ).toEqual(['psa-none/anything-goes', 'psa-restricted/hardened']);
  });

  test('invalid PodSecurity labels are a 422 on create and on update; a bad stored level fails closed', async () => {
    const created = await failure(
      core.createNamespace({ body: { metadata: { name: 'bad', labels: { [enforce]: 'strict' } } } }),
    );
    expect(created.code).toBe(422);
    expect(created.body['message']).toBe(
      'Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: ' +
        'Invalid value: "strict": must be one of privileged, baseline, restricted',
    );
    const updated = await failure(
      core.patchNamespace(
        { name: 'psa-none', body: { metadata: { labels: { 'pod-security.kubernetes.io/warn-version': '1.30' } } } },
        mergePatch,
      ),
    );
    expect(updated.code).toBe(422);
    expect(JSON.stringify(updated.body['message'])).toContain('must be \\"latest\\" or \\"v1.x\\"');
    // Labels that predate the check are read as the plugin reads them: a bad level is restricted, a bad version latest.
    expect(enforcedPolicy({ [enforce]: 'strict', 'pod-security.kubernetes.io/enforce-version': 'v2' })).toEqual({
      level: 'restricted',
      version: 'latest',
    });
    expect(enforcedPolicy(undefined)).toEqual({ level: 'privileged', version: 'latest' });
  });
});

describe('pods of a Job', () => {
  test('are refused: the Job gets FailedCreate warnings with the message, retried with back-off', async () => {
    await namespace('psa-jobs', { [enforce]: 'baseline' });
    await batch.createNamespacedJob({
      namespace: 'psa-jobs',
      body: jobManifest('hostile', {}, { hostNetwork: true, containers: [{ name: 'main', image: 'busybox:1.36' }] }),
    });
    const warnings = (): CoreV1Event[] =>
      cluster
        .objects('events')
        .filter(
          (e) => e.metadata.namespace === 'psa-jobs' && e['reason'] === 'FailedCreate',
        ) as unknown as CoreV1Event[];
    // The controller retries, each time with a new generated name, so each refusal is an Event of its own.
    const [event = {} as CoreV1Event] = await waitUntil(
      () => (warnings().length >= 2 ? warnings() : undefined),
      'two FailedCreate events',
    );
    expect(event).toMatchObject({
      type: 'Warning',
      reason: 'FailedCreate',
      involvedObject: { kind: 'Job', name: 'hostile', namespace: 'psa-jobs' },
      source: { component: 'job-controller' },
    });
    expect(event.message).toMatch(
      /^Error creating: pods "hostile-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)$/,
    );
    expect(cluster.objects('pods').filter((p) => p.metadata.namespace === 'psa-jobs')).toEqual([]);
    const job = await batch.readNamespacedJob({ name: 'hostile', namespace: 'psa-jobs' });
    expect(job.status?.active ?? 0).toBe(0);
    expect(job.status?.startTime).toBeDefined();
  });

  test('kubectl label ns sets the level: pods are refused after it, and allowed again after removing it', async () => {
    const kubeconfig = join(workDir, 'kubeconfig');
    await cluster.writeKubeconfig(kubeconfig);
    const kubectl = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
        execFile(
          process.env['KUBECTL'] ?? 'kubectl',
          ['--kubeconfig', kubeconfig, ...args],
          { env: { ...process.env, KUBECACHEDIR: join(workDir, 'cache') }, timeout: 60_000 },
          (err, stdout, stderr) => {
            if (err && typeof err.code !== 'number') reject(err);
            else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
          },
        );
      });
    await namespace('psa-kubectl');
    expect(await kubectl('label', 'ns', 'psa-kubectl', `${enforce}=baseline`)).toMatchObject({
      code: 0,
      stdout: 'namespace/psa-kubectl labeled\n',
    });
    const refused = await kubectl(
      '-n',
      'psa-kubectl',
      'run',
      'p1',
      '--image=busybox:1.36',
      '--restart=Never',
      '--privileged',
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'Error from server (Forbidden): pods "p1" is forbidden: violates PodSecurity "baseline:latest": ' +
        'privileged (container "p1" must not set securityContext.privileged=true)\n',
    );
    const bad = await kubectl('label', 'ns', 'psa-kubectl', '--overwrite', `${enforce}=nonsense`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Invalid value: "nonsense": must be one of privileged, baseline, restricted');
    expect((await kubectl('label', 'ns', 'psa-kubectl', `${enforce}-`)).code).toBe(0);
    expect(
      await kubectl('-n', 'psa-kubectl', 'run', 'p1', '--image=busybox:1.36', '--restart=Never', '--privileged'),
    ).toMatchObject({
      code: 0,
      stdout: 'pod/p1 created\n',
    });
  });
});
