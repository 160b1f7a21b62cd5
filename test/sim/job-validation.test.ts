import { ApiException, BatchV1Api, PatchStrategy, setHeaderOptions, type V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { KubeObject } from '../../src/sim/types.js';
import { jobManifest, jobNamed, jobWithCondition } from '../helpers/sim-jobs.js';

// The controller is not needed to judge what the API server accepts; no kubelet either.
let cluster: SimulatedCluster;
let batch: BatchV1Api;
beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
});
afterAll(async () => cluster.close());

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Status {
  code: number;
  reason: string;
  message: string;
  details: { name: string; group: string; kind: string; causes: { reason: string; message: string; field: string }[] };
}

/** Sends the body and returns the Status of the API's refusal. */
async function rejection(send: () => Promise<unknown>): Promise<Status> {
  try {
    await send();
  } catch (err) {
    if (err instanceof ApiException) return JSON.parse(err.body as string) as Status;
    throw err;
  }
  throw new Error('the API server accepted it');
}

function createRaw(body: unknown): Promise<unknown> {
  return batch.createNamespacedJob({ namespace: 'default', body: body as V1Job });
}

describe('defaults (SetDefaults_Job) and the generated selector', () => {
  test('a minimal Job is stored with Kubernetes defaults, its selector and the four template labels', async () => {
    const created = await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'defaults' },
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [{ name: 'worker', image: 'busybox', command: ['echo', 'hi'] }],
            },
          },
        },
      },
    });
    const uid = created.metadata?.uid ?? '';
    expect(uid).toMatch(/^[0-9a-f-]{36}$/);
    const stored = jobNamed(cluster, 'defaults') as KubeObject;
    const labels = {
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': 'defaults',
      'controller-uid': uid,
      'job-name': 'defaults',
    };
    expect(stored.spec).toEqual({
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      completions: 1,
      manualSelector: false,
      parallelism: 1,
      podReplacementPolicy: 'TerminatingOrFailed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
      suspend: false,
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: 'worker',
              image: 'busybox',
              command: ['echo', 'hi'],
              imagePullPolicy: 'Always',
              resources: {},
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
            },
          ],
          dnsPolicy: 'ClusterFirst',
          restartPolicy: 'Never',
          schedulerName: 'default-scheduler',
          securityContext: {},
          terminationGracePeriodSeconds: 30,
        },
      },
    });
    // A Job without labels of its own shows its template's.
    expect(stored.metadata.labels).toEqual(labels);
    expect(stored.metadata.generation).toBe(1);
  });

  test('completions stays unset for a work-queue Job; backoffLimitPerIndex raises the default backoffLimit', async () => {
    await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest('work-queue-defaults', { parallelism: 3 }),
    });
    expect(jobNamed(cluster, 'work-queue-defaults')?.spec).toMatchObject({ parallelism: 3, backoffLimit: 6 });
    expect(jobNamed(cluster, 'work-queue-defaults')?.spec.completions).toBeUndefined();
    await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest('per-index', { completions: 2, completionMode: 'Indexed', backoffLimitPerIndex: 1 }),
    });
    expect(jobNamed(cluster, 'per-index')?.spec).toMatchObject({
      completions: 2,
      parallelism: 1,
      backoffLimit: 2147483647,
    });
  });

  test('Job labels of its own are kept; template labels join the generated ones', async () => {
    await batch.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: 'labelled', labels: { team: 'a' } },
        spec: {
          template: {
            metadata: { labels: { app: 'x' } },
            spec: { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: 'busybox:latest' }] },
          },
        },
      },
    });
    const stored = jobNamed(cluster, 'labelled') as KubeObject;
    expect(stored.metadata.labels).toEqual({ team: 'a' });
    expect(stored.spec.template.metadata.labels).toMatchObject({
      app: 'x',
      'job-name': 'labelled',
      'batch.kubernetes.io/job-name': 'labelled',
    });
    expect(stored.spec.template.spec.containers[0].imagePullPolicy).toBe('Always');
  });

  test.each([
    ['busybox', 'Always'],
    ['busybox:latest', 'Always'],
    ['busybox:1.36', 'IfNotPresent'],
    ['localhost:5000/tools/busybox', 'Always'],
    ['ghcr.io/org/app@sha256:' + 'a'.repeat(64), 'IfNotPresent'],
  ])('imagePullPolicy defaults from the image reference: %s → %s', async (image, policy) => {
    const name = `pull-${policy.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`;
    const created = await batch.createNamespacedJob({
      namespace: 'default',
      body: jobManifest(name, {}, { containers: [{ name: 'c', image }] }),
    });
    expect(created.spec?.template.spec?.containers[0]?.imagePullPolicy).toBe(policy);
  });
});

