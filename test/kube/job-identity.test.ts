import { BatchV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canonicalJson, fingerprintSpec } from '../../src/jobs/fingerprint.js';
import { buildJobManifest } from '../../src/kube/job-manifest.js';
import { applyMergePatch } from '../../src/json/merge-patch.js';
import { jobNameFor, taskIdLabelValue } from '../../src/jobs/job-name.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { TaskSpec } from '../../src/types.js';
import { parseTaskSpec } from '../../src/validation/parse.js';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('jobNameFor', () => {
  test('keeps an id that already is a DNS-1123 label', () => {
    expect(jobNameFor('nightly-report')).toBe('nightly-report');
    expect(jobNameFor('a')).toBe('a');
    expect(jobNameFor('x'.repeat(63))).toBe('x'.repeat(63));
  });

  test('sanitizes other ids and adds 8 hex of their hash', () => {
    expect(jobNameFor('Nightly_Report')).toMatch(/^nightly-report-[0-9a-f]{8}$/);
    expect(jobNameFor('-leading.and.trailing-')).toMatch(/^leading-and-trailing-[0-9a-f]{8}$/);
  });

  test('long ids are cut to at most 63 characters', () => {
    for (const id of ['x'.repeat(64), 'y'.repeat(253), `${'a'.repeat(53)}-${'b'.repeat(100)}`, `${'a'.repeat(54)}.b`]) {
      const name = jobNameFor(id);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(dns1123Label);
    }
  });

  test('unicode and uppercase ids give valid names', () => {
    for (const id of ['日本語のタスク', 'ÜBER-task', 'UPPER', '🚀', 'émoji🚀task', '___', '...']) {
      const name = jobNameFor(id);
      expect(name, id).toMatch(dns1123Label);
      expect(name.length).toBeLessThanOrEqual(63);
    }
    expect(jobNameFor('日本語')).toMatch(/^task-[0-9a-f]{8}$/);
  });

  test('ids that sanitize alike get different names', () => {
    const ids = ['A_b', 'a.b', 'a-B', 'A-B', 'a_b', 'a--b', 'a b', `${'z'.repeat(60)}1`, `${'z'.repeat(60)}2`];
    const names = ids.map(jobNameFor);
    expect(new Set(names).size).toBe(ids.length);
  });

  test('is stable: the same id always gives the same name', () => {
    expect(jobNameFor('Report #42 (daily)')).toBe(jobNameFor('Report #42 (daily)'));
    expect(jobNameFor('Report #42 (daily)')).toBe('report-42-daily-cd9b05a1');
  });
});

describe('taskIdLabelValue', () => {
  test('is the id when it is a valid label value, else the job name', () => {
    expect(taskIdLabelValue('Report_42.v1')).toBe('Report_42.v1');
    expect(taskIdLabelValue('a/b')).toBe(jobNameFor('a/b'));
    expect(taskIdLabelValue('x'.repeat(64))).toBe(jobNameFor('x'.repeat(64)));
  });
});

