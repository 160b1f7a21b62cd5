import { test, type TestContext } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import { behaviour, startEngine, type Engine, type EngineOptions } from './harness.js';

/** An engine closed when the test ends, so the tests of this file can run concurrently. */
async function engineFor(context: TestContext, options: EngineOptions): Promise<Engine> {
  const engine = await startEngine(options);
  context.onTestFinished(() => engine.close());
  return engine;
}

/**
 * An engine whose Pods watch is blind: its next connection is held open in silence, and the open
 * one is dropped into it.
 */
async function blindEngine(context: TestContext, runner: EngineOptions['runner'] = {}): Promise<Engine> {
  const engine = await engineFor(context, { runner: { ...runner, watch: { stallGraceMs: 120_000 } } });
  const { cluster } = engine;
  await waitUntil(() => engine.runner.health().watch.state === 'connected', 'the watch to connect');
  cluster.faults.stallNextWatches(1, { resources: ['pods'] });
  context.expect(cluster.faults.dropWatches({ resources: ['pods'] })).toBe(1);
  await waitUntil(() => (cluster.faults.counts().watchesStalled > 0 ? true : undefined), 'the Pods watch to stall');
  return engine;
}

/*
 * A deadline reached while the watch is blind. The Pods watch is held open in silence (a stalled
 * stream its watchdog will not abandon within the test), so the runner never sees the pod start;
 * the pending budget (the harness' 2.5 s) runs out while the container is running. The alarm must
 * read the Job and its pods fresh before deciding: the task goes on and succeeds.
 *
 * Each test waits on a task of 6–8 s of real time with its own cluster and runner: they run
 * concurrently (`test.concurrent`, with the context's `expect`): the file takes its longest wait, not their sum.
 */

test.concurrent(
  'a pod that started while the Pods watch was stalled is not failed as PendingTimeout',
  async (context) => {
    const { expect } = context;
    const { cluster, runner } = await blindEngine(context);

    // Runs well past the pending budget, so the budget passes while its container is running.
    await runner.addTask({
      id: 'blind',
      image: 'busybox',
      ...behaviour({ durationMs: 6000, logs: ['started', { line: 'last line', afterMs: 5900 }] }),
    });
    const record = await runner.waitFor('blind');
    expect(record.failure).toBeUndefined();
    expect(record.outcome).toBe('succeeded');
    // The watch stayed blind throughout: the fresh read is what saw the pod.
    expect(cluster.faults.counts().watchesStalled).toBe(1);
  },
);

test.concurrent(
  'a failed fresh read at the deadline is retried with back-off, not decided on the stale view',
  async (context) => {
    const { expect } = context;
    // Few client retries: the adapter gives up on the GET soon, and the alarm's own retry is what is tested.
    const { cluster, runner } = await blindEngine(context, {
      retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 100 },
    });
    // The API refuses the Job's GET: the alarm's fresh read fails (after the adapter's own retries).
    const refused = cluster.faults.failRequests({ verbs: ['get'], resources: ['jobs'], status: 503 });
    const reported: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.message.includes('fresh read of the Job')) reported.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      await runner.addTask({ id: 'blind-api', image: 'busybox', ...behaviour({ durationMs: 6000 }) });
      await waitUntil(() => (reported.length > 0 ? true : undefined), 'the failed fresh read to be reported');
      refused.remove();
      const record = await runner.waitFor('blind-api');
      expect(record.failure).toBeUndefined();
      expect(record.outcome).toBe('succeeded');
      expect(refused.hits).toBeGreaterThan(0);
      expect(reported[0]).toContain('blind-api');
    } finally {
      process.off('warning', onWarning);
    }
  },
);

test.concurrent(
  'no deadline reached, no fresh read: at most 3 API requests per task besides the watch',
  async (context) => {
    const { expect } = context;
    const { cluster, runner } = await engineFor(context, {});
    await waitUntil(() => runner.health().watch.state === 'connected', 'the watch to connect');
    const from = cluster.requests().length;
    const ids = ['plain-0', 'plain-1', 'plain-2', 'plain-3'];
    // A timeout and the pending budget are armed for each, and neither is reached.
    for (const id of ids) await runner.addTask({ id, image: 'busybox', timeout: 60, ...behaviour({ durationMs: 50 }) });
    for (const id of ids) expect((await runner.waitFor(id)).outcome).toBe('succeeded');
    const requests = cluster
      .requests()
      .slice(from)
      .filter((r) => r.verb !== 'watch');
    expect(requests.filter((r) => r.verb === 'get' && r.resource === 'jobs')).toEqual([]);
    expect(requests.length).toBeLessThanOrEqual(3 * ids.length);
  },
);

test.concurrent(
  'a Job update on the watch past the deadline, its pods still stale, does not fail the task',
  async (context) => {
    const { expect } = context;
    const { cluster, runner } = await blindEngine(context);
    await runner.addTask({ id: 'poked', image: 'busybox', ...behaviour({ durationMs: 8000 }) });
    // The pending budget passed and the alarm's fresh read saw the container running.
    const freshReads = () => cluster.requests().filter((r) => r.verb === 'get' && r.resource === 'jobs').length;
    await waitUntil(() => (freshReads() > 0 ? true : undefined), 'the fresh read at the pending budget');
    // A change to the Job reaches the runner on the Jobs watch, with the Pods watch's stale view.
    const res = await fetch(`${cluster.url}/apis/batch/v1/namespaces/default/jobs/poked`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { annotations: { 'example.com/poked': 'yes' } } }),
    });
    expect(res.status).toBe(200);
    const record = await runner.waitFor('poked');
    expect(record.failure).toBeUndefined();
    expect(record.outcome).toBe('succeeded');
    expect(freshReads()).toBeGreaterThan(1);
  },
);
