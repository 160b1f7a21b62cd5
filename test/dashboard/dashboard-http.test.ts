import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDashboard } from '../../src/dashboard/index.js';
import { ValidationError } from '../../src/errors.js';
import { behaviour, startEngine, type Engine } from '../engine/harness.js';
import { waitUntil } from '../helpers/wait.js';
import { serveDashboard, type Served } from './harness.js';

/*
 * The dashboard over real HTTP (node:http, and a middleware chain's `next`), on a real runner and
 * the simulated cluster: pages, filters, escaping, event streams and their cleanup, actions and
 * their guards, the browser bundle's size budget.
 */

/** The browser script's budget, gzipped (README, "Dashboard"). */
const scriptBudgetGzipBytes = 4096;

let engine: Engine;
let served: Served;

beforeAll(async () => {
  engine = await startEngine();
  const { runner } = engine;
  await runner.addTask({ id: 'plain-ok', image: 'busybox', command: ['true'] });
  await runner.addTask({ id: 'id-<b>bold</b>', image: 'busybox', command: ['true'] });
  await runner.addTask({ id: 'plain-bad', image: 'busybox', command: ['false'], ...behaviour({ exitCode: 2 }) });
  await Promise.all(['plain-ok', 'id-<b>bold</b>', 'plain-bad'].map((id) => runner.waitFor(id)));
  served = await serveDashboard(
    { runner, store: engine.storeUrl },
    { basePath: '/ops/jobs', actions: true, authorize: (req) => req.headers['x-user'] === 'admin' },
  );
});

afterAll(async () => {
  await served?.close();
  await engine?.close();
});

const get = async (path: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(new URL(path, served.url));
  return { status: res.status, body: await res.text() };
};

/** The page's form token, as a browser would post it back. */
const tokenOf = (page: string): string => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(path, served.url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-user': 'admin', ...headers },
    body,
  });
}

