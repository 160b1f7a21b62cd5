import { mkdir } from 'node:fs/promises';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { behaviour, startEngine, type Engine } from '../engine/harness.js';
import { waitUntil } from '../helpers/wait.js';
import { serveDashboard, type Served } from './harness.js';

/*
 * The dashboard in a real browser (Debian's chromium through playwright-core) over real HTTP, on a
 * real runner and the simulated cluster. Screenshots of the three pages go to test-output/dashboard/.
 */

const executablePath = '/usr/bin/chromium';
const shots = 'test-output/dashboard';

let engine: Engine;
let live: Served;
let readOnly: Served;
let browser: Browser;

/** Runs `run` on a page in a context of its own (axe needs one), closed afterwards even when it fails. */
async function withPage(
  run: (page: Page) => Promise<void>,
  options: { javaScriptEnabled?: boolean } = {},
): Promise<void> {
  const context = await browser.newContext(options);
  try {
    await run(await context.newPage());
  } finally {
    await context.close();
  }
}

beforeAll(async () => {
  engine = await startEngine();
  const { runner } = engine;
  await runner.addTask({ id: 'report-ok', image: 'busybox', command: ['true'], ...behaviour({ logs: ['all good'] }) });
  await runner.addTask({
    id: 'report-failed',
    image: 'busybox',
    command: ['false'],
    ...behaviour({ exitCode: 3, logs: ['reading input', 'boom: input is corrupt'] }),
  });
  await Promise.all([runner.waitFor('report-ok'), runner.waitFor('report-failed')]);
  live = await serveDashboard(
    { runner, store: engine.storeUrl },
    { basePath: '/jobs', actions: true, authorize: () => true },
  );
  readOnly = await serveDashboard({ store: engine.storeUrl });
  browser = await chromium.launch({ executablePath });
  await mkdir(shots, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await live?.close();
  await readOnly?.close();
  await engine?.close();
});

/** Axe's serious and critical findings on the page, as `id: help` lines (none expected). */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

const rowIds = (page: Page): Promise<string[]> =>
  page.locator('table.tasks tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task') ?? ''));

describe('dashboard in chromium', () => {
  test('the queue lists the tasks, a filter narrows it, axe finds nothing serious', async () => {
    await withPage(async (page) => {
      await page.goto(live.url);
      expect(await rowIds(page)).toEqual(expect.arrayContaining(['report-ok', 'report-failed']));
      await expect(page.locator('.health').first().textContent()).resolves.toContain('health: ok');
      expect(await seriousViolations(page)).toEqual([]);
      await page.screenshot({ path: `${shots}/queue.png`, fullPage: true });

      await page.locator('select[name=outcome]').selectOption('failed');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/outcome=failed/);
      expect(await rowIds(page)).toEqual(['report-failed']);
    });
  });

  test('a failed task shows its reason, its log and the machine in its state', async () => {
    await withPage(async (page) => {
      await page.goto(`${live.url}tasks/report-failed`);
      await expect(page.locator('.failure').textContent()).resolves.toContain('BackoffLimitExceeded');
      await expect(page.locator('.failure').textContent()).resolves.toContain('exit code');
      await expect(page.locator('#log').textContent()).resolves.toContain('boom: input is corrupt');
      await expect(page.locator('.node-current').getAttribute('data-state')).resolves.toBe('deleted');
      expect(await seriousViolations(page)).toEqual([]);
      await page.screenshot({ path: `${shots}/task-failed.png`, fullPage: true });
    });
  });

  test("a running task's timeline and log update live, and the stream closes with the page", async () => {
    const { runner } = engine;
    await runner.addTask({
      id: 'live-tail',
      image: 'busybox',
      command: ['work'],
      // Running for 6 s: the page must open and go live while the task runs. With 3 s, a CI run on
      // Node 24 opened it after the task had left `running` and waited 30 s for a state gone by.
      ...behaviour({
        durationMs: 6000,
        logs: [{ line: 'step 1 of 2' }, { line: 'step 2 of 2', afterMs: 1500 }],
      }),
    });
    await withPage(async (page) => {
      await page.goto(`${live.url}tasks/live-tail`);
      await page.locator('html[data-live="on"]').waitFor({ state: 'attached' });
      // A mark on the window: still there at the end means the page was updated, never reloaded.
      await page.evaluate('window.notReloaded = true');
      await page.locator('.node-current[data-state="running"]').waitFor();
      await page.locator('#log', { hasText: 'step 2 of 2' }).waitFor();
      await page.screenshot({ path: `${shots}/task-running.png`, fullPage: true });
      await page.locator('.node-current[data-state="deleted"]').waitFor();
      expect(await page.locator('table.transitions').textContent()).toContain('succeeded');
      expect(await page.evaluate('window.notReloaded')).toBe(true);
      expect(live.dashboard.openStreams).toBeGreaterThan(0);
    });
    await waitUntil(() => live.dashboard.openStreams === 0, 'the event streams to close with their pages');
  });

  test('cancel works with actions on', async () => {
    const { runner } = engine;
    await runner.addTask({ id: 'to-cancel', image: 'busybox', command: ['sleep'], ...behaviour({ durationMs: -1 }) });
    await withPage(async (page) => {
      await page.goto(`${live.url}tasks/to-cancel`);
      await page.getByRole('button', { name: 'Cancel task' }).click();
      expect((await runner.waitFor('to-cancel')).outcome).toBe('cancelled');
      await page.locator('.node-current[data-state="deleted"]').waitFor();
    });
  });

  test('with JavaScript off, the list and a task are still there (read-only over the store)', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(readOnly.url);
    expect(await rowIds(page)).toEqual(expect.arrayContaining(['report-ok', 'report-failed']));
    await expect(page.locator('.health-readonly').textContent()).resolves.toContain('Read-only');
    await page.getByRole('link', { name: 'report-failed' }).click();
    await expect(page.locator('#log').textContent()).resolves.toContain('boom: input is corrupt');
    await expect(page.locator('form.action').count()).resolves.toBe(0);
    await context.close();
  });
});
