import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import {
  behaviour,
  containerStatus,
  createPod,
  podEvents,
  podWhen,
  recordStates,
  waitingReason,
} from '../helpers/sim-pods.js';
import { waitUntil } from '../helpers/wait.js';

let cluster: SimulatedCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const notFound = (ref: string) =>
  `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;

test("an unpullable image: ErrImagePull with containerd's NotFound message, then ImagePullBackOff carrying it, the pod Pending", async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const recorder = await recordStates(cluster, 'nope');
  await createPod(cluster, { name: 'nope', container: { image: 'perl:5.99-does-not-exist' } });
  await waitUntil(() => recorder.states.some((s) => s.state === 'waiting:ImagePullBackOff'), 'ImagePullBackOff');
  recorder.stop();
  const errImagePull = recorder.states.find((s) => s.state === 'waiting:ErrImagePull');
  expect(recorder.states.map((s) => s.state).indexOf('waiting:ErrImagePull')).toBeLessThan(
    recorder.states.map((s) => s.state).indexOf('waiting:ImagePullBackOff'),
  );
  const error = notFound('docker.io/library/perl:5.99-does-not-exist');
  expect(containerStatus(errImagePull!.pod)).toEqual({
    name: 'main',
    state: { waiting: { reason: 'ErrImagePull', message: error } },
    lastState: {},
    ready: false,
    restartCount: 0,
    image: 'perl:5.99-does-not-exist',
    imageID: '',
    started: false,
  });

  // The status as the watch delivered it (raw JSON), taken while the back-off showed.
  const status = recorder.states.find((s) => s.state === 'waiting:ImagePullBackOff')!.pod.status as Record<
    string,
    unknown
  >;
  expect(status).toMatchObject({
    phase: 'Pending',
    qosClass: 'BestEffort',
    hostIP: '172.18.0.2',
    hostIPs: [{ ip: '172.18.0.2' }],
  });
  expect(status['podIP']).toMatch(/^10\.244\.\d+\.\d+$/);
  expect(
    (status['conditions'] as { type: string; status: string; reason?: string; message?: string }[]).map(
      ({ type, status: s, reason, message }) => ({ type, status: s, reason, message }),
    ),
  ).toEqual([
    { type: 'PodReadyToStartContainers', status: 'True', reason: undefined, message: undefined },
    { type: 'Initialized', status: 'True', reason: undefined, message: undefined },
    { type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [main]' },
    {
      type: 'ContainersReady',
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [main]',
    },
    { type: 'PodScheduled', status: 'True', reason: undefined, message: undefined },
  ]);
  expect((status['containerStatuses'] as unknown[])[0]).toMatchObject({
    state: {
      waiting: {
        reason: 'ImagePullBackOff',
        message: `Back-off pulling image "perl:5.99-does-not-exist": ErrImagePull: ${error}`,
      },
    },
  });
  await waitUntil(
    () => podEvents(cluster!, 'nope').includes('Warning Failed Error: ImagePullBackOff'),
    'the back-off events',
  );
  const events = podEvents(cluster, 'nope');
  expect(events).toEqual(
    expect.arrayContaining([
      'Normal Pulling Pulling image "perl:5.99-does-not-exist"',
      `Warning Failed Failed to pull image "perl:5.99-does-not-exist": ${error}`,
      'Warning Failed Error: ErrImagePull',
      'Normal BackOff Back-off pulling image "perl:5.99-does-not-exist"',
      'Warning Failed Error: ImagePullBackOff',
    ]),
  );
});

test('image pulls back off 10 s, 20 s, 40 s (scaled) between attempts', async () => {
  const timeScale = 0.02;
  cluster = await startSimulatedCluster({ timeScale, kubelet: { runtime: 'scripted', pullLatencyMs: 0 } });
  const recorder = await recordStates(cluster, 'backoff');
  await createPod(cluster, { name: 'backoff', container: { image: 'registry.example/app:does-not-exist' } });
  await waitUntil(
    () => recorder.states.filter((s) => s.state === 'waiting:ErrImagePull').length >= 4,
    'four pull attempts',
    { timeoutMs: 10_000 },
  );
  recorder.stop();
  const failures = recorder.states.filter((s) => s.state === 'waiting:ErrImagePull').map((s) => s.at);
  const gaps = failures.slice(1).map((at, i) => at - failures[i]!);
  // A timer never fires early: each gap is at least the back-off (less a little for when the earlier failure was seen).
  [10_000, 20_000, 40_000].forEach((backoff, i) => expect(gaps[i]).toBeGreaterThanOrEqual(backoff * timeScale * 0.8));
});

test('a registry that throttles: ErrImagePull with the 429 Too Many Requests message, then ImagePullBackOff', async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', throttledImages: ['python'] },
  });
  await createPod(cluster, { name: 'hub', container: { image: 'python:3.12' } });
  const pod = await podWhen(cluster, 'hub', 'ImagePullBackOff', (p) => waitingReason(p) === 'ImagePullBackOff');
  const message = containerStatus(pod)?.state?.waiting?.message ?? '';
  expect(message).toMatch(
    /^Back-off pulling image "python:3\.12": ErrImagePull: rpc error: code = Unknown desc = failed to pull and unpack image "docker\.io\/library\/python:3\.12": failed to copy: httpReadSeeker: failed open: unexpected status code https:\/\/registry-1\.docker\.io\/v2\/library\/python\/manifests\/sha256:[0-9a-f]{64}: 429 Too Many Requests - Server message: toomanyrequests: You have reached your unauthenticated pull rate limit\. https:\/\/www\.docker\.com\/increase-rate-limit$/,
  );
});

test('the scripted runtime decides a pull outcome per container (pull: notFound / throttled)', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'scripted-pull',
    annotations: behaviour({ pull: 'throttled' }),
    container: { image: 'ghcr.io/acme/tool:1' },
  });
  const pod = await podWhen(
    cluster,
    'scripted-pull',
    'ErrImagePull',
    (p) => waitingReason(p) === 'ErrImagePull' || waitingReason(p) === 'ImagePullBackOff',
  );
  expect(containerStatus(pod)?.state?.waiting?.message).toContain(
    'unexpected status code https://ghcr.io/v2/acme/tool/manifests/sha256:',
  );
});

test("a malformed image reference: InvalidImageName with the reference parser's message", async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, { name: 'bad-ref', container: { image: 'Perl:Latest' } });
  const pod = await podWhen(cluster, 'bad-ref', 'InvalidImageName', (p) => waitingReason(p) === 'InvalidImageName');
  expect(containerStatus(pod)?.state?.waiting).toEqual({
    reason: 'InvalidImageName',
    message:
      'Failed to apply default image tag "Perl:Latest": couldn\'t parse image reference "Perl:Latest": invalid reference format: repository name must be lowercase',
  });
  expect(pod.status?.phase).toBe('Pending');
  expect(podEvents(cluster, 'bad-ref')).toContain(
    'Warning InspectFailed Failed to apply default image tag "Perl:Latest": couldn\'t parse image reference "Perl:Latest": invalid reference format: repository name must be lowercase',
  );
});

test('imagePullPolicy Never and an image not on the node: ErrImageNeverPull', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, { name: 'never', container: { image: 'busybox:1.36', imagePullPolicy: 'Never' } });
  const pod = await podWhen(cluster, 'never', 'ErrImageNeverPull', (p) => waitingReason(p) === 'ErrImageNeverPull');
  expect(containerStatus(pod)?.state?.waiting?.message).toBe(
    'Container image "busybox:1.36" is not present with pull policy of Never',
  );
});

test('an image already on the node is not pulled again with IfNotPresent; Always pulls every time', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  for (const name of ['first', 'second']) {
    await createPod(cluster, { name, container: { image: 'alpine:3.20' } });
    await podWhen(cluster, name, 'done', (p) => p.status?.phase === 'Succeeded');
  }
  await createPod(cluster, { name: 'always', container: { image: 'alpine:3.20', imagePullPolicy: 'Always' } });
  await podWhen(cluster, 'always', 'done', (p) => p.status?.phase === 'Succeeded');
  expect(podEvents(cluster, 'first')).toContainEqual(
    expect.stringMatching(
      /^Normal Pulled Successfully pulled image "alpine:3\.20" in 1s \(1s including waiting\)\. Image size: \d+ bytes\.$/,
    ),
  );
  expect(podEvents(cluster, 'second')).toContain(
    'Normal Pulled Container image "alpine:3.20" already present on machine',
  );
  expect(podEvents(cluster, 'second').some((e) => e.includes('Pulling'))).toBe(false);
  expect(podEvents(cluster, 'always')).toContain('Normal Pulling Pulling image "alpine:3.20"');
});

test('a missing Secret or ConfigMap in env/envFrom: CreateContainerConfigError, cleared once it is created', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await createPod(cluster, {
    name: 'needs-secret',
    container: {
      env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db-credentials', key: 'password' } } }],
    },
  });
  await createPod(cluster, { name: 'needs-cm', container: { envFrom: [{ configMapRef: { name: 'settings' } }] } });
  const secretPod = await podWhen(
    cluster,
    'needs-secret',
    'config error',
    (p) => waitingReason(p) === 'CreateContainerConfigError',
  );
  expect(containerStatus(secretPod)?.state?.waiting).toEqual({
    reason: 'CreateContainerConfigError',
    message: 'secret "db-credentials" not found',
  });
  expect(secretPod.status?.phase).toBe('Pending');
  expect(podEvents(cluster, 'needs-secret')).toContain('Warning Failed Error: secret "db-credentials" not found');
  const cmPod = await podWhen(
    cluster,
    'needs-cm',
    'config error',
    (p) => waitingReason(p) === 'CreateContainerConfigError',
  );
  expect(containerStatus(cmPod)?.state?.waiting?.message).toBe('configmap "settings" not found');

  // A Secret without the key is still an error, with the kubelet's own text.
  await core.createNamespacedSecret({
    namespace: 'default',
    body: { metadata: { name: 'db-credentials' }, stringData: { user: 'app' } },
  });
  await podWhen(
    cluster,
    'needs-secret',
    'missing key',
    (p) =>
      containerStatus(p)?.state?.waiting?.message === "couldn't find key password in Secret default/db-credentials",
  );
  await core.replaceNamespacedSecret({
    namespace: 'default',
    name: 'db-credentials',
    body: { metadata: { name: 'db-credentials' }, stringData: { password: 's3cret' } },
  });
  await core.createNamespacedConfigMap({
    namespace: 'default',
    body: { metadata: { name: 'settings' }, data: { MODE: 'fast' } },
  });
  await podWhen(cluster, 'needs-secret', 'started once the Secret exists', (p) => p.status?.phase === 'Succeeded');
  await podWhen(cluster, 'needs-cm', 'started once the ConfigMap exists', (p) => p.status?.phase === 'Succeeded');
});

test('a missing ConfigMap volume keeps the pod in ContainerCreating with FailedMount events until it exists', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  await createPod(cluster, {
    name: 'mounts',
    spec: { volumes: [{ name: 'cfg', configMap: { name: 'app-config' } }] },
    container: { volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }] },
  });
  await waitUntil(
    () =>
      podEvents(cluster!, 'mounts').includes(
        'Warning FailedMount MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found',
      ),
    'FailedMount',
  );
  const pod = await podWhen(cluster, 'mounts', 'waiting', (p) => waitingReason(p) === 'ContainerCreating');
  expect(pod.status?.conditions).toContainEqual(
    expect.objectContaining({ type: 'PodReadyToStartContainers', status: 'False' }),
  );
  expect(pod.status?.podIP).toBeUndefined();
  await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
    namespace: 'default',
    body: { metadata: { name: 'app-config' }, data: { 'app.yaml': 'x: 1' } },
  });
  await podWhen(cluster, 'mounts', 'ran once mounted', (p) => p.status?.phase === 'Succeeded');
});

test('the process runtime gets the resolved environment and $(VAR) expansion in its argv', async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01 });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({
    namespace: 'default',
    body: { metadata: { name: 'greetings' }, data: { GREETING: 'hello' } },
  });
  await createPod(cluster, {
    name: 'env',
    container: {
      command: ['sh', '-c', 'echo "$GREETING $TARGET $POD_NAME" "$1"', 'sh', '$(GREETING)-arg'],
      envFrom: [{ configMapRef: { name: 'greetings' } }],
      env: [
        { name: 'TARGET', value: '$(GREETING) world' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
    },
  });
  await podWhen(cluster, 'env', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  expect(await core.readNamespacedPodLog({ namespace: 'default', name: 'env' })).toBe(
    'hello hello world env hello-arg\n',
  );
});