describe('createDashboard', () => {
  test('refuses actions without authorize, or without a runner (ValidationError)', () => {
    expect(() => createDashboard({ runner: engine.runner }, { actions: true })).toThrow(ValidationError);
    try {
      createDashboard({ runner: engine.runner }, { actions: true });
    } catch (err) {
      expect(err).toMatchObject({ code: 'VALIDATION', field: 'authorize' });
    }
    expect(() => createDashboard({ store: engine.storeUrl }, { actions: true, authorize: () => true })).toThrow(
      /actions: needs a runner/,
    );
  });

  test('the queue page counts states and outcomes, charts the hour, lists and filters tasks, escapes ids', async () => {
    const all = await get('');
    expect(all.status).toBe(200);
    expect(all.body).toContain('data-task="plain-ok"');
    expect(all.body).toContain('id-&lt;b&gt;bold&lt;/b&gt;');
    expect(all.body).not.toContain('<b>bold</b>');
    const countOf = (kind: string): string | undefined =>
      new RegExp(`<li class="${kind}">\\s*<a [^>]*>\\s*[\\w]+ <span class="count">(\\d+)`).exec(all.body)?.[1];
    expect([countOf('outcome-succeeded'), countOf('outcome-failed'), countOf('state-deleted')]).toEqual([
      '2',
      '1',
      '3',
    ]);
    expect(all.body).toContain('aria-label="Last hour: 3 started, 2 finished, 1 failed; queue depth now 0"');
    const failed = await get('?state=deleted&outcome=failed');
    expect(failed.body).toContain('data-task="plain-bad"');
    expect(failed.body).not.toContain('data-task="plain-ok"');
    const byReason = await get('?reason=BackoffLimitExceeded');
    expect(byReason.body).toContain('data-task="plain-bad"');
    expect(byReason.body).not.toContain('data-task="plain-ok"');
    const byId = await get('?q=plain-o');
    expect(byId.body).toContain('data-task="plain-ok"');
    expect(byId.body).not.toContain('data-task="plain-bad"');
  });

  test('a task page shows its failure, timeline and machine; its fragment is the live region alone', async () => {
    const page = await get('tasks/plain-bad');
    expect(page.body).toContain('Why it failed');
    expect(page.body).toContain('exit code 2');
    expect(page.body).toMatch(/class="node node-current"\s+data-state="deleted"/);
    expect(page.body).toContain('<td>deleting</td>');
    const fragment = await get('tasks/plain-bad?fragment=live');
    expect(fragment.body).not.toContain('<html');
    expect(fragment.body).toContain('Why it failed');
    expect((await get('tasks/nobody')).status).toBe(404);
  });

  test('passes paths outside its base to next, as middleware', async () => {
    const dashboard = createDashboard({ runner: engine.runner }, { basePath: '/dash' });
    const server = createServer((req, res) => dashboard(req, res, () => res.end('the app')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/other`)).text()).toBe('the app');
      expect(await (await fetch(`http://127.0.0.1:${port}/dashboard`)).text()).toBe('the app');
      expect(await (await fetch(`http://127.0.0.1:${port}/dash/`)).text()).toContain('data-task="plain-ok"');
    } finally {
      await dashboard.close();
      server.close();
    }
  });

  test('an event stream carries transitions and is unsubscribed when the request closes', async () => {
    const controller = new AbortController();
    const res = await fetch(new URL('events', served.url), { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(served.dashboard.openStreams).toBe(1);
    const reader = res.body!.getReader();
    await engine.runner.addTask({ id: 'streamed', image: 'busybox', command: ['true'] });
    let text = '';
    while (!text.includes('"taskId":"streamed"')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('event: transition');
    controller.abort();
    await waitUntil(() => served.dashboard.openStreams === 0, 'the stream to be closed with its request');
  });

  test('actions: cancel with the form token, same origin and authorize; refused otherwise', async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'long', image: 'busybox', command: ['sleep'], ...behaviour({ durationMs: -1 }) });
    const token = tokenOf((await get('tasks/long')).body);
    expect(token).not.toBe('');
    const origin = new URL(served.url).origin;
    const refusals = [
      await post('tasks/long/cancel', `csrf=${token}`, { 'sec-fetch-site': 'cross-site' }),
      await post('tasks/long/cancel', `csrf=${token}`, { origin: 'https://evil.example' }),
      await post('tasks/long/cancel', 'csrf=forged'),
      await post('tasks/long/cancel', `csrf=${token}`, { 'x-user': 'guest' }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    expect((await runner.getTask('long')).outcome).toBeUndefined();
    const ok = await post('tasks/long/cancel', `csrf=${token}`, { origin, 'sec-fetch-site': 'same-origin' });
    expect(ok.status).toBe(303);
    expect((await runner.waitFor('long')).outcome).toBe('cancelled');
  });

  test('actions: re-submit a finished task under a new id, with its spec', async () => {
    const token = tokenOf((await get('tasks/plain-ok')).body);
    const res = await post('tasks/plain-ok/resubmit', `csrf=${token}`);
    expect(res.status).toBe(303);
    const newId = decodeURIComponent(res.headers.get('location')!.split('/').pop()!);
    expect(newId).toMatch(/^plain-ok-r/);
    const record = await engine.runner.waitFor(newId);
    expect(record.outcome).toBe('succeeded');
    expect(record.spec.command).toEqual(['true']);
  });

  test('with actions off there is no form and the POST is not found', async () => {
    const readOnly = await serveDashboard({ runner: engine.runner });
    try {
      const page = await (await fetch(`${readOnly.url}tasks/plain-ok`)).text();
      expect(page).not.toContain('name="csrf"');
      const res = await fetch(`${readOnly.url}tasks/plain-ok/resubmit`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'csrf=x',
      });
      expect(res.status).toBe(404);
    } finally {
      await readOnly.close();
    }
  });

  test('a store alone is read-only: pages, no stream', async () => {
    const readOnly = await serveDashboard({ store: engine.storeUrl });
    try {
      expect(await (await fetch(readOnly.url)).text()).toContain('data-task="plain-bad"');
      expect((await fetch(`${readOnly.url}events`)).status).toBe(204);
    } finally {
      await readOnly.close();
    }
  });

  test('a task whose pod was evicted shows its retry, and the retry inside running as a tick', async () => {
    const { runner, cluster } = engine;
    await runner.addTask({ id: 'evicted', image: 'busybox', ...behaviour({ durationMs: 1500 }) });
    const pod = await waitUntil(
      () =>
        cluster
          .objects('pods')
          .find(
            (p) => p.metadata.labels?.['batch.kubernetes.io/job-name'] === 'evicted' && p.status?.phase === 'Running',
          )?.metadata.name,
      'a running pod of evicted',
    );
    cluster.faults.evictPod(pod, { namespace: 'default', reason: 'Evicted' });
    expect((await runner.waitFor('evicted')).retries).toHaveLength(1);
    const page = (await get('tasks/evicted')).body;
    const section = /<h2 id="retries-h">Retries<\/h2>[\s\S]*?<\/table>/.exec(page)?.[0] ?? '';
    const cells = [
      ...(/<tr data-retry="disruption">([\s\S]*?)<\/tr>/.exec(section)?.[1] ?? '').matchAll(/<td>([^<]*)<\/td>/g),
    ].map((m) => m[1]);
    expect(cells.slice(1, 6)).toEqual([
      'disruption',
      '1',
      'evicted',
      'pod replaced by the Job',
      expect.stringContaining(pod),
    ]);
    expect(cells[7]).toContain('EvictionByEvictionAPI');
    // The retry stays in `running`: one running band (not two), and a tick where the pod went.
    const svg = /<svg[^>]*class="timeline-svg"[\s\S]*?<\/svg>/.exec(page)?.[0] ?? '';
    expect(svg.match(/class="band state-running"/g)).toHaveLength(1);
    expect(svg).toContain('class="tick"');
    expect(svg).toMatch(/aria-label="[^"]*; retry \(disruption\)"/);
    expect(page).toMatch(/<td>running<\/td>\s*<td>running<\/td>\s*<td>[^<]*\(retry: disruption\)<\/td>/);
  });

  test('serves its own assets; the browser script stays within its size budget', async () => {
    const script = await fetch(new URL('assets/dashboard.js', served.url));
    expect(script.headers.get('content-type')).toContain('javascript');
    const body = Buffer.from(await script.arrayBuffer());
    expect(body.equals(readFileSync(new URL('../../src/dashboard/assets/dashboard.js', import.meta.url)))).toBe(true);
    expect(gzipSync(body).length).toBeLessThanOrEqual(scriptBudgetGzipBytes);
    expect((await fetch(new URL('assets/dashboard.css', served.url))).status).toBe(200);
  });
});
