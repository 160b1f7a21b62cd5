import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AuthorizationV1Api,
  BatchV1Api,
  type ApiException,
  type V1Job,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { startSimulatedCluster, type ClusterChange, type SimulatedCluster } from '../../src/sim/index.js';
import { kubeConfigWithToken, rbacFromManifest } from '../engine/rbac-mode.js';

/*
 * The simulated cluster's SelfSubjectAccessReviews (authorization.k8s.io/v1) and dry-run Job
 * creates, through client-node and kubectl as a real apiserver would be reached.
 */

const { rules, token, namespace } = await rbacFromManifest('deploy/rbac.yaml');

async function withCluster<T>(rbac: boolean, body: (cluster: SimulatedCluster) => Promise<T>): Promise<T> {
  const cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted' },
    ...(rbac ? { rbac: { rules, token, namespace } } : {}),
  });
  try {
    return await body(cluster);
  } finally {
    await cluster.close();
  }
}

const review = (cluster: SimulatedCluster, resourceAttributes: V1ResourceAttributes, asServiceAccount = true) =>
  (asServiceAccount ? kubeConfigWithToken(cluster, token) : cluster.kubeConfig)
    .makeApiClient(AuthorizationV1Api)
    .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes } } });

const failure = (promise: Promise<unknown>): Promise<ApiException<string>> =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as ApiException<string>,
  );

describe('SelfSubjectAccessReview', () => {
  test("in RBAC mode the service account's Role decides; the review itself is always allowed", async () => {
    await withCluster(true, async (cluster) => {
      const allowed = await review(cluster, { namespace: 'default', verb: 'create', group: 'batch', resource: 'jobs' });
      expect(allowed.kind).toBe('SelfSubjectAccessReview');
      expect(allowed.apiVersion).toBe('authorization.k8s.io/v1');
      expect(allowed.spec.resourceAttributes).toMatchObject({ verb: 'create', resource: 'jobs' });
      expect(allowed.status).toMatchObject({ allowed: true, reason: expect.stringMatching(/^RBAC: allowed by/) });
      // A refusal: allowed false, never denied, no reason (RBAC's way).
      for (const attributes of [
        { namespace: 'default', verb: 'get', resource: 'secrets' },
        { namespace: 'default', verb: 'create', resource: 'pods' },
        { namespace: 'other', verb: 'create', group: 'batch', resource: 'jobs' },
        { namespace: 'default', verb: 'get', group: 'coordination.k8s.io', resource: 'leases', name: 'another' },
      ])
        expect((await review(cluster, attributes)).status, JSON.stringify(attributes)).toEqual({ allowed: false });
      expect(
        (await review(cluster, { namespace: 'default', verb: 'get', resource: 'pods', subresource: 'log' })).status
          ?.allowed,
      ).toBe(true);
      // Another token (the admin's) is not held to the Role.
      expect(
        (await review(cluster, { namespace: 'default', verb: 'get', resource: 'secrets' }, false)).status,
      ).toMatchObject({ allowed: true });
      const reviews = cluster.requests().filter((r) => r.resource === 'selfsubjectaccessreviews');
      expect(reviews.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201, 201]);
    });
  });

  test('without RBAC everything is allowed', async () => {
    await withCluster(false, async (cluster) => {
      const answer = await review(cluster, { namespace: 'default', verb: 'delete', resource: 'namespaces' });
      expect(answer.status?.allowed).toBe(true);
    });
  });

  test('a spec with neither or both kinds of attributes is 422; any verb but create is 405', async () => {
    await withCluster(false, async (cluster) => {
      const api = cluster.kubeConfig.makeApiClient(AuthorizationV1Api);
      const neither = await failure(api.createSelfSubjectAccessReview({ body: { spec: {} } }));
      expect(neither.code).toBe(422);
      expect(JSON.parse(neither.body).message).toBe(
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified',
      );
      const both = await failure(
        api.createSelfSubjectAccessReview({
          body: {
            spec: { resourceAttributes: { verb: 'get' }, nonResourceAttributes: { path: '/version', verb: 'get' } },
          },
        }),
      );
      expect(both.code).toBe(422);
      const list = await fetch(`${cluster.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
        headers: { Authorization: 'Bearer k8s-jobs-sim-token' },
      });
      expect(list.status).toBe(405);
      expect(cluster.stats().objects).toEqual({ jobs: 0, pods: 0, events: 0 });
    });
  });

  test('kubectl auth can-i finds the resource by discovery and asks it', async () => {
    // kubectl sends no bearer token over plain HTTP, so it is the cluster's admin here: "yes".
    await withCluster(false, async (cluster) => {
      const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-ssar-'));
      try {
        const kubeconfig = join(dir, 'config');
        await cluster.writeKubeconfig(kubeconfig);
        const { stdout } = await promisify(execFile)('kubectl', [
          '--kubeconfig',
          kubeconfig,
          'auth',
          'can-i',
          'create',
          'jobs.batch',
        ]);
        expect(stdout.trim()).toBe('yes');
        expect(
          cluster
            .requests()
            .filter((r) => r.resource === 'selfsubjectaccessreviews')
            .map((r) => r.status),
        ).toEqual([201]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('dryRun=All on a Job create', () => {
  test('validates and admits, answers 201 with the object, stores nothing and starts nothing', async () => {
    await withCluster(false, async (cluster) => {
      const changes: ClusterChange[] = [];
      const unsubscribe = cluster.onChange((change) => changes.push(change));
      const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
      const body: V1Job = {
        metadata: { name: 'dry' },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
      };
      const created = await batch.createNamespacedJob({ namespace: 'default', body, dryRun: 'All' });
      expect(created.metadata).toMatchObject({ name: 'dry', namespace: 'default' });
      expect(created.spec?.backoffLimit).toBe(6); // defaulted, as a real create would be
      unsubscribe();
      expect(changes).toEqual([]);
      expect(cluster.jobCreations()).toEqual([]);
      // A real create of the same name afterwards succeeds: nothing was stored.
      await batch.createNamespacedJob({ namespace: 'default', body });
      expect(cluster.jobCreations()).toHaveLength(1);
      // A dry run of a name that exists is still a 409, as the dry-run storage answers it.
      const again = await failure(batch.createNamespacedJob({ namespace: 'default', body, dryRun: 'All' }));
      expect(again.code).toBe(409);
      expect(JSON.parse(again.body).message).toBe('jobs.batch "dry" already exists');
    });
  });
});