describe('validation (ValidateJob) with the API server messages', () => {
  test('a name that is not a DNS-1123 subdomain', async () => {
    const status = await rejection(() => createRaw(jobManifest('My_Job')));
    const detail =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    expect(status).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message: `Job.batch "My_Job" is invalid: metadata.name: Invalid value: "My_Job": ${detail}`,
    });
    expect(status.details).toEqual({
      name: 'My_Job',
      group: 'batch',
      kind: 'Job',
      causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "My_Job": ${detail}`, field: 'metadata.name' }],
    });
  });

  test('a 64-character name fails on the generated job-name labels, reported on spec.template.labels', async () => {
    const name = 'a'.repeat(64);
    const status = await rejection(() => createRaw(jobManifest(name)));
    expect(status.message).toBe(
      `Job.batch "${name}" is invalid: spec.template.labels: Invalid value: "${name}": must be no more than 63 characters`,
    );
    expect(status.details.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": must be no more than 63 characters`,
        field: 'spec.template.labels',
      },
      {
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": must be no more than 63 characters`,
        field: 'spec.template.labels',
      },
    ]);
    // 63 characters are fine.
    await createRaw(jobManifest('b'.repeat(63)));
  });

  test('restartPolicy must be Never or OnFailure (the pod default Always counts as unset)', async () => {
    const missing = await rejection(() =>
      createRaw({
        metadata: { name: 'pi' },
        spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl' }] } } },
      }),
    );
    expect(missing.message).toBe(
      'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    );
    expect(missing.details.causes).toEqual([
      {
        reason: 'FieldValueRequired',
        message: 'Required value: valid values: "OnFailure", "Never"',
        field: 'spec.template.spec.restartPolicy',
      },
    ]);
    const always = await rejection(() => createRaw(jobManifest('always', {}, { restartPolicy: 'Always' })));
    expect(always.message).toBe(
      'Job.batch "always" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    );
    const odd = await rejection(() => createRaw(jobManifest('odd', {}, { restartPolicy: 'Sometimes' })));
    expect(odd.message).toBe(
      'Job.batch "odd" is invalid: [spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never", spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never"]',
    );
  });

  test('containers are required, each with a name (a DNS label, unique) and an image', async () => {
    const none = await rejection(() =>
      createRaw({ metadata: { name: 'empty' }, spec: { template: { spec: { restartPolicy: 'Never' } } } }),
    );
    expect(none.message).toBe('Job.batch "empty" is invalid: spec.template.spec.containers: Required value');
    const bad = await rejection(() =>
      createRaw(
        jobManifest(
          'bad-containers',
          {},
          {
            containers: [
              { image: 'busybox:1.36' },
              { name: 'Main', image: 'busybox:1.36' },
              { name: 'x', image: '' },
              { name: 'x', image: 'busybox:1.36' },
            ],
          },
        ),
      ),
    );
    expect(bad.details.causes.map((c) => `${c.field}: ${c.message}`)).toEqual([
      'spec.template.spec.containers[0].name: Required value',
      "spec.template.spec.containers[1].name: Invalid value: \"Main\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      'spec.template.spec.containers[2].image: Required value',
      'spec.template.spec.containers[3].name: Duplicate value: "x"',
    ]);
  });

  test('counts and durations must not be negative', async () => {
    const status = await rejection(() =>
      createRaw(
        jobManifest('negative', {
          backoffLimit: -1,
          parallelism: -2,
          activeDeadlineSeconds: -3,
          ttlSecondsAfterFinished: -4,
        }),
      ),
    );
    expect(status.message).toBe(
      'Job.batch "negative" is invalid: [spec.parallelism: Invalid value: -2: must be greater than or equal to 0, spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0, spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0, spec.ttlSecondsAfterFinished: Invalid value: -4: must be greater than or equal to 0]',
    );
  });

  test('Indexed Jobs need completions; an unknown completionMode is refused', async () => {
    const indexed = await rejection(() =>
      createRaw(jobManifest('no-completions', { completionMode: 'Indexed', parallelism: 2 })),
    );
    expect(indexed.message).toBe(
      'Job.batch "no-completions" is invalid: spec.completions: Required value: when completion mode is Indexed',
    );
    const unknown = await rejection(() => createRaw(jobManifest('weird-mode', { completionMode: 'Sometimes' })));
    expect(unknown.message).toBe(
      'Job.batch "weird-mode" is invalid: spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"',
    );
  });

  test('podFailurePolicy rules: Never only, exit codes ordered and never 0 with In, one requirement per rule', async () => {
    const onFailure = await rejection(() =>
      createRaw(
        jobManifest(
          'pfp-restart',
          { podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [42] } }] } },
          { restartPolicy: 'OnFailure' },
        ),
      ),
    );
    expect(onFailure.message).toBe(
      'Job.batch "pfp-restart" is invalid: spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified',
    );
    const rules = await rejection(() =>
      createRaw(
        jobManifest('pfp-rules', {
          podFailurePolicy: {
            rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [3, 0, 1] } }, { action: 'Ignore' }],
          },
        }),
      ),
    );
    expect(rules.details.causes.map((c) => `${c.field}: ${c.message}`)).toEqual([
      'spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator',
      'spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [3,0,1]: must be ordered',
      'spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required',
    ]);
    const created = await createRaw(
      jobManifest('pfp-ok', {
        podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] },
      }),
    );
    // Defaults: the condition status, and only failed pods are replaced.
    expect((created as V1Job).spec).toMatchObject({
      podReplacementPolicy: 'Failed',
      podFailurePolicy: { rules: [{ onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] },
    });
  });

  test('a manual selector must select the template labels', async () => {
    const status = await rejection(() =>
      createRaw({
        metadata: { name: 'manual' },
        spec: {
          manualSelector: true,
          selector: { matchLabels: { app: 'other' } },
          template: {
            metadata: { labels: { app: 'manual' } },
            spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36' }] },
          },
        },
      }),
    );
    expect(status.details.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: {"app":"manual"}: `selector` does not match template `labels`',
        field: 'spec.template.metadata.labels',
      },
    ]);
  });

  test('a template job-name label that contradicts the Job is refused', async () => {
    const status = await rejection(() =>
      createRaw({
        metadata: { name: 'liar' },
        spec: {
          template: {
            metadata: { labels: { 'job-name': 'someone-else' } },
            spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox:1.36' }] },
          },
        },
      }),
    );
    expect(status.details.causes.map((c) => c.field)).toEqual(['spec.template.metadata.labels[job-name]']);
    expect(status.details.causes[0]?.message).toMatch(/^Invalid value: .*: must be 'liar'$/);
  });
});

