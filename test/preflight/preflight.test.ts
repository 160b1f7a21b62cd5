import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { PreflightError } from '../../src/errors.js';
import { createPreflightApi } from '../../src/kube/preflight-api.js';
import { createRunner } from '../../src/runner/create-runner.js';
import type { RunnerOptions } from '../../src/runner/options.js';
import { runPreflight, type PreflightReport } from '../../src/runner/preflight.js';
import { requiredAccess } from '../../src/runner/preflight-access.js';
import {
  startSimulatedCluster,
  type ClusterChange,
  type PolicyRule,
  type SimulatedCluster,
  type SimulatedClusterOptions,
} from '../../src/sim/index.js';
import { kubeConfigWithToken, rbacFromManifest } from '../engine/rbac-mode.js';

/*
 * runner.preflight() and createRunner({ preflight }) against the simulated cluster over HTTP,
 * with the real client-node: SelfSubjectAccessReviews answered from the sim's RBAC mode, the
 * namespace read (or, under the Role, found by the dry-run), and a dry-run create that stores
 * nothing.
 */

const manifest = 'deploy/rbac.yaml';
const { rules } = await rbacFromManifest(manifest);

/** The Role's rules without one verb on one resource. */
function without(resource: string, verb: string, from: PolicyRule[] = rules): PolicyRule[] {
  return from.map((rule) =>
    rule.resources.includes(resource) ? { ...rule, verbs: rule.verbs.filter((v) => v !== verb) } : rule,
  );
}

/** A cluster of its own, every stored change recorded (a dry run must store none). */
async function withCluster<T>(
  options: SimulatedClusterOptions,
  body: (cluster: SimulatedCluster, changes: ClusterChange[]) => Promise<T>,
): Promise<T> {
  const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' }, ...options });
  const changes: ClusterChange[] = [];
  const unsubscribe = cluster.onChange((change) => changes.push(change));
  try {
    return await body(cluster, changes);
  } finally {
    unsubscribe();
    await cluster.close();
  }
}

/** The runner's KubeConfig: the Role's service account in RBAC mode, else the sim's admin. */
function runnerKubeConfig(cluster: SimulatedCluster, options: SimulatedClusterOptions) {
  return options.rbac?.token ? kubeConfigWithToken(cluster, options.rbac.token) : cluster.kubeConfig;
}

async function runnerOptions(cluster: SimulatedCluster, options: SimulatedClusterOptions): Promise<RunnerOptions> {
  return { kubeConfig: runnerKubeConfig(cluster, options), namespace: 'default', store: 'memory://' };
}

/** The preflight of a runner created (not started) for it, then shut down. */
async function preflightOf(
  cluster: SimulatedCluster,
  options: SimulatedClusterOptions,
  extra: RunnerOptions = {},
  sampleTask?: Parameters<Awaited<ReturnType<typeof createRunner>>['preflight']>[0],
): Promise<PreflightReport> {
  const runner = await createRunner({ ...(await runnerOptions(cluster, options)), ...extra });
  try {
    return await runner.preflight(sampleTask);
  } finally {
    await runner.shutdown();
  }
}

/** What the dry-run and the checks must never leave behind: a Job, a pod, an event. */
function expectNothingCreated(cluster: SimulatedCluster, changes: ClusterChange[]): void {
  expect(cluster.jobCreations()).toEqual([]);
  expect(cluster.objects('jobs')).toEqual([]);
  expect(changes.filter((c) => ['jobs', 'pods', 'events'].includes(c.resource))).toEqual([]);
}

const problemChecks = (report: PreflightReport) => report.problems.map((p) => p.check);

