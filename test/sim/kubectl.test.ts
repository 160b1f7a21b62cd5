import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, Watch, type V1PodSpec, type V1PodStatus } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * The real kubectl against the simulated cluster, each test with its own discovery cache
 * (KUBECACHEDIR) so nothing is read from an earlier run. `KUBECTL` picks another binary.
 */
const kubectlBinary = process.env['KUBECTL'] ?? 'kubectl';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let workDir: string;
let kubeconfig: string;
let cacheDir: string;

function kubectl(...args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      kubectlBinary,
      ['--kubeconfig', kubeconfig, ...args],
      { env: { ...process.env, KUBECACHEDIR: cacheDir }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      },
    );
  });
}

/** Runs kubectl and expects success with nothing on stderr (no warnings, no discovery errors). */
async function kubectlOk(...args: string[]): Promise<string> {
  const result = await kubectl(...args);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

/** `kubectl get` output as rows of cells, split on the column gaps (2+ spaces). */
function rows(output: string): string[][] {
  return output
    .trimEnd()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));
}

async function writeManifest(name: string, manifest: unknown): Promise<string> {
  const path = join(workDir, `${name}.yaml`);
  await writeFile(path, toYaml(manifest));
  return path;
}

function jobManifest(
  name: string,
  script: string,
  extra: { spec?: Record<string, unknown>; labels?: Record<string, string>; container?: Record<string, unknown> } = {},
) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: {
      ...extra.spec,
      template: {
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', script], ...extra.container }],
        },
      },
    },
  };
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'k8s-jobs-kubectl-'));
});
afterAll(async () => rm(workDir, { recursive: true, force: true }));
beforeEach(async () => {
  cacheDir = await mkdtemp(join(workDir, 'cache-'));
});

