import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { behaviour, createPod, podWhen } from '../helpers/sim-pods.js';
import { waitUntil } from '../helpers/wait.js';

// Boolean query parameters as the apiserver converts them (Convert_Slice_string_To_bool): the
// first value only; absent, `0` or `false` in any case is false, anything else true, never a 400.

let cluster: SimulatedCluster;

beforeAll(async () => {
  // Bookmarks every 2 cluster-seconds = 20 ms real.
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    bookmarkIntervalMs: 2000,
    kubelet: { runtime: 'scripted' },
  });
  await createPod(cluster, { name: 'done', annotations: behaviour({ logs: ['one', 'two'] }) });
  await createPod(cluster, { name: 'endless', annotations: behaviour({ logs: ['first'], durationMs: -1 }) });
  await podWhen(cluster, 'done', 'succeeded', (p) => p.status?.phase === 'Succeeded');
  await podWhen(cluster, 'endless', 'running', (p) => p.status?.phase === 'Running');
});
afterAll(async () => cluster.close());

interface Answer {
  status: number;
  /** The body, or as much of it as had arrived when `until` was satisfied. */
  text: string;
  /** The body ended (it was not cut by us). */
  ended: boolean;
}

/** GETs `path`; reads the body to its end, or until `until(textSoFar)` holds (then aborts). */
async function get(path: string, until: (text: string) => boolean = () => false): Promise<Answer> {
  const controller = new AbortController();
  const response = await fetch(`${cluster.url}${path}`, { signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { status: response.status, text, ended: true };
    text += decoder.decode(value, { stream: true });
    if (until(text)) {
      controller.abort();
      return { status: response.status, text, ended: false };
    }
  }
}

const firstLine = (text: string): Record<string, unknown> =>
  JSON.parse(text.split('\n')[0] ?? '') as Record<string, unknown>;

// [query string, converted value]
const spellings: [string, boolean][] = [
  ['=true', true],
  ['=True', true],
  ['=TRUE', true],
  ['=1', true],
  ['=yes', true],
  ['=no', true],
  ['=off', true],
  ['=', true],
  ['', true],
  ['=0', false],
  ['=false', false],
  ['=False', false],
  ['=FALSE', false],
  ['=fAlSe', false],
  ['=0&NAME=1', false],
  ['=1&NAME=0', true],
];
const query = (name: string, spelling: string): string => `${name}${spelling.replaceAll('NAME', name)}`;

describe('watch', () => {
  test.each(spellings)('?watch%s on a collection', async (spelling, value) => {
    const path = `/api/v1/namespaces/default/pods?${query('watch', spelling)}`;
    const answer = await get(path, (text) => text.includes('\n'));
    expect(answer.status).toBe(200);
    if (value) {
      expect(answer.ended).toBe(false);
      expect(firstLine(answer.text)).toMatchObject({ type: 'ADDED', object: { kind: 'Pod' } });
    } else {
      expect(answer.ended).toBe(true);
      expect(JSON.parse(answer.text)).toMatchObject({ kind: 'PodList' });
    }
  });

  test('absent is a list', async () => {
    expect(JSON.parse((await get('/api/v1/namespaces/default/pods')).text)).toMatchObject({ kind: 'PodList' });
  });
});

describe('allowWatchBookmarks', () => {
  // Concurrently: telling "no bookmark" takes the whole (1 s) watch.
  test.concurrent.each([
    ['True', true],
    ['1', true],
    ['', true],
    ['0', false],
    ['False', false],
  ] as const)('allowWatchBookmarks=%s', async (raw, value) => {
    const path = `/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1&allowWatchBookmarks=${raw}`;
    const answer = await get(path, (text) => text.includes('"BOOKMARK"'));
    expect(answer.ended).toBe(!value);
    expect(answer.text.includes('"BOOKMARK"')).toBe(value);
  });
});

describe('sendInitialEvents (a *bool: present at all, even false, is refused without WatchList)', () => {
  test.each(['true', 'false', '0', ''])('watch with sendInitialEvents=%s: 422', async (raw) => {
    const answer = await get(`/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=${raw}`);
    expect(answer.status).toBe(422);
    expect(JSON.parse(answer.text)).toMatchObject({
      reason: 'Invalid',
      message:
        'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting ' +
        'resourceVersionMatch to NotOlderThan, sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch ' +
        'unless the WatchList feature gate is enabled]',
    });
  });

  test('list with sendInitialEvents: 422 forbidden for list', async () => {
    const answer = await get('/api/v1/namespaces/default/pods?sendInitialEvents=False');
    expect(answer.status).toBe(422);
    expect(JSON.parse(answer.text)).toMatchObject({
      message:
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list',
    });
  });
});

describe('pod log options', () => {
  test.each(spellings)('?follow%s', async (spelling, value) => {
    const path = `/api/v1/namespaces/default/pods/endless/log?${query('follow', spelling)}`;
    if (value) {
      // Still streaming once the line is in; the sim counts the follow until we hang up.
      const answer = await get(path, (text) => text.includes('first\n'));
      expect(answer).toEqual({ status: 200, text: 'first\n', ended: false });
      await waitUntil(() => cluster.stats().openLogStreams === 0, 'the follow to end after the abort');
    } else {
      // The container still runs: the log answer ends at once anyway.
      expect(await get(path)).toEqual({ status: 200, text: 'first\n', ended: true });
    }
  });

  test.each([
    ['Yes', true],
    ['T', true],
    ['0', false],
    ['falsE', false],
  ] as const)('timestamps=%s', async (raw, value) => {
    const { status, text } = await get(`/api/v1/namespaces/default/pods/done/log?timestamps=${raw}`);
    expect(status).toBe(200);
    const stamped = /^\d{4}-\d{2}-\d{2}T\S+Z one\n/.test(text);
    expect(stamped).toBe(value);
    if (!value) expect(text).toBe('one\ntwo\n');
  });

  test.each([
    ['True', 400],
    ['', 400],
    ['0', 200],
    ['FALSE', 200],
  ] as const)('previous=%s', async (raw, status) => {
    const answer = await get(`/api/v1/namespaces/default/pods/done/log?previous=${raw}`);
    expect(answer.status).toBe(status);
    if (status === 400) {
      const message = 'previous terminated container "main" in pod "done" not found';
      expect(JSON.parse(answer.text)).toMatchObject({ message });
    }
  });

  test.each(['yes', 'maybe', '', 'False'])('insecureSkipTLSVerifyBackend=%s is accepted', async (raw) => {
    expect(await get(`/api/v1/namespaces/default/pods/done/log?insecureSkipTLSVerifyBackend=${raw}`)).toEqual({
      status: 200,
      text: 'one\ntwo\n',
      ended: true,
    });
  });
});

describe('orphanDependents in the query', () => {
  const job = (name: string) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      template: {
        metadata: { annotations: behaviour({ durationMs: -1 }) },
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36' }] },
      },
    },
  });

  test.each([
    ['True', 'orphan'],
    ['1', 'orphan'],
    ['0', 'background'],
    ['false', 'background'],
  ] as const)('orphanDependents=%s', async (raw, effect) => {
    const name = `orphan-${raw.toLowerCase()}`;
    const created = await fetch(`${cluster.url}/apis/batch/v1/namespaces/default/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(job(name)),
    });
    expect(created.status).toBe(201);
    const deleted = await fetch(
      `${cluster.url}/apis/batch/v1/namespaces/default/jobs/${name}?orphanDependents=${raw}`,
      { method: 'DELETE' },
    );
    const body = (await deleted.json()) as { kind: string; metadata?: { finalizers?: string[] } };
    expect(deleted.status).toBe(200);
    if (effect === 'orphan') expect(body.metadata?.finalizers).toEqual(['orphan']);
    else expect(body).toMatchObject({ kind: 'Status', status: 'Success' });
  });
});
