import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dashboardCommandLine } from '../../src/cli/demo-summary.js';
import { startCli } from '../cli/cli-process.js';
import { startEngine, type Engine } from '../engine/harness.js';

/*
 * `k8s-jobs dashboard` as a real process: serves a store read-only (while its runner still holds
 * it), prints its URL, stops on SIGTERM; a store that cannot be opened fails before listening.
 */

let engine: Engine;

beforeAll(async () => {
  engine = await startEngine();
  await engine.runner.addTask({ id: 'from-the-cli', image: 'busybox', command: ['true'] });
  await engine.runner.waitFor('from-the-cli');
});

afterAll(async () => {
  await engine?.close();
});

describe('k8s-jobs dashboard', () => {
  test('serves the store read-only at the URL it prints, and stops on SIGTERM', async () => {
    const cli = startCli(['dashboard', '--store', engine.storeUrl, '--port', '0']);
    try {
      const [, url] = await cli.waitForOutput(/(http:\/\/127\.0\.0\.1:\d+\/)/);
      const page = await (await fetch(url!)).text();
      expect(page).toContain('data-task="from-the-cli"');
      expect(page).toContain('Read-only view');
      const task = await (await fetch(`${url}tasks/from-the-cli`)).text();
      expect(task).not.toContain('name="csrf"');
    } finally {
      cli.child.kill('SIGTERM');
    }
    expect(await cli.exited).toBe(0);
  });

  test('a store that cannot be read fails at once (exit 1), naming it', async () => {
    const cli = startCli(['dashboard', '--store', `sqlite://${engine.dir}/nothing-here.sqlite`]);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toContain('nothing-here.sqlite');
  });

  test("the demo's summary ends with the command that opens its store", () => {
    expect(dashboardCommandLine('sqlite://./k8s-jobs-demo.sqlite')).toBe(
      'k8s-jobs dashboard --store sqlite://./k8s-jobs-demo.sqlite',
    );
  });
});
