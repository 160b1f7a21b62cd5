import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createDashboard, type DashboardHandler } from '../../src/dashboard/index.js';
import { startEngine, type Engine } from '../engine/harness.js';

/*
 * The dashboard mounted in a real Express app under a path (`app.use('/ops/jobs', dashboard)`,
 * as docs/dashboard.md shows it), over real HTTP, on a real runner: Express strips the mount path
 * from `req.url`, the dashboard reads `originalUrl`; what is not its own goes on to the next handler.
 */

let engine: Engine;
let dashboard: DashboardHandler;
let server: Server;
let base: string;

beforeAll(async () => {
  engine = await startEngine();
  await engine.runner.addTask({ id: 'done', image: 'busybox', command: ['true'] });
  await engine.runner.waitFor('done');
  const app = express();
  dashboard = createDashboard({ runner: engine.runner }, { basePath: '/ops/jobs' });
  app.use('/ops/jobs', dashboard);
  app.get('/ops/other', (_req, res) => {
    res.send('the app, after the dashboard');
  });
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await dashboard?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await engine?.close();
});

test('under app.use("/ops/jobs"): the queue page, a task page and an asset', async () => {
  const queue = await fetch(`${base}/ops/jobs/`);
  expect(queue.status).toBe(200);
  const page = await queue.text();
  expect(page).toContain('data-task="done"');
  // Links keep the mount path, so they work from the browser.
  expect(page).toContain('href="/ops/jobs/tasks/done"');
  expect(await (await fetch(`${base}/ops/jobs`)).text()).toContain('data-task="done"');
  const task = await fetch(`${base}/ops/jobs/tasks/done`);
  expect(task.status).toBe(200);
  expect(await task.text()).toMatch(/class="node node-current"\s+data-state="deleted"/);
  const script = await fetch(`${base}/ops/jobs/assets/dashboard.js`);
  expect(script.status).toBe(200);
  expect(script.headers.get('content-type')).toContain('javascript');
});

test('paths outside the base go on to the next Express handler', async () => {
  const other = await fetch(`${base}/ops/other`);
  expect(other.status).toBe(200);
  expect(await other.text()).toBe('the app, after the dashboard');
  // Neither ours nor the app's: Express's own 404.
  const none = await fetch(`${base}/ops/nothing`);
  expect(none.status).toBe(404);
  expect(await none.text()).toContain('Cannot GET /ops/nothing');
});

test('mounted without a path (app.use(dashboard)), it calls next for paths outside its base', async () => {
  const app = express();
  app.use(dashboard);
  app.get('/ops/other', (_req, res) => {
    res.send('the app, after the dashboard');
  });
  const other = app.listen(0, '127.0.0.1');
  await once(other, 'listening');
  const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  try {
    expect(await (await fetch(`${url}/ops/other`)).text()).toBe('the app, after the dashboard');
    expect(await (await fetch(`${url}/ops/jobs/tasks/done`)).text()).toContain('data-state="deleted"');
  } finally {
    other.closeAllConnections();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
});
