import { BatchV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';

let cluster: SimulatedCluster;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
});
afterAll(async () => cluster.close());

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- OpenAPI documents are open JSON

async function http(
  path: string,
  init: { method?: string; body?: unknown; contentType?: string } = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const response = await fetch(`${cluster.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      Authorization: 'Bearer k8s-jobs-sim-token',
      'Content-Type': init.contentType ?? 'application/json',
      Accept: 'application/json',
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

async function document(gv: string): Promise<Json> {
  const index = await http('/openapi/v3');
  const url = index.body['paths'][gv]['serverRelativeURL'] as string;
  return (await http(url)).body;
}

const job = (name: string, extra: { spec?: Json; container?: Json; metadata?: Json } = {}): Json => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, ...extra.metadata },
  spec: {
    ...extra.spec,
    template: {
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'busybox', command: ['true'], ...extra.container }],
      },
    },
  },
});

describe('/openapi/v3', () => {
  test('the index lists one document per served group-version, addressed with a content hash', async () => {
    const { status, body } = await http('/openapi/v3');
    expect(status).toBe(200);
    expect(Object.keys(body['paths']).sort()).toEqual([
      'api/v1',
      'apis/authorization.k8s.io/v1',
      'apis/batch/v1',
      'apis/coordination.k8s.io/v1',
    ]);
    expect(body['paths']['apis/batch/v1']['serverRelativeURL']).toMatch(
      /^\/openapi\/v3\/apis\/batch\/v1\?hash=[0-9A-F]{128}$/,
    );
  });

  test('the Job PATCH operation carries the GVK and a fieldValidation query parameter, as kubectl requires', async () => {
    const doc = await document('apis/batch/v1');
    expect(doc['openapi']).toBe('3.0.0');
    const patch = doc['paths']['/apis/batch/v1/namespaces/{namespace}/jobs/{name}']['patch'];
    expect(patch['operationId']).toBe('patchBatchV1NamespacedJob');
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'batch', version: 'v1', kind: 'Job' });
    expect(patch['parameters']).toContainEqual(expect.objectContaining({ name: 'fieldValidation', in: 'query' }));
    const paths = doc['paths'];
    expect(paths['/apis/batch/v1/namespaces/{namespace}/jobs']['post']['operationId']).toBe(
      'createBatchV1NamespacedJob',
    );
    expect(paths['/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status']['put']['operationId']).toBe(
      'replaceBatchV1NamespacedJobStatus',
    );
    expect(paths['/apis/batch/v1/jobs']['get']['operationId']).toBe('listBatchV1JobForAllNamespaces');
  });

  test('core/v1 serves Pods (with pods/log), Namespaces and Events with their GVKs', async () => {
    const doc = await document('api/v1');
    const paths = doc['paths'];
    expect(paths['/api/v1/namespaces/{namespace}/pods/{name}']['patch']['x-kubernetes-group-version-kind']).toEqual({
      group: '',
      version: 'v1',
      kind: 'Pod',
    });
    expect(paths['/api/v1/namespaces/{namespace}/pods/{name}/log']['get']['operationId']).toBe(
      'readCoreV1NamespacedPodLog',
    );
    expect(paths['/api/v1/namespaces/{name}']['get']['operationId']).toBe('readCoreV1Namespace');
    expect(paths['/api/v1/namespaces/{namespace}/events']['get']['operationId']).toBe('listCoreV1NamespacedEvent');
    expect(doc['components']['schemas']['io.k8s.api.core.v1.Event']['x-kubernetes-group-version-kind']).toEqual([
      { group: '', kind: 'Event', version: 'v1' },
    ]);
  });

  test('component schemas are the real type tree, named as Kubernetes names them, every $ref resolving', async () => {
    const doc = await document('apis/batch/v1');
    const schemas = doc['components']['schemas'];
    const jobSchema = schemas['io.k8s.api.batch.v1.Job'];
    expect(jobSchema['x-kubernetes-group-version-kind']).toEqual([{ group: 'batch', kind: 'Job', version: 'v1' }]);
    expect(jobSchema['description']).toBe('Job represents the configuration of a single job.');
    expect(jobSchema['properties']['metadata']).toEqual({
      $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
    });
    // A described $ref is wrapped in allOf, since OpenAPI 3.0 ignores a $ref's siblings.
    expect(schemas['io.k8s.api.core.v1.HTTPGetAction']['properties']['port']).toEqual({
      description: expect.stringContaining('int32 or a string') as unknown,
      allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' }],
    });
    expect(schemas['io.k8s.api.batch.v1.JobSpec']['properties']['backoffLimit']).toMatchObject({
      type: 'integer',
      format: 'int32',
      description: expect.stringContaining('Defaults to 6') as unknown,
    });
    expect(schemas['io.k8s.api.batch.v1.JobSpec']['required']).toEqual(['template']);
    expect(schemas['io.k8s.api.core.v1.PodSpec']['required']).toEqual(['containers']);
    expect(schemas['io.k8s.api.core.v1.PodSpec']['properties']['containers']).toMatchObject({
      type: 'array',
      items: { $ref: '#/components/schemas/io.k8s.api.core.v1.Container' },
    });
    expect(schemas['io.k8s.api.core.v1.ResourceRequirements']['properties']['limits']).toMatchObject({
      type: 'object',
      additionalProperties: { type: 'string' },
    });
    expect(schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']['properties']['creationTimestamp']).toMatchObject(
      { type: 'string', format: 'date-time' },
    );
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? [];
    for (const ref of new Set(refs))
      expect(schemas).toHaveProperty([ref.slice('"$ref":"#/components/schemas/'.length, -1)]);
  });
});

describe('fieldValidation', () => {
  test("Strict rejects unknown fields with 400 and the strict decoder's message, naming each path", async () => {
    const { status, body } = await http('/apis/batch/v1/namespaces/default/jobs?fieldValidation=Strict', {
      method: 'POST',
      body: job('strict', { spec: { foo: 1 }, container: { bar: true }, metadata: { colour: 'red' } }),
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'BadRequest',
      code: 400,
      message:
        'strict decoding error: unknown field "metadata.colour", unknown field "spec.foo", unknown field "spec.template.spec.containers[0].bar"',
    });
    expect(cluster.objects('jobs').map((j) => j.metadata.name)).not.toContain('strict');
  });

  test('Warn (the default) creates the object without the unknown fields and says so in Warning headers', async () => {
    const { status, headers, body } = await http('/apis/batch/v1/namespaces/default/jobs', {
      method: 'POST',
      body: job('warned', { spec: { foo: 1 }, container: { bar: true } }),
    });
    expect(status).toBe(201);
    expect(headers.get('warning')).toBe(
      '299 - "unknown field \\"spec.foo\\"", 299 - "unknown field \\"spec.template.spec.containers[0].bar\\""',
    );
    expect(body['spec']).not.toHaveProperty('foo');
    expect(body['spec']['template']['spec']['containers'][0]).not.toHaveProperty('bar');
  });

  test('Ignore drops unknown fields silently', async () => {
    const { status, headers, body } = await http('/apis/batch/v1/namespaces/default/jobs?fieldValidation=Ignore', {
      method: 'POST',
      body: job('ignored', { spec: { foo: 1 } }),
    });
    expect(status).toBe(201);
    expect(headers.get('warning')).toBeNull();
    expect(body['spec']).not.toHaveProperty('foo');
  });

  test('an unsupported fieldValidation value is 422, as ValidateFieldValidation answers', async () => {
    const { status, body } = await http('/apis/batch/v1/namespaces/default/jobs?fieldValidation=Loud', {
      method: 'POST',
      body: job('loud'),
    });
    expect(status).toBe(422);
    expect(body['message']).toBe(
      'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "", "Ignore", "Strict", "Warn"',
    );
  });

  test('Strict accepts every real field: metadata, free-form maps, quantities, probes, status', async () => {
    const full = job('full', {
      metadata: {
        labels: { 'app.kubernetes.io/name': 'x', anything: 'goes' },
        annotations: { 'example.com/any-key': 'value' },
        finalizers: ['example.com/keep'],
        managedFields: [
          {
            manager: 'kubectl',
            operation: 'Update',
            apiVersion: 'batch/v1',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:spec': { 'f:anything': {} } },
          },
        ],
      },
      spec: {
        backoffLimit: 2,
        activeDeadlineSeconds: 30,
        ttlSecondsAfterFinished: 60,
        podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] },
      },
      container: {
        env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
        resources: { limits: { cpu: '500m', 'example.com/gpu': '1' }, requests: { memory: '64Mi' } },
        readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 5 },
        ports: [{ name: 'http', containerPort: 8080 }],
      },
    });
    full['status'] = { active: 0 };
    const { status, headers } = await http('/apis/batch/v1/namespaces/default/jobs?fieldValidation=Strict', {
      method: 'POST',
      body: full,
    });
    expect(headers.get('warning')).toBeNull();
    expect(status).toBe(201);
  });

  test('a PUT with an unknown field is rejected under Strict too', async () => {
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    const created = await batch.createNamespacedJob({ namespace: 'default', body: job('replaced') });
    const body = {
      ...JSON.parse(JSON.stringify(created)),
      spec: { ...JSON.parse(JSON.stringify(created.spec)), extra: 'x' },
    } as Json;
    const { status, body: answer } = await http(
      '/apis/batch/v1/namespaces/default/jobs/replaced?fieldValidation=Strict',
      { method: 'PUT', body },
    );
    expect(status).toBe(400);
    expect(answer['message']).toBe('strict decoding error: unknown field "spec.extra"');
  });

  test('a PATCH is validated on the patched object: Strict rejects, Warn drops the field and warns', async () => {
    const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({ namespace: 'default', body: job('patched') });
    const patch = { metadata: { labels: { team: 'a' } }, spec: { suspend: true, parralelism: 2 } };
    const strict = await http('/apis/batch/v1/namespaces/default/jobs/patched?fieldValidation=Strict', {
      method: 'PATCH',
      body: patch,
      contentType: 'application/merge-patch+json',
    });
    expect(strict.status).toBe(400);
    expect(strict.body['message']).toBe('strict decoding error: unknown field "spec.parralelism"');
    const smp = await http('/apis/batch/v1/namespaces/default/jobs/patched', {
      method: 'PATCH',
      body: patch,
      contentType: 'application/strategic-merge-patch+json',
    });
    expect(smp.status).toBe(200);
    expect(smp.headers.get('warning')).toBe('299 - "unknown field \\"spec.parralelism\\""');
    expect(smp.body['spec']).toMatchObject({ suspend: true });
    expect(smp.body['spec']).not.toHaveProperty('parralelism');
    expect(smp.body['metadata']['labels']).toMatchObject({ team: 'a' });
  });
});
