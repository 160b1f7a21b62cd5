import { CoreV1Api } from '@kubernetes/client-node';
import KeyvModule from 'keyv';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createRunner } from '../../src/runner/create-runner.js';
import type { Runner } from '../../src/runner/runner-api.js';
import type { TaskInput } from '../../src/validation/task-spec.js';
import { startEngine, type Engine } from './harness.js';

/*
 * Pod security by default: `addTask` refuses, under the runner's `podSecurity` level, a task whose
 * merged pod template breaks the Pod Security Standards — a ValidationError naming the field and
 * the rule, with nothing stored and nothing sent. And a runner that opts out (`privileged`) into a
 * namespace whose Pod Security Admission refuses the pods reports that refusal as the task's
 * failure at once, instead of waiting out its pending budget.
 */

const Keyv = KeyvModule;
/** Every key written to the baseline runner's store. */
const writes: string[] = [];
class ObservedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    writes.push(key);
    return super.set(key, value);
  }
}

let engine: Engine;
let core: CoreV1Api;
beforeAll(async () => {
  const store = new Keyv({ store: new ObservedMap<unknown>(), namespace: 'k8s-jobs', throwOnErrors: true });
  engine = await startEngine({ runner: { store } });
  core = engine.cluster.kubeConfig.makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await engine.close();
});

const image = 'busybox:1.36';
/** A task whose one container (named `task`, as the generated one) is replaced by `container`. */
const withContainer = (
  id: string,
  container: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): TaskInput => ({
  id,
  image,
  command: ['true'],
  podTemplate: { spec: { containers: [{ name: 'task', image, command: ['true'], ...container }], ...spec } },
});
const withPodSpec = (id: string, spec: Record<string, unknown>): TaskInput => ({
  id,
  image,
  command: ['true'],
  podTemplate: { spec },
});

/** [what, the input, the field the error names, the rule's start]: what the baseline level refuses. */
const baselineCases: [string, TaskInput, string, string][] = [
  [
    'a privileged container',
    withContainer('privileged', { securityContext: { privileged: true } }),
    'podTemplate.spec.containers.0.securityContext.privileged',
    'privileged (container "task" must not set securityContext.privileged=true)',
  ],
  [
    'a privileged init container',
    withPodSpec('privileged-init', {
      initContainers: [{ name: 'init', image, securityContext: { privileged: true } }],
    }),
    'podTemplate.spec.initContainers.0.securityContext.privileged',
    'privileged (container "init" must not set securityContext.privileged=true)',
  ],
  [
    'hostNetwork',
    withPodSpec('host-network', { hostNetwork: true }),
    'podTemplate.spec.hostNetwork',
    'host namespaces (hostNetwork=true)',
  ],
  ['hostPID', withPodSpec('host-pid', { hostPID: true }), 'podTemplate.spec.hostPID', 'host namespaces (hostPID=true)'],
  ['hostIPC', withPodSpec('host-ipc', { hostIPC: true }), 'podTemplate.spec.hostIPC', 'host namespaces (hostIPC=true)'],
  [
    'a hostPath volume of /',
    withPodSpec('host-path', { volumes: [{ name: 'root', hostPath: { path: '/' } }] }),
    'podTemplate.spec.volumes.0.hostPath',
    'hostPath volumes (volume "root")',
  ],
  [
    'a hostPort',
    withContainer('host-port', { ports: [{ containerPort: 80, hostPort: 80 }] }),
    'podTemplate.spec.containers.0.ports.0.hostPort',
    'hostPort (container "task" uses hostPort 80)',
  ],
  [
    'an added SYS_ADMIN capability',
    withContainer('cap-sys-admin', { securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }),
    'podTemplate.spec.containers.0.securityContext.capabilities.add',
    'non-default capabilities (container "task" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
  ],
  [
    'an unmasked /proc',
    withContainer('proc-mount', { securityContext: { procMount: 'Unmasked' } }),
    'podTemplate.spec.containers.0.securityContext.procMount',
    'procMount (container "task" must not set securityContext.procMount to "Unmasked")',
  ],
  [
    'an unsafe sysctl',
    withPodSpec('sysctl', { securityContext: { sysctls: [{ name: 'kernel.msgmax', value: '65536' }] } }),
    'podTemplate.spec.securityContext.sysctls.0.name',
    'forbidden sysctls (kernel.msgmax)',
  ],
  [
    'seccomp Unconfined',
    withPodSpec('seccomp', { securityContext: { seccompProfile: { type: 'Unconfined' } } }),
    'podTemplate.spec.securityContext.seccompProfile.type',
    'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
  ],
  [
    'AppArmor Unconfined',
    withContainer('apparmor', { securityContext: { appArmorProfile: { type: 'Unconfined' } } }),
    'podTemplate.spec.containers.0.securityContext.appArmorProfile.type',
    'forbidden AppArmor profile (container "task" must not set AppArmor profile type to "Unconfined")',
  ],
  [
    'an AppArmor annotation turning it off',
    {
      id: 'apparmor-annotation',
      image,
      annotations: { 'container.apparmor.security.beta.kubernetes.io/task': 'unconfined' },
    },
    'podTemplate.metadata.annotations',
    'forbidden AppArmor profile (annotation must not set AppArmor profile type to',
  ],
  [
    'an SELinux type of its own',
    withPodSpec('selinux-type', { securityContext: { seLinuxOptions: { type: 'spc_t' } } }),
    'podTemplate.spec.securityContext.seLinuxOptions',
    'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t")',
  ],
  [
    'an SELinux user',
    withContainer('selinux-user', { securityContext: { seLinuxOptions: { user: 'root' } } }),
    'podTemplate.spec.containers.0.securityContext.seLinuxOptions',
    'seLinuxOptions (container "task" set forbidden securityContext.seLinuxOptions: user may not be set)',
  ],
  [
    'a Windows host process',
    withPodSpec('host-process', { securityContext: { windowsOptions: { hostProcess: true } } }),
    'podTemplate.spec.securityContext.windowsOptions.hostProcess',
    'hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)',
  ],
];

