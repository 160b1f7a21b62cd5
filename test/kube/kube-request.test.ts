import { createServer, request as forward, type Server } from 'node:http';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KubernetesApiError } from '../../src/errors.js';
import { fingerprintSpec } from '../../src/jobs/fingerprint.js';
import { jobNameFor } from '../../src/jobs/job-name.js';
import { toKubernetesApiError } from '../../src/kube/api-errors.js';
import { createKubeAdapter } from '../../src/kube/kube-adapter.js';
import { createKubeClient } from '../../src/kube/kube-client.js';
import { requestJson } from '../../src/kube/kube-request.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { parseTaskSpec } from '../../src/validation/parse.js';

/*
 * The requests the runner makes itself for every task's Job (create, read, delete): what
 * client-node's generated APIs did, they must do too, against the sim over real HTTP.
 */

const prefix = '/k8s/clusters/c-1';
let cluster: SimulatedCluster;
let proxy: Server;
/** What reached the prefix proxy, `METHOD path?query`. */
const seen: string[] = [];
let proxied: KubeConfig;

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  // An API proxy that serves the cluster under a path, as Rancher does: only what is under it reaches the sim.
  proxy = createServer((req, res) => {
    const url = req.url ?? '';
    seen.push(`${req.method ?? ''} ${url}`);
    if (!url.startsWith(`${prefix}/`)) {
      res.writeHead(404).end('not under the prefix');
      return;
    }
    const upstream = forward(
      new URL(url.slice(prefix.length), cluster.url),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  proxied = new KubeConfig();
  proxied.loadFromString(cluster.kubeConfig.exportConfig());
  // A trailing slash too: the path is joined without doubling it.
  const server = `http://127.0.0.1:${String(address.port)}${prefix}/`;
  proxied.clusters = proxied.clusters.map((c) => ({ ...c, server }));
});
afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await cluster.close();
});

function task(id: string) {
  const spec = parseTaskSpec({ id, image: 'busybox', command: ['echo', id] });
  return { taskId: id, jobName: jobNameFor(id), spec, fingerprint: fingerprintSpec(spec) };
}

describe('requests of our own', () => {
  test("a server URL with a path: the Job's create, read and delete go under it", async () => {
    const kube = createKubeAdapter({ kubeConfig: proxied, namespace: 'default' });
    const input = task('under-a-prefix');
    const { uid, adopted } = await kube.jobs.createJob(input);
    expect(adopted).toBe(false);
    expect(cluster.jobCreations().find((c) => c.name === input.jobName)?.uid).toBe(uid);
    expect((await kube.jobs.getJob(input.jobName))?.uid).toBe(uid);
    expect(await kube.jobs.deleteJob(input.jobName, { uid })).toBe('deleted');
    expect(await kube.jobs.deleteJob(input.jobName, { uid })).toBe('absent');
    const jobs = `${prefix}/apis/batch/v1/namespaces/default/jobs`;
    expect(seen).toEqual(
      expect.arrayContaining([
        `POST ${jobs}`,
        `GET ${jobs}/${input.jobName}`,
        `DELETE ${jobs}/${input.jobName}?propagationPolicy=Background`,
      ]),
    );
    expect(seen.filter((line) => !line.split(' ')[1]?.startsWith(`${prefix}/`))).toEqual([]);
  });

  test("the answer is the API's JSON as it came: timestamps stay strings", async () => {
    const client = createKubeClient(cluster.kubeConfig, 'default');
    const kube = createKubeAdapter({ kubeConfig: cluster.kubeConfig, namespace: 'default' });
    const input = task('json-as-it-came');
    await kube.jobs.createJob(input);
    const path = `/apis/batch/v1/namespaces/default/jobs/${input.jobName}`;
    const job = await requestJson<{ metadata: { creationTimestamp: unknown } }>(
      client,
      { method: 'GET', path },
      new AbortController().signal,
    );
    expect(job.metadata.creationTimestamp).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/));
  });

  test("an error answer rejects with client-node's ApiException, keeping the Status body to classify", async () => {
    const client = createKubeClient(cluster.kubeConfig, 'default');
    const path = '/apis/batch/v1/namespaces/default/jobs/never-made';
    const err = await requestJson(client, { method: 'GET', path }, new AbortController().signal).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiException);
    const classified = toKubernetesApiError(err, 'get', 'jobs/never-made');
    expect(classified).toMatchObject({ statusCode: 404, reason: 'NotFound', transient: false });
    expect(classified.message).toContain('"never-made" not found');
  });

  test('a call its caller aborts right after making it sends nothing to the API', async () => {
    const kube = createKubeAdapter({ kubeConfig: cluster.kubeConfig, namespace: 'default' });
    const gets = (): number => cluster.stats().requests['get jobs'] ?? 0;
    const before = gets();
    const calls = Array.from({ length: 20 }, (_, i) => {
      const abort = new AbortController();
      const call = kube.jobs.getJob(`not-sent-${i}`, abort.signal);
      abort.abort(new Error('the caller went away'));
      return call.then(
        () => 'answered',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
    });
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['the caller went away']));
    // Answered requests are counted as they arrive: one sent after the abort would be in by now.
    const probe = await kube.jobs.getJob('after-the-aborted-ones');
    expect(probe).toBeUndefined();
    expect(gets()).toBe(before + 1);
  });

  test('an aborted request is a timed-out attempt: transient', async () => {
    const client = createKubeClient(cluster.kubeConfig, 'default');
    const abort = new AbortController();
    abort.abort();
    const path = '/apis/batch/v1/namespaces/default/jobs';
    const err = await requestJson(client, { method: 'GET', path }, abort.signal).catch((e: unknown) => e);
    const classified = toKubernetesApiError(err, 'list', 'jobs');
    expect(classified).toBeInstanceOf(KubernetesApiError);
    expect(classified).toMatchObject({ statusCode: 0, reason: 'Timeout', transient: true });
  });
});