describe('preflight', () => {
  test('every check passes on a cluster without RBAC, and nothing is created', async () => {
    await withCluster({}, async (cluster, changes) => {
      const runner = await createRunner({ ...(await runnerOptions(cluster, {})), preflight: true });
      try {
        const report = await runner.preflight();
        expect(report).toMatchObject({ ok: true, namespace: 'default', problems: [] });
        expect(report.checks.map((c) => c.check)).toEqual([
          'access: create jobs.batch',
          'access: get jobs.batch',
          'access: list jobs.batch',
          'access: watch jobs.batch',
          'access: delete jobs.batch',
          'access: list pods',
          'access: watch pods',
          'access: get pods/log',
          'access: list events',
          'namespace',
          'dry-run job',
          'dry-run pod',
        ]);
        expect(report.checks.find((c) => c.check === 'namespace')?.detail).toBe('namespace "default" exists');
        expect(report.checks.every((c) => c.ok)).toBe(true);
      } finally {
        await runner.shutdown();
      }
      expectNothingCreated(cluster, changes);
      // createRunner's preflight and the explicit one: a Job and (admin may create pods) a pod each.
      for (const resource of ['jobs', 'pods']) {
        const dryRuns = cluster.requests().filter((r) => r.verb === 'create' && r.resource === resource);
        expect(dryRuns.map((r) => r.status)).toEqual([201, 201]);
      }
    });
  });

  test("under deploy/rbac.yaml's Role every check passes; the namespace is found by the dry-run", async () => {
    const rbac = await rbacFromManifest(manifest);
    await withCluster({ rbac }, async (cluster, changes) => {
      const report = await preflightOf(cluster, { rbac });
      expect(report.problems).toEqual([]);
      expect(report.checks.find((c) => c.check === 'dry-run pod')?.detail).toMatch(
        /^skipped: not allowed to create pods/,
      );
      expect(report.checks.find((c) => c.check === 'namespace')?.detail).toMatch(
        /not allowed to get namespaces .*the dry-run create found namespace "default"/,
      );
      // The service account was really refused the namespace GET, and really asked the reviews.
      const requests = cluster.requests();
      expect(requests.find((r) => r.resource === 'namespaces' && r.verb === 'get')?.status).toBe(403);
      expect(requests.filter((r) => r.resource === 'selfsubjectaccessreviews').every((r) => r.status === 201)).toBe(
        true,
      );
      expectNothingCreated(cluster, changes);
    });
  });

  test('a Role missing verbs fails createRunner with a PreflightError naming each of them', async () => {
    const rbac = { ...(await rbacFromManifest(manifest)), rules: without('events', 'list', without('jobs', 'delete')) };
    await withCluster({ rbac }, async (cluster, changes) => {
      const error = await createRunner({ ...(await runnerOptions(cluster, { rbac })), preflight: true }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(PreflightError);
      const preflight = error as PreflightError;
      expect(preflight.code).toBe('PREFLIGHT');
      expect(preflight.namespace).toBe('default');
      expect(preflight.problems.map((p) => p.check)).toEqual(['access: delete jobs.batch', 'access: list events']);
      expect(preflight.problems[0]?.problem).toMatch(
        /^not allowed to delete jobs\.batch in namespace "default", needed for cleanup/,
      );
      expect(preflight.message).toMatch(
        /found 2 problems: access: delete jobs\.batch: not allowed .*; access: list events: not allowed/,
      );
      // The runner never started: no watch was opened, nothing created.
      expect(cluster.requests().some((r) => r.verb === 'watch')).toBe(false);
      expectNothingCreated(cluster, changes);
    });
  });

  test('a failed preflight leaves the store closed and unlocked: the next createRunner opens it', async () => {
    const rbac = { ...(await rbacFromManifest(manifest)), rules: without('jobs', 'create') };
    const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-preflight-'));
    await withCluster({ rbac }, async (cluster) => {
      const options = { ...(await runnerOptions(cluster, { rbac })), store: `sqlite://${join(dir, 'store.sqlite')}` };
      await expect(createRunner({ ...options, preflight: true })).rejects.toThrow(PreflightError);
      const runner = await createRunner(options);
      await runner.shutdown();
    }).finally(() => rm(dir, { recursive: true, force: true }));
  });

  test('with leader election, the Lease verbs are checked too (by name where the Role names it)', async () => {
    const rbac = { ...(await rbacFromManifest(manifest)), rules: without('leases', 'update') };
    await withCluster({ rbac }, async (cluster) => {
      const api = createPreflightApi({ kubeConfig: kubeConfigWithToken(cluster, rbac.token), namespace: 'default' });
      const report = await runPreflight({ api, lease: { name: 'k8s-jobs', namespace: 'default' } });
      expect(report.checks.filter((c) => c.check.includes('leases')).map((c) => [c.check, c.ok])).toEqual([
        ['access: create leases.coordination.k8s.io', true],
        ['access: get leases.coordination.k8s.io "k8s-jobs"', true],
        ['access: update leases.coordination.k8s.io "k8s-jobs"', false],
      ]);
      expect(problemChecks(report)).toEqual(['access: update leases.coordination.k8s.io "k8s-jobs"']);
      // Another Lease than the Role's is not granted: the name is part of the question.
      const other = await runPreflight({ api, lease: { name: 'another', namespace: 'default' } });
      expect(problemChecks(other)).toEqual([
        'access: get leases.coordination.k8s.io "another"',
        'access: update leases.coordination.k8s.io "another"',
      ]);
    });
  });

  test('a namespace that does not exist is reported, by the GET and by the dry-run', async () => {
    await withCluster({}, async (cluster, changes) => {
      const report = await preflightOf(cluster, {}, { namespace: 'nowhere' });
      expect(report.namespace).toBe('nowhere');
      expect(report.problems).toEqual([
        { check: 'namespace', problem: 'namespace "nowhere" does not exist' },
        {
          check: 'dry-run job',
          problem: 'the API server refused the sample Job: 404 NotFound: namespaces "nowhere" not found',
        },
      ]);
      expectNothingCreated(cluster, changes);
    });
  });

  test('a sample Job the API server refuses is reported with its message, and nothing is created', async () => {
    await withCluster({}, async (cluster, changes) => {
      const sample = {
        id: 'bad-sample',
        image: 'busybox',
        command: ['true'],
        podTemplate: { spec: { restartPolicy: 'Always' } },
      };
      const report = await preflightOf(cluster, {}, {}, sample);
      expect(problemChecks(report)).toEqual(['dry-run job']);
      expect(report.problems[0]?.problem).toMatch(
        /^the API server refused the sample Job: 422 Invalid: Job\.batch "bad-sample" is invalid: spec\.template\.spec\.restartPolicy/,
      );
      expectNothingCreated(cluster, changes);
    });
  });

  test("a LimitRange the sample's pod exceeds is found by the pod dry-run (a Job never meets it)", async () => {
    await withCluster({}, async (cluster, changes) => {
      await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespacedLimitRange({
        namespace: 'default',
        body: { metadata: { name: 'small' }, spec: { limits: [{ type: 'Container', max: { memory: '64Mi' } }] } },
      });
      const sample = { id: 'big', image: 'busybox', command: ['true'], resources: { limits: { memory: '128Mi' } } };
      const report = await preflightOf(cluster, {}, {}, sample);
      expect(report.problems).toEqual([
        {
          check: 'dry-run pod',
          problem: expect.stringMatching(
            /^the API server would refuse the sample Job's pods: 403 Forbidden: pods "big-[a-z0-9]{5}" is forbidden: maximum memory usage per Container is 64Mi, but limit is 128Mi/,
          ),
        },
      ]);
      expectNothingCreated(cluster, changes);
    });
  });

  describe('in a namespace enforcing the restricted Pod Security level', () => {
    const namespace = 'locked';
    const setUp = async (cluster: SimulatedCluster) => {
      const labels = { 'pod-security.kubernetes.io/enforce': 'restricted' };
      await cluster.kubeConfig
        .makeApiClient(CoreV1Api)
        .createNamespace({ body: { metadata: { name: namespace, labels } } });
    };
    /** The sample made to meet `restricted`: what the default busybox one lacks. */
    const restrictedSample = {
      id: 'restricted-sample',
      image: 'busybox',
      podTemplate: {
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'task',
              image: 'busybox',
              command: ['true'],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    };

    test("the pod dry-run is refused with the apiserver's message; a sample that meets the level passes", async () => {
      await withCluster({}, async (cluster, changes) => {
        await setUp(cluster);
        const report = await preflightOf(cluster, {}, { namespace });
        expect(problemChecks(report)).toEqual(['dry-run pod']);
        expect(report.problems[0]?.problem).toMatch(
          /^the API server would refuse the sample Job's pods: 403 Forbidden: pods "k8s-jobs-preflight-[a-z0-9]{5}" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
        );
        // The Job itself is admitted, with PodSecurity's warning (warn follows enforce).
        expect(report.checks.find((c) => c.check === 'dry-run job')).toMatchObject({
          ok: true,
          detail: expect.stringMatching(/^admitted, with warnings: would violate PodSecurity "restricted:latest": /),
        });
        expect((await preflightOf(cluster, {}, { namespace }, restrictedSample)).problems).toEqual([]);
        expectNothingCreated(cluster, changes);
      });
    });

    test("a Role that may not create pods gets the Job's PodSecurity warning as the problem", async () => {
      const rbac = { ...(await rbacFromManifest(manifest)), namespace };
      await withCluster({ rbac }, async (cluster, changes) => {
        await setUp(cluster);
        const report = await preflightOf(cluster, { rbac }, { namespace });
        expect(problemChecks(report)).toEqual(['dry-run job']);
        expect(report.problems[0]?.problem).toMatch(
          /^the sample Job's pods would be refused: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "task" must set securityContext\.allowPrivilegeEscalation=false\)/,
        );
        expect((await preflightOf(cluster, { rbac }, { namespace }, restrictedSample)).problems).toEqual([]);
        expectNothingCreated(cluster, changes);
      });
    });
  });

  test("requiredAccess is exactly deploy/rbac.yaml's Role", () => {
    const granted = rules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) =>
          rule.verbs.flatMap((verb) =>
            (rule.resourceNames ?? ['']).map((name) => `${verb} ${group}/${resource} ${name}`),
          ),
        ),
      ),
    );
    const needed = requiredAccess('default', { name: 'k8s-jobs', namespace: 'default' }).map(
      (a) => `${a.verb} ${a.group}/${a.subresource ? `${a.resource}/${a.subresource}` : a.resource} ${a.name ?? ''}`,
    );
    expect(needed.sort()).toEqual(granted.sort());
  });
});