describe('kubectl against a running cluster', () => {
  let cluster: SimulatedCluster;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'process' } });
    kubeconfig = join(workDir, 'kubeconfig');
    await cluster.writeKubeconfig(kubeconfig);
  });
  afterAll(async () => cluster.close());

  test('kubectl version shows the server version', async () => {
    const out = await kubectlOk('version');
    expect(out).toMatch(/^Server Version: v1\.31\.\d+/m);
  });

  test('plain kubectl create -f creates the Job, and get -o json returns it with the defaults a cluster fills in', async () => {
    const file = await writeManifest('created', jobManifest('created', 'echo hello', { spec: { suspend: true } }));
    expect(await kubectlOk('create', '-f', file)).toBe('job.batch/created created\n');
    const list = JSON.parse(await kubectlOk('get', 'jobs', 'created', '-o', 'json')) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string; uid: string; labels: Record<string, string> };
      spec: Record<string, unknown> & {
        selector: unknown;
        template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      };
    };
    const uid = list.metadata.uid;
    expect(list).toMatchObject({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'created', namespace: 'default', generation: 1 },
    });
    expect(list.spec).toMatchObject({
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: true,
      podReplacementPolicy: 'TerminatingOrFailed',
    });
    expect(list.spec.selector).toEqual({ matchLabels: { 'batch.kubernetes.io/controller-uid': uid } });
    const podLabels = {
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': 'created',
      'controller-uid': uid,
      'job-name': 'created',
    };
    expect(list.spec.template.metadata.labels).toEqual(podLabels);
    expect(list.metadata.labels).toEqual(podLabels);
    expect(list.spec.template.spec).toMatchObject({
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 1,
      securityContext: {},
    });

    const all = JSON.parse(await kubectlOk('get', 'jobs', '-o', 'json')) as {
      kind: string;
      items: { metadata: { name: string } }[];
    };
    expect(all.kind).toBe('List');
    expect(all.items.map((j) => j.metadata.name)).toContain('created');
  });

  test("kubectl create -f of a Job with an unknown field fails with the server's strict decoding error", async () => {
    const manifest = jobManifest('misspelt', 'true');
    (manifest.spec as Record<string, unknown>)['backofLimit'] = 2;
    const file = await writeManifest('misspelt', manifest);
    const result = await kubectl('create', '-f', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Error from server (BadRequest): error when creating "${file}": strict decoding error: unknown field "spec.backofLimit"\n`,
    );
    expect(cluster.objects('jobs').map((j) => j.metadata.name)).not.toContain('misspelt');
  });

  test("kubectl create -f --validate=warn creates it without the field and prints the server's warning", async () => {
    const manifest = jobManifest('warned', 'true', { spec: { suspend: true }, container: { colour: 'red' } });
    const file = await writeManifest('warned', manifest);
    const result = await kubectl('create', '-f', file, '--validate=warn');
    expect(result).toEqual({
      code: 0,
      stdout: 'job.batch/warned created\n',
      stderr: 'Warning: unknown field "spec.template.spec.containers[0].colour"\n',
    });
    expect(
      cluster.objects('jobs').find((j) => j.metadata.name === 'warned')?.spec.template.spec.containers[0],
    ).not.toHaveProperty('colour');
  });

  test('kubectl get jobs prints the server-side columns, -o wide adds containers, images and selector', async () => {
    await kubectlOk(
      'create',
      '-f',
      await writeManifest(
        'listed',
        jobManifest('listed', 'true', { spec: { suspend: true, parallelism: 3 }, labels: { list: 'me' } }),
      ),
    );
    const table = rows(await kubectlOk('get', 'jobs', '-l', 'list=me'));
    expect(table[0]).toEqual(['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE']);
    // Suspended, nothing started (no duration yet); parallelism 3 without completions is a work queue.
    expect(table[1]).toEqual(['listed', 'Suspended', '0/1 of 3', expect.stringMatching(/^\d+s$/)]);
    const uid = cluster.objects('jobs').find((j) => j.metadata.name === 'listed')?.metadata.uid ?? '';
    const wide = rows(await kubectlOk('get', 'jobs', '-l', 'list=me', '-o', 'wide'));
    expect(wide[0]).toEqual(['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
    expect(wide[1]?.slice(-3)).toEqual(['main', 'busybox:1.36', `batch.kubernetes.io/controller-uid=${uid}`]);
  });

  test('kubectl get namespaces prints NAME STATUS AGE', async () => {
    const table = rows(await kubectlOk('get', 'namespaces'));
    expect(table[0]).toEqual(['NAME', 'STATUS', 'AGE']);
    expect(table).toContainEqual(['default', 'Active', expect.stringMatching(/^\d+s$/)]);
  });

  test('kubectl wait, logs job/x, describe job x and get pods follow a Job to completion', async () => {
    await kubectlOk('create', '-f', await writeManifest('hello', jobManifest('hello', 'echo hello from job')));
    expect(await kubectlOk('wait', '--for=condition=complete', 'job/hello', '--timeout=30s')).toBe(
      'job.batch/hello condition met\n',
    );

    expect(await kubectlOk('logs', 'job/hello')).toBe('hello from job\n');

    const described = await kubectlOk('describe', 'job', 'hello');
    expect(described).toMatch(/^Name:\s+hello$/m);
    expect(described).toMatch(/^Pods Statuses:\s+0 Active \(0 Ready\) \/ 1 Succeeded \/ 0 Failed$/m);
    expect(described).toMatch(/^Completed At:\s+\S/m);
    const pod = cluster.objects('pods').find((p) => p.metadata.labels?.['job-name'] === 'hello');
    expect(described).toMatch(
      new RegExp(`Normal\\s+SuccessfulCreate\\s+.*job-controller\\s+Created pod: ${pod?.metadata.name}`),
    );
    expect(described).toMatch(/Normal\s+Completed\s+.*job-controller\s+Job completed/);

    const jobs = rows(await kubectlOk('get', 'job', 'hello'));
    expect(jobs[1]).toEqual([
      'hello',
      'Complete',
      '1/1',
      expect.stringMatching(/^\d+s$/),
      expect.stringMatching(/^\d+s$/),
    ]);
    const pods = rows(await kubectlOk('get', 'pods', '-l', 'job-name=hello'));
    expect(pods[0]).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    expect(pods[1]).toEqual([pod?.metadata.name, '0/1', 'Completed', '0', expect.stringMatching(/^\d+s$/)]);
  });

  test('kubectl delete job x --cascade=foreground returns once the pods, then the Job, are gone', async () => {
    await kubectlOk('create', '-f', await writeManifest('doomed', jobManifest('doomed', 'sleep 30')));
    await waitUntil(
      () =>
        cluster
          .objects('pods')
          .find((p) => p.metadata.labels?.['job-name'] === 'doomed' && p.status?.phase === 'Running'),
      'the pod of doomed to run',
    );
    // Two streams: their events reach us in either order, so the server's order is read from the
    // resourceVersion each DELETED event carries.
    const deleted: { what: string; rv: number }[] = [];
    const watch = new Watch(cluster.kubeConfig);
    const record = (type: string, obj: { kind?: string; metadata?: { name?: string; resourceVersion?: string } }) => {
      if (type === 'DELETED') {
        deleted.push({ what: `${obj.kind}/${obj.metadata?.name}`, rv: Number(obj.metadata?.resourceVersion) });
      }
    };
    const deletions = (): string[] => [...deleted].sort((a, b) => a.rv - b.rv).map((d) => d.what);
    const watches = [
      await watch.watch('/api/v1/namespaces/default/pods', { labelSelector: 'job-name=doomed' }, record, () => {}),
      await watch.watch(
        '/apis/batch/v1/namespaces/default/jobs',
        { fieldSelector: 'metadata.name=doomed' },
        record,
        () => {},
      ),
    ];
    try {
      expect(await kubectlOk('delete', 'job', 'doomed', '--cascade=foreground')).toBe('job.batch "doomed" deleted\n');
      // kubectl returned: the Job is gone, and so are its pods.
      expect(cluster.objects('jobs').map((j) => j.metadata.name)).not.toContain('doomed');
      expect(cluster.objects('pods').filter((p) => p.metadata.labels?.['job-name'] === 'doomed')).toEqual([]);
      await waitUntil(
        () => deletions().includes('Job/doomed') && deletions().some((d) => d.startsWith('Pod/')),
        'the DELETED events of the Job and its pod',
      );
      expect(deletions().at(-1)).toBe('Job/doomed');
      expect(deletions().filter((d) => d.startsWith('Pod/'))).toHaveLength(1);
    } finally {
      for (const w of watches) w.abort();
    }
  });

  test('kubectl delete job of a Job without pods deletes it at once', async () => {
    await kubectlOk(
      'create',
      '-f',
      await writeManifest('idle', jobManifest('idle', 'true', { spec: { suspend: true } })),
    );
    expect(await kubectlOk('delete', 'job', 'idle')).toBe('job.batch "idle" deleted\n');
    expect(cluster.objects('jobs').map((j) => j.metadata.name)).not.toContain('idle');
  });

  test('kubectl get jobs --watch prints a row each time the Job changes, until it is Complete', async () => {
    const jobWatches = () => cluster.requests().filter((r) => r.verb === 'watch' && r.resource === 'jobs').length;
    const watchesBefore = jobWatches();
    const child = spawn(kubectlBinary, ['--kubeconfig', kubeconfig, 'get', 'jobs', '--watch', '-l', 'watch=me'], {
      env: { ...process.env, KUBECACHEDIR: cacheDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => child.on('close', resolve));
    try {
      await waitUntil(() => jobWatches() > watchesBefore, 'kubectl to open its watch');
      await kubectlOk(
        'create',
        '-f',
        await writeManifest('watched', jobManifest('watched', 'sleep 0.2; echo done', { labels: { watch: 'me' } })),
      );
      await waitUntil(() => /^watched\s+Complete\s/m.test(stdout), 'a Complete row');
    } finally {
      child.kill();
      await exited;
    }
    const table = rows(stdout);
    expect(table[0]).toEqual(['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE']);
    const statuses = table.slice(1).map((row) => `${row[0]} ${row[1]} ${row[2]}`);
    expect(statuses[0]).toBe('watched Running 0/1');
    expect(statuses.at(-1)).toBe('watched Complete 1/1');
    expect(new Set(statuses)).toEqual(new Set(['watched Running 0/1', 'watched Complete 1/1']));
    expect(stderr).toBe('');
  });
});

describe('kubectl get pods, with the test playing the kubelet', () => {
  let cluster: SimulatedCluster;
  let core: CoreV1Api;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
    kubeconfig = join(workDir, 'kubeconfig-pods');
    await cluster.writeKubeconfig(kubeconfig);
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  });
  afterAll(async () => cluster.close());
  afterEach(async () => {
    for (const pod of cluster.objects('pods', 'default')) {
      await core.deleteNamespacedPod({ name: pod.metadata.name, namespace: 'default', gracePeriodSeconds: 0 });
    }
  });

  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

  async function podWith(name: string, status: V1PodStatus, spec: Partial<V1PodSpec> = {}): Promise<void> {
    const created = await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name },
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }], ...spec },
      },
    });
    await core.replaceNamespacedPodStatus({ name, namespace: 'default', body: { ...created, status } });
  }

  test('kubectl get pods -o wide derives READY, STATUS and RESTARTS as printers.go does', async () => {
    const running = { running: { startedAt: minutesAgo(1) } };
    await podWith('pending', { phase: 'Pending' });
    await podWith(
      'pulling',
      {
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'main',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ImagePullBackOff' } },
          },
        ],
      },
      { nodeName: 'node-1' },
    );
    await podWith(
      'serving',
      {
        phase: 'Running',
        podIP: '10.244.0.7',
        podIPs: [{ ip: '10.244.0.7' }],
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [
          { name: 'main', image: 'busybox', imageID: '', ready: true, restartCount: 0, state: running },
        ],
      },
      { nodeName: 'node-1' },
    );
    await podWith(
      'done',
      {
        phase: 'Succeeded',
        containerStatuses: [
          {
            name: 'main',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { reason: 'Completed', exitCode: 0 } },
          },
        ],
      },
      { nodeName: 'node-1' },
    );
    await podWith(
      'failed',
      {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'main',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { reason: 'Error', exitCode: 1 } },
          },
        ],
      },
      { nodeName: 'node-1' },
    );
    await podWith(
      'oom',
      {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'main',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { reason: 'OOMKilled', exitCode: 137 } },
          },
        ],
      },
      { nodeName: 'node-1' },
    );
    await podWith(
      'exited',
      {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'main',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 2 } },
          },
        ],
      },
      { nodeName: 'node-1' },
    );
    await podWith(
      'crashing',
      {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'main',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 3,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: minutesAgo(30) } },
          },
        ],
      },
      { nodeName: 'node-1', restartPolicy: 'OnFailure' },
    );
    await podWith(
      'initializing',
      {
        phase: 'Pending',
        initContainerStatuses: [
          {
            name: 'init',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'PodInitializing' } },
          },
        ],
        containerStatuses: [
          {
            name: 'main',
            image: 'busybox',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'PodInitializing' } },
          },
        ],
      },
      { nodeName: 'node-1', initContainers: [{ name: 'init', image: 'busybox' }] },
    );
    await podWith(
      'stopping',
      {
        phase: 'Running',
        containerStatuses: [
          { name: 'main', image: 'busybox', imageID: '', ready: true, restartCount: 0, state: running },
        ],
      },
      { nodeName: 'node-1', terminationGracePeriodSeconds: 3600 },
    );
    await core.deleteNamespacedPod({ name: 'stopping', namespace: 'default' });

    const table = rows(await kubectlOk('get', 'pods', '-o', 'wide'));
    expect(table[0]).toEqual([
      'NAME',
      'READY',
      'STATUS',
      'RESTARTS',
      'AGE',
      'IP',
      'NODE',
      'NOMINATED NODE',
      'READINESS GATES',
    ]);
    const byName = new Map(table.slice(1).map((row) => [row[0], row]));
    const cells = (name: string) => [...(byName.get(name) ?? []).slice(1, 4), ...(byName.get(name) ?? []).slice(5)];
    expect(cells('pending')).toEqual(['0/1', 'Pending', '0', '<none>', '<none>', '<none>', '<none>']);
    expect(cells('pulling')).toEqual(['0/1', 'ImagePullBackOff', '0', '<none>', 'node-1', '<none>', '<none>']);
    expect(cells('serving')).toEqual(['1/1', 'Running', '0', '10.244.0.7', 'node-1', '<none>', '<none>']);
    expect(cells('done').slice(0, 3)).toEqual(['0/1', 'Completed', '0']);
    expect(cells('failed').slice(0, 3)).toEqual(['0/1', 'Error', '0']);
    expect(cells('oom').slice(0, 3)).toEqual(['0/1', 'OOMKilled', '0']);
    expect(cells('exited').slice(0, 3)).toEqual(['0/1', 'ExitCode:2', '0']);
    expect(cells('crashing').slice(0, 3)).toEqual(['0/1', 'CrashLoopBackOff', '3 (30m ago)']);
    expect(cells('initializing').slice(0, 3)).toEqual(['0/1', 'Init:0/1', '0']);
    expect(cells('stopping').slice(0, 3)).toEqual(['1/1', 'Terminating', '0']);
  });
});