const errorOf = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('addTask under podSecurity: baseline (the default)', () => {
  test(`${String(baselineCases.length)} hostile pod templates each get a ValidationError naming the field and rule; nothing is stored or sent`, async () => {
    const { runner, cluster } = engine;
    const requestsBefore = cluster.requests().length;
    const writesBefore = writes.length;
    const results = [];
    for (const [what, input] of baselineCases) {
      const error = await errorOf(runner.addTask(input));
      results.push({
        what,
        isValidationError: error instanceof ValidationError,
        field: error instanceof ValidationError ? error.field : String(error),
        rule: error instanceof ValidationError ? (error.issues[0]?.rule ?? '') : '',
      });
    }
    expect(results).toEqual(
      baselineCases.map(([what, , field, rule]) => ({
        what,
        isValidationError: true,
        field,
        rule: expect.stringContaining(`violates PodSecurity "baseline:latest": ${rule}`) as unknown,
      })),
    );
    expect(writes.slice(writesBefore)).toEqual([]);
    expect(
      cluster
        .requests()
        .slice(requestsBefore)
        .filter((r) => r.verb !== 'watch' && r.verb !== 'list'),
    ).toEqual([]);
    expect(cluster.jobCreations()).toEqual([]);
    expect(await runner.listTasks()).toEqual({ items: [] });
  });

  test('the message names the field and the rule', async () => {
    const error = await errorOf(engine.runner.addTask(withPodSpec('message', { hostNetwork: true, hostPID: true })));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toBe(
      'invalid task: podTemplate.spec.hostNetwork: violates PodSecurity "baseline:latest": ' +
        'host namespaces (hostNetwork=true, hostPID=true)',
    );
  });

  test('what baseline allows runs: the default task, added capabilities of the default set, RuntimeDefault seccomp', async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'plain', image, command: ['true'] });
    await runner.addTask(
      withContainer(
        'allowed',
        { securityContext: { capabilities: { add: ['NET_BIND_SERVICE'] }, privileged: false } },
        {
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        },
      ),
    );
    expect((await runner.waitFor('plain')).outcome).toBe('succeeded');
    expect((await runner.waitFor('allowed')).outcome).toBe('succeeded');
  });
});

