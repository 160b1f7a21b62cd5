import { ApisApi, BatchApi, BatchV1Api, CoreApi, CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createContext } from '../../src/sim/cluster.js';
import { discoveryHandler } from '../../src/sim/discovery.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { openApiHandler } from '../../src/sim/openapi.js';
import { ApiServer } from '../../src/sim/server.js';
import { RequestLog } from '../../src/sim/stats.js';
import type { ResourceStrategy } from '../../src/sim/strategy.js';

const aggregatedType = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
/** What kubectl 1.32 sends for /api and /apis. */
const kubectlAccept = `${aggregatedType},application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json`;

let cluster: SimulatedCluster;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
});
afterAll(async () => cluster.close());

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- discovery documents are open JSON
async function get(url: string, accept = 'application/json'): Promise<{ type: string | null; body: any }> {
  const response = await fetch(url, { headers: { Accept: accept } });
  expect(response.status).toBe(200);
  return { type: response.headers.get('content-type'), body: await response.json() };
}

describe('legacy discovery, read by client-node', () => {
  test('/version reports the Kubernetes version the simulator follows', async () => {
    const info = await cluster.kubeConfig.makeApiClient(VersionApi).getCode();
    expect(info).toMatchObject({
      major: '1',
      minor: '31',
      gitVersion: expect.stringMatching(/^v1\.31\.\d+/) as unknown,
    });
  });

  test('/api lists v1 and /apis lists authorization.k8s.io, batch and coordination.k8s.io with their preferred versions', async () => {
    expect((await cluster.kubeConfig.makeApiClient(CoreApi).getAPIVersions()).versions).toEqual(['v1']);
    const groups = await cluster.kubeConfig.makeApiClient(ApisApi).getAPIVersions();
    expect(groups.groups).toEqual([
      {
        name: 'authorization.k8s.io',
        versions: [{ groupVersion: 'authorization.k8s.io/v1', version: 'v1' }],
        preferredVersion: { groupVersion: 'authorization.k8s.io/v1', version: 'v1' },
      },
      {
        name: 'batch',
        versions: [{ groupVersion: 'batch/v1', version: 'v1' }],
        preferredVersion: { groupVersion: 'batch/v1', version: 'v1' },
      },
      {
        name: 'coordination.k8s.io',
        versions: [{ groupVersion: 'coordination.k8s.io/v1', version: 'v1' }],
        preferredVersion: { groupVersion: 'coordination.k8s.io/v1', version: 'v1' },
      },
    ]);
    const batch = await cluster.kubeConfig.makeApiClient(BatchApi).getAPIGroup();
    expect(batch.preferredVersion?.groupVersion).toBe('batch/v1');
  });

  test('/apis/batch/v1 lists jobs and jobs/status with their verbs and categories', async () => {
    const list = await cluster.kubeConfig.makeApiClient(BatchV1Api).getAPIResources();
    expect(list.groupVersion).toBe('batch/v1');
    expect(list.resources).toEqual([
      {
        name: 'jobs',
        singularName: 'job',
        namespaced: true,
        kind: 'Job',
        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
        categories: ['all'],
      },
      { name: 'jobs/status', singularName: '', namespaced: true, kind: 'Job', verbs: ['get', 'patch', 'update'] },
    ]);
  });

  test('/api/v1 lists events, namespaces (cluster-scoped), pods, pods/log and pods/status, in alphabetical order', async () => {
    const list = await cluster.kubeConfig.makeApiClient(CoreV1Api).getAPIResources();
    const names = list.resources.map((r) => r.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(
      expect.arrayContaining(['events', 'namespaces', 'namespaces/status', 'pods', 'pods/log', 'pods/status']),
    );
    const byName = new Map(list.resources.map((r) => [r.name, r]));
    expect(byName.get('namespaces')).toMatchObject({ namespaced: false, kind: 'Namespace', shortNames: ['ns'] });
    expect(byName.get('pods')).toMatchObject({
      namespaced: true,
      kind: 'Pod',
      shortNames: ['po'],
      categories: ['all'],
    });
    expect(byName.get('pods/log')).toMatchObject({ kind: 'Pod', verbs: ['get'] });
    expect(byName.get('events')).toMatchObject({ shortNames: ['ev'] });
  });
});

describe('aggregated discovery (apidiscovery.k8s.io/v2)', () => {
  test("/apis answers kubectl's Accept with one APIGroupDiscoveryList and its exact media type", async () => {
    const { type, body } = await get(`${cluster.url}/apis`, kubectlAccept);
    expect(type).toBe(aggregatedType);
    expect(body).toEqual({
      kind: 'APIGroupDiscoveryList',
      apiVersion: 'apidiscovery.k8s.io/v2',
      metadata: {},
      items: [
        {
          metadata: { name: 'authorization.k8s.io', creationTimestamp: null },
          versions: [
            {
              version: 'v1',
              freshness: 'Current',
              resources: [
                {
                  resource: 'selfsubjectaccessreviews',
                  responseKind: { group: '', version: '', kind: 'SelfSubjectAccessReview' },
                  scope: 'Cluster',
                  singularResource: 'selfsubjectaccessreview',
                  verbs: ['create'],
                },
              ],
            },
          ],
        },
        {
          metadata: { name: 'batch', creationTimestamp: null },
          versions: [
            {
              version: 'v1',
              freshness: 'Current',
              resources: [
                {
                  resource: 'jobs',
                  responseKind: { group: '', version: '', kind: 'Job' },
                  scope: 'Namespaced',
                  singularResource: 'job',
                  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
                  categories: ['all'],
                  subresources: [
                    {
                      subresource: 'status',
                      responseKind: { group: '', version: '', kind: 'Job' },
                      verbs: ['get', 'patch', 'update'],
                    },
                  ],
                },
              ],
            },
          ],
        },
        {
          metadata: { name: 'coordination.k8s.io', creationTimestamp: null },
          versions: [
            {
              version: 'v1',
              freshness: 'Current',
              resources: [
                {
                  resource: 'leases',
                  responseKind: { group: '', version: '', kind: 'Lease' },
                  scope: 'Namespaced',
                  singularResource: 'lease',
                  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  test('/api answers with the core group (name "") and its subresources', async () => {
    const { type, body } = await get(`${cluster.url}/api`, kubectlAccept);
    expect(type).toBe(aggregatedType);
    expect(body.items).toHaveLength(1);
    expect(body.items[0].metadata.name).toBe('');
    const pods = body.items[0].versions[0].resources.find((r: { resource: string }) => r.resource === 'pods');
    expect(pods).toMatchObject({
      scope: 'Namespaced',
      shortNames: ['po'],
      subresources: [{ subresource: 'log', verbs: ['get'] }, { subresource: 'status' }],
    });
    const namespaces = body.items[0].versions[0].resources.find(
      (r: { resource: string }) => r.resource === 'namespaces',
    );
    expect(namespaces).toMatchObject({ scope: 'Cluster', singularResource: 'namespace' });
  });

  test('a client that does not offer v2 gets the legacy documents as plain JSON', async () => {
    const { type, body } = await get(`${cluster.url}/apis`);
    expect(type).toBe('application/json');
    expect(body.kind).toBe('APIGroupList');
  });
});

describe('served resources drive discovery and OpenAPI', () => {
  const serviceAccounts: ResourceStrategy = {
    info: {
      group: '',
      version: 'v1',
      resource: 'serviceaccounts',
      singular: 'serviceaccount',
      kind: 'ServiceAccount',
      namespaced: true,
      shortNames: ['sa'],
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    },
    selectableFieldKeys: [],
    selectableFields: () => ({}),
    defaultPropagation: 'Background',
  };
  let server: ApiServer;
  let url: string;
  beforeAll(async () => {
    const ctx = createContext({});
    ctx.strategies.set('serviceaccounts', serviceAccounts);
    server = new ApiServer({
      ctx,
      log: new RequestLog({ requests: false }),
      hooks: [],
      subresources: new Map(),
      nonResource: [discoveryHandler(ctx), openApiHandler(ctx)],
    });
    url = await server.listen();
  });
  afterAll(async () => server.close());

  test('a resource another part registers appears in legacy and aggregated discovery and in /openapi/v3/api/v1', async () => {
    const legacy = await get(`${url}/api/v1`);
    expect(legacy.body.resources).toContainEqual({
      name: 'serviceaccounts',
      singularName: 'serviceaccount',
      namespaced: true,
      kind: 'ServiceAccount',
      verbs: serviceAccounts.info.verbs,
      shortNames: ['sa'],
    });
    const aggregated = await get(`${url}/api`, kubectlAccept);
    expect(aggregated.body.items[0].versions[0].resources.map((r: { resource: string }) => r.resource)).toContain(
      'serviceaccounts',
    );
    const openapi = await get(`${url}/openapi/v3/api/v1`);
    expect(
      openapi.body.paths['/api/v1/namespaces/{namespace}/serviceaccounts/{name}'].patch[
        'x-kubernetes-group-version-kind'
      ],
    ).toEqual({ group: '', version: 'v1', kind: 'ServiceAccount' });
    expect(openapi.body.components.schemas['io.k8s.api.core.v1.ServiceAccount'].properties).toHaveProperty(
      'automountServiceAccountToken',
    );
  });
});
