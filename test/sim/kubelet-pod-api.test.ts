import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { createPod, getJson, podNamed } from '../helpers/sim-pods.js';

// The API side of Pods (defaults, admission, validation, /status, graceful deletion), with no node.
let cluster: SimulatedCluster;
let core: CoreV1Api;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
});
afterAll(async () => cluster.close());

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function apiError(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: number; body: string } | undefined;
  if (!err) throw new Error('the request succeeded');
  return { code: err.code, message: (JSON.parse(err.body) as { message: string }).message };
}

test("a created Pod gets the API server's defaults and the admission plugins' fields", async () => {
  await createPod(cluster, { name: 'defaults', spec: { restartPolicy: undefined } });
  const { body } = await getJson(cluster, '/api/v1/namespaces/default/pods/defaults');
  const spec = body['spec'] as Record<string, unknown>;
  expect(spec).toMatchObject({
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: 'default',
    serviceAccount: 'default',
    securityContext: {},
    schedulerName: 'default-scheduler',
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
    priority: 0,
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
  });
  expect((spec['containers'] as unknown[])[0]).toEqual({
    name: 'main',
    image: 'busybox:1.36',
    imagePullPolicy: 'IfNotPresent',
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  });
  expect(body['status']).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
  expect((body['metadata'] as Record<string, unknown>)['generation']).toBeUndefined();
});

test('qosClass is computed on create: Guaranteed when requests equal limits (requests default to limits), else Burstable', async () => {
  await createPod(cluster, {
    name: 'guaranteed',
    container: { resources: { limits: { cpu: '500m', memory: '128Mi' } } },
  });
  await createPod(cluster, { name: 'burstable', container: { resources: { requests: { memory: '64Mi' } } } });
  const guaranteed = podNamed(cluster, 'guaranteed')!;
  expect(guaranteed.status?.qosClass).toBe('Guaranteed');
  expect(guaranteed.spec?.containers[0].resources).toEqual({
    limits: { cpu: '500m', memory: '128Mi' },
    requests: { cpu: '500m', memory: '128Mi' },
  });
  expect(podNamed(cluster, 'burstable')?.status?.qosClass).toBe('Burstable');
});

test("validation: 422 with Kubernetes' messages for a bad name and a container without image", async () => {
  const bad = await apiError(
    core.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'main' }] } },
    }),
  );
  expect(bad.code).toBe(422);
  expect(bad.message).toContain(
    'Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of',
  );
  expect(bad.message).toContain('spec.containers[0].image: Required value');
});

test('status changes only through /status; the spec only through the main resource, and only its images', async () => {
  await createPod(cluster, { name: 'split' });
  const pod = await core.readNamespacedPod({ namespace: 'default', name: 'split' });
  await core.replaceNamespacedPod({
    namespace: 'default',
    name: 'split',
    body: { ...pod, status: { phase: 'Running' } },
  });
  expect(podNamed(cluster, 'split')?.status?.phase).toBe('Pending');
  await core.patchNamespacedPodStatus(
    { namespace: 'default', name: 'split', body: { status: { phase: 'Running' }, spec: { restartPolicy: 'Always' } } },
    mergePatch,
  );
  expect(podNamed(cluster, 'split')).toMatchObject({ status: { phase: 'Running' }, spec: { restartPolicy: 'Never' } });
  await core.patchNamespacedPod(
    { namespace: 'default', name: 'split', body: { spec: { containers: [{ name: 'main', image: 'busybox:1.37' }] } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  expect(podNamed(cluster, 'split')?.spec?.containers[0].image).toBe('busybox:1.37');
  const forbidden = await apiError(
    core.patchNamespacedPod(
      { namespace: 'default', name: 'split', body: { spec: { restartPolicy: 'Always' } } },
      mergePatch,
    ),
  );
  expect(forbidden.code).toBe(422);
  expect(forbidden.message).toBe(
    'Pod "split" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
  );
});

test('graceful deletion of a scheduled pod: deletionTimestamp = now + grace; a longer grace changes nothing, a shorter one shortens it', async () => {
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'graceful' },
      spec: { nodeName: 'somewhere', containers: [{ name: 'main', image: 'busybox:1.36' }] },
    },
  });
  const before = Date.now();
  const first = await core.deleteNamespacedPod({ namespace: 'default', name: 'graceful', gracePeriodSeconds: 60 });
  expect(first.metadata?.deletionGracePeriodSeconds).toBe(60);
  const deadline = first.metadata!.deletionTimestamp!.getTime();
  expect(deadline).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 59_000);
  const rv = podNamed(cluster, 'graceful')!.metadata.resourceVersion;
  await core.deleteNamespacedPod({ namespace: 'default', name: 'graceful', gracePeriodSeconds: 120 });
  expect(podNamed(cluster, 'graceful')!.metadata.resourceVersion).toBe(rv);
  await core.deleteNamespacedPod({ namespace: 'default', name: 'graceful', gracePeriodSeconds: 10 });
  const shortened = podNamed(cluster, 'graceful')!;
  expect(shortened.metadata.deletionGracePeriodSeconds).toBe(10);
  expect(Date.parse(shortened.metadata.deletionTimestamp!)).toBe(deadline - 50_000);
  // Nothing runs the pod here: a grace-0 delete (what the kubelet sends) removes it.
  await core.deleteNamespacedPod({ namespace: 'default', name: 'graceful', gracePeriodSeconds: 0 });
  expect(podNamed(cluster, 'graceful')).toBeUndefined();
});

test('a negative grace period means 1 second', async () => {
  await core.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: { name: 'negative' },
      spec: { nodeName: 'somewhere', containers: [{ name: 'main', image: 'busybox:1.36' }] },
    },
  });
  const answer = await core.deleteNamespacedPod({ namespace: 'default', name: 'negative', gracePeriodSeconds: -5 });
  expect(answer.metadata?.deletionGracePeriodSeconds).toBe(1);
});

test('ConfigMaps and Secrets are served: Secret stringData becomes base64 data, bad data keys are 422', async () => {
  await core.createNamespacedConfigMap({
    namespace: 'default',
    body: { metadata: { name: 'cm' }, data: { 'app.properties': 'a=1' } },
  });
  const secret = await core.createNamespacedSecret({
    namespace: 'default',
    body: { metadata: { name: 'creds' }, stringData: { password: 'pw' } },
  });
  expect(secret.type).toBe('Opaque');
  expect(secret.data).toEqual({ password: Buffer.from('pw').toString('base64') });
  expect((secret as { stringData?: unknown }).stringData).toBeUndefined();
  const bad = await apiError(
    core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'bad' }, data: { 'no/slash': 'x' } },
    }),
  );
  expect(bad).toEqual({
    code: 422,
    message:
      "ConfigMap \"bad\" is invalid: data[no/slash]: Invalid value: \"no/slash\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
  });
  expect((await core.listNamespacedConfigMap({ namespace: 'default' })).items.map((c) => c.metadata?.name)).toEqual([
    'cm',
  ]);
});