describe('addTask under podSecurity: restricted', () => {
  let restricted: Runner;
  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: 'hardened' } } });
    restricted = await createRunner({
      kubeConfig: engine.cluster.kubeConfig,
      namespace: 'hardened',
      store: 'memory://',
      podSecurity: 'restricted',
    });
  });
  afterAll(async () => {
    await restricted.shutdown();
  });

  test('a task that does not harden its pod is refused with every rule it breaks', async () => {
    const error = await errorOf(restricted.addTask({ id: 'soft', image, command: ['true'] }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.field)).toEqual([
      'podTemplate.spec.containers.0.securityContext.allowPrivilegeEscalation',
      'podTemplate.spec.containers.0.securityContext.capabilities.drop',
      'podTemplate.spec.securityContext.runAsNonRoot',
      'podTemplate.spec.securityContext.seccompProfile.type',
    ]);
    expect((error as ValidationError).issues[2]?.rule).toBe(
      'violates PodSecurity "restricted:latest": runAsNonRoot != true ' +
        '(pod or container "task" must set securityContext.runAsNonRoot=true)',
    );
  });

  const hardened = {
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
  const hardenedPod = {
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
  };
  const restrictedCases: [string, TaskInput, string][] = [
    [
      'root',
      withContainer('root', hardened, { securityContext: { ...hardenedPod.securityContext, runAsUser: 0 } }),
      'podTemplate.spec.securityContext.runAsUser',
    ],
    [
      'an nfs volume',
      withContainer('nfs', hardened, {
        ...hardenedPod,
        volumes: [{ name: 'share', nfs: { server: 'nfs', path: '/' } }],
      }),
      'podTemplate.spec.volumes.0.nfs',
    ],
    [
      'an added NET_RAW',
      withContainer(
        'net-raw',
        { securityContext: { ...hardened.securityContext, capabilities: { drop: ['ALL'], add: ['NET_RAW'] } } },
        hardenedPod,
      ),
      'podTemplate.spec.containers.0.securityContext.capabilities.add',
    ],
  ];

  test.each(restrictedCases)('%s is refused', async (_what, input, field) => {
    const error = await errorOf(restricted.addTask(input));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.field)).toEqual([field]);
  });

  test('a hardened task is accepted and runs', async () => {
    await restricted.addTask(withContainer('hardened-ok', hardened, hardenedPod));
    expect((await restricted.waitFor('hardened-ok')).outcome).toBe('succeeded');
  });
});

describe("a namespace's Pod Security Admission, with podSecurity: privileged (the opt-out)", () => {
  let optedOut: Runner;
  beforeAll(async () => {
    await core.createNamespace({
      body: { metadata: { name: 'enforced', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } },
    });
    optedOut = await createRunner({
      kubeConfig: engine.cluster.kubeConfig,
      namespace: 'enforced',
      store: 'memory://',
      podSecurity: 'privileged',
      // An hour: were the refusal left to the pending budget, the test would time out long before.
      stuck: { pendingBudgetMs: 3_600_000 },
    });
  });
  afterAll(async () => {
    await optedOut.shutdown();
  });

  test('the task fails at once with PodSecurityViolation and the apiserver message, and its Job is cleaned up', async () => {
    await optedOut.addTask(withContainer('escalates', { securityContext: { privileged: true } }));
    const record = await optedOut.waitFor('escalates');
    expect(record).toMatchObject({ state: 'deleted', outcome: 'failed', failure: { reason: 'PodSecurityViolation' } });
    expect(record.failure?.message).toBe(
      'The namespace\'s Pod Security Admission refuses the Job\'s pods: violates PodSecurity "baseline:latest": ' +
        'privileged (container "task" must not set securityContext.privileged=true)',
    );
    expect(record.failure?.events?.some((e) => e.startsWith('FailedCreate: Error creating: pods "escalates-'))).toBe(
      true,
    );
    expect(engine.cluster.objects('jobs').filter((j) => j.metadata.namespace === 'enforced')).toEqual([]);
  });

  test('a task within the level runs in that namespace', async () => {
    await optedOut.addTask({ id: 'harmless', image, command: ['true'] });
    expect((await optedOut.waitFor('harmless')).outcome).toBe('succeeded');
  });
});