describe('updates', () => {
  test('template, selector and completions are immutable: "field is immutable"', async () => {
    await createRaw(jobManifest('frozen', { completions: 2 }));
    const template = await rejection(() =>
      batch.patchNamespacedJob(
        {
          name: 'frozen',
          namespace: 'default',
          body: { spec: { template: { spec: { containers: [{ name: 'main', image: 'busybox:1.37' }] } } } },
        },
        mergePatch,
      ),
    );
    expect(template.message).toMatch(
      /^Job\.batch "frozen" is invalid: spec\.template: Invalid value: .*: field is immutable$/,
    );
    expect(template.details.causes.map((c) => c.field)).toEqual(['spec.template']);
    const completions = await rejection(() =>
      batch.patchNamespacedJob(
        { name: 'frozen', namespace: 'default', body: { spec: { completions: 3 } } },
        mergePatch,
      ),
    );
    expect(completions.message).toBe(
      'Job.batch "frozen" is invalid: spec.completions: Invalid value: 3: field is immutable',
    );
    const selector = await rejection(() =>
      batch.patchNamespacedJob(
        {
          name: 'frozen',
          namespace: 'default',
          body: { spec: { selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'x' } } } },
        },
        mergePatch,
      ),
    );
    expect(selector.details.causes.map((c) => `${c.field}: ${c.message.replace(/^.*: /, '')}`)).toContain(
      'spec.selector: field is immutable',
    );
  });

  test('a spec change bumps metadata.generation, a metadata change does not', async () => {
    await createRaw(jobManifest('generations', { parallelism: 1, suspend: true }));
    await batch.patchNamespacedJob(
      { name: 'generations', namespace: 'default', body: { metadata: { annotations: { note: 'x' } } } },
      mergePatch,
    );
    expect(jobNamed(cluster, 'generations')?.metadata.generation).toBe(1);
    await batch.patchNamespacedJob(
      { name: 'generations', namespace: 'default', body: { spec: { parallelism: 2 } } },
      mergePatch,
    );
    expect(jobNamed(cluster, 'generations')?.metadata.generation).toBe(2);
    // A suspended Job that never started may change its pods' scheduling directives.
    await batch.patchNamespacedJob(
      {
        name: 'generations',
        namespace: 'default',
        body: { spec: { template: { spec: { nodeSelector: { disk: 'ssd' } } } } },
      },
      mergePatch,
    );
    expect(jobNamed(cluster, 'generations')?.metadata.generation).toBe(3);
  });

  test('status is written only through /status, and /status writes nothing else', async () => {
    await createRaw(jobManifest('status-only', { suspend: true }));
    // Once the controller has written its status, nothing changes this Job but the test.
    const job = await jobWithCondition(cluster, 'status-only', 'Suspended');
    await batch.replaceNamespacedJob({
      name: 'status-only',
      namespace: 'default',
      body: { ...job, status: { succeeded: 5 } } as unknown as V1Job,
    });
    expect(jobNamed(cluster, 'status-only')?.status.succeeded).toBeUndefined();
    const fresh = jobNamed(cluster, 'status-only') as KubeObject;
    await batch.replaceNamespacedJobStatus({
      name: 'status-only',
      namespace: 'default',
      body: {
        ...fresh,
        spec: { ...fresh.spec, parallelism: 9 },
        status: { ...fresh.status, failed: 1 },
      } as unknown as V1Job,
    });
    const after = jobNamed(cluster, 'status-only') as KubeObject;
    expect(after.status.failed).toBe(1);
    expect(after.spec.parallelism).toBe(1);
  });
});

describe('printing', () => {
  test('kubectl get jobs columns: STATUS, COMPLETIONS, DURATION, AGE (+ wide CONTAINERS, IMAGES, SELECTOR)', async () => {
    await createRaw(jobManifest('printed', { completions: 2, suspend: true }));
    await jobWithCondition(cluster, 'printed', 'Suspended');
    const response = await fetch(`${cluster.url}/apis/batch/v1/namespaces/default/jobs/printed`, {
      headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io', Authorization: 'Bearer x' },
    });
    const table = (await response.json()) as {
      columnDefinitions: { name: string; priority: number }[];
      rows: { cells: unknown[] }[];
    };
    expect(table.columnDefinitions.map((c) => `${c.name}/${c.priority}`)).toEqual([
      'Name/0',
      'Status/0',
      'Completions/0',
      'Duration/0',
      'Age/0',
      'Containers/1',
      'Images/1',
      'Selector/1',
    ]);
    const uid = jobNamed(cluster, 'printed')?.metadata.uid;
    expect(table.rows[0]?.cells).toEqual([
      'printed',
      'Suspended',
      '0/2',
      '',
      expect.any(String),
      'main',
      'busybox:1.36',
      `batch.kubernetes.io/controller-uid=${uid}`,
    ]);
  });
});