describe('fingerprintSpec', () => {
  const spec = parseTaskSpec({
    id: 't',
    image: 'busybox',
    command: ['echo', 'hi'],
    env: [{ name: 'A', value: '1' }],
    resources: { limits: { memory: '64Mi', cpu: '1' } },
  });

  test('does not depend on key order', () => {
    const reordered = JSON.parse(
      JSON.stringify({
        resources: { limits: { cpu: '1', memory: '64Mi' } },
        env: spec.env,
        command: spec.command,
        image: spec.image,
        id: spec.id,
      }),
    ) as TaskSpec;
    expect(fingerprintSpec(reordered)).toBe(fingerprintSpec(spec));
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
  });

  test('changes with any value, including array order', () => {
    expect(fingerprintSpec({ ...spec, image: 'busybox:1.36' })).not.toBe(fingerprintSpec(spec));
    expect(fingerprintSpec({ ...spec, command: ['hi', 'echo'] })).not.toBe(fingerprintSpec(spec));
    expect(fingerprintSpec(spec)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('buildJobManifest', () => {
  const spec = parseTaskSpec({
    id: 'Report_42',
    image: 'busybox:1.36',
    command: ['sh', '-c'],
    args: ['echo hi'],
    timeout: 30,
    env: [
      { name: 'A', value: '1' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
    ],
    resources: { requests: { cpu: '100m' }, limits: { memory: '64Mi' } },
    labels: { team: 'data' },
    annotations: { 'example.com/owner': 'ana' },
    serviceAccountName: 'runner',
    backoffLimit: 2,
    ttlSecondsAfterFinished: 600,
    podTemplate: {
      spec: { nodeSelector: { disk: 'ssd' }, restartPolicy: 'OnFailure' },
      metadata: { labels: { 'app.kubernetes.io/managed-by': null, extra: 'yes' } },
    },
  });
  const manifest = buildJobManifest({
    taskId: spec.id,
    jobName: jobNameFor(spec.id),
    namespace: 'default',
    spec,
    fingerprint: fingerprintSpec(spec),
  });

  test('carries identity labels and annotations on the Job and the pod template', () => {
    const identity = { 'app.kubernetes.io/managed-by': 'k8s-jobs', 'k8s-jobs.io/task-id': 'Report_42' };
    expect(manifest.metadata?.name).toBe(jobNameFor('Report_42'));
    expect(manifest.metadata?.labels).toEqual({ team: 'data', ...identity });
    expect(manifest.metadata?.annotations).toEqual({
      'example.com/owner': 'ana',
      'k8s-jobs.io/task-id': 'Report_42',
      'k8s-jobs.io/fingerprint': fingerprintSpec(spec),
    });
    // The patch tried to remove the managed-by label: identity labels are put back after it.
    expect(manifest.spec?.template.metadata?.labels).toEqual({ team: 'data', extra: 'yes', ...identity });
  });

  test('maps the spec onto the Job and its one container', () => {
    expect(manifest.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 30, ttlSecondsAfterFinished: 600 });
    const pod = manifest.spec?.template.spec;
    expect(pod?.serviceAccountName).toBe('runner');
    expect(pod?.nodeSelector).toEqual({ disk: 'ssd' });
    expect(pod?.containers).toEqual([
      {
        name: 'task',
        image: 'busybox:1.36',
        command: ['sh', '-c'],
        args: ['echo hi'],
        env: spec.env,
        resources: { requests: { cpu: '100m' }, limits: { memory: '64Mi' } },
      },
    ]);
  });

  test('the pod template patch is applied last (a merge patch)', () => {
    expect(manifest.spec?.template.spec?.restartPolicy).toBe('OnFailure');
    expect(applyMergePatch({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3], e: null }, d: null })).toEqual({
      a: { b: 1, c: [3] },
    });
  });

  test('defaults: runs once, restartPolicy Never, no deadline without a timeout', () => {
    const minimal = parseTaskSpec({ id: 'x', image: 'busybox' });
    const job = buildJobManifest({ taskId: 'x', jobName: 'x', namespace: 'default', spec: minimal, fingerprint: 'f' });
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.activeDeadlineSeconds).toBeUndefined();
    expect(job.spec?.template.spec?.restartPolicy).toBe('Never');
    expect(job.spec?.template.spec?.containers).toEqual([{ name: 'task', image: 'busybox' }]);
  });

  describe('against the API server', () => {
    let cluster: SimulatedCluster;
    beforeAll(async () => {
      cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
    });
    afterAll(async () => cluster.close());

    test('is a Job the API server accepts as is', async () => {
      const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
      const created = await batch.createNamespacedJob({ namespace: 'default', body: manifest });
      expect(created.metadata?.annotations?.['k8s-jobs.io/fingerprint']).toBe(fingerprintSpec(spec));
      expect(created.spec?.template.spec?.containers[0]?.env?.[1]?.valueFrom?.secretKeyRef?.name).toBe('creds');
    });
  });
});
