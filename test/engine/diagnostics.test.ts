import { afterEach, expect, test } from 'vitest';
import { taskContainerName } from '../../src/jobs/labels.js';
import { behaviour, startEngine, type Engine } from './harness.js';

/*
 * Diagnostics kept before delete: a failed task's record explains the failure without the
 * cluster — the pod, its node, the container, its termination (reason, message, times) as
 * fields, and the Job's and pod's events whether or not anything looked wrong while it ran.
 */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

test('a failed task keeps pod, node, container, termination reason, message and times, and the events', async () => {
  engine = await startEngine();
  const { runner } = engine;
  const script = behaviour({ durationMs: 50, exitCode: 3, logs: ['loading config', 'fatal: config.yaml not found'] });
  await runner.addTask({
    id: 'diagnosed',
    image: 'busybox',
    podTemplate: {
      ...script.podTemplate,
      // A merge patch replaces the list: the whole container, with the kubelet's fallback policy.
      spec: {
        containers: [{ name: taskContainerName, image: 'busybox', terminationMessagePolicy: 'FallbackToLogsOnError' }],
      },
    },
  });
  const done = await runner.waitFor('diagnosed');
  expect(done.outcome).toBe('failed');
  const failure = done.failure;
  expect(failure).toMatchObject({
    reason: 'BackoffLimitExceeded',
    exitCode: 3,
    container: taskContainerName,
    terminationReason: 'Error',
  });
  expect(failure?.podName).toMatch(/^diagnosed-/);
  expect(failure?.nodeName).toBeTruthy();
  expect(failure?.terminationMessage).toContain('fatal: config.yaml not found');
  expect(Date.parse(failure?.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(failure?.startedAt ?? ''));
  // The events were read although nothing looked wrong while it ran (the pod started at once).
  expect(failure?.events?.some((e) => e.startsWith('Started') || e.startsWith('SuccessfulCreate'))).toBe(true);
  expect(failure?.events?.length ?? 0).toBeLessThanOrEqual(20);
});
