import { describe, expect, test } from 'vitest';
import { T0, freshObserved, jobView, observed, runningPod, sec, taskInput, waiting } from './fixtures.js';
import { startTask } from './harness.js';

/*
 * At a deadline the alarm effect reads the Job fresh and sends it as CLUSTER.OBSERVED before its
 * ALARM (src/effects/alarm.ts). The machine decides on that view: these are the two sequences it sees.
 */

const min = (m: number): number => m * 60_000;
const job = () => jobView({ uid: 'uid-t1' });

async function pendingTask() {
  const t = startTask(taskInput('t1'), {});
  t.actor.send({ type: 'START', at: T0 });
  await t.reach('running');
  // The watch's (possibly stale) view: the container is still being created.
  t.actor.send(observed(T0 + sec(1), job(), [waiting('ContainerCreating')]));
  expect(t.context().pendingUntil).toBe(T0 + min(10));
  return t;
}

describe('task machine: a deadline decided on a fresh read', () => {
  test('the fresh view shows the container started: no pending budget, the ALARM changes nothing', async () => {
    const t = await pendingTask();
    t.actor.send(freshObserved(T0 + min(10), job(), [runningPod()]));
    t.actor.send({ type: 'ALARM', at: T0 + min(10) });
    expect(t.state()).toBe('running');
    expect(t.context().pendingUntil).toBeUndefined();
    expect(t.context().outcome).toBeUndefined();
    expect(t.log.arms.at(-1)).toEqual({ type: 'ARM', at: undefined });
  });

  test('the fresh view confirms the pod is still pending: PendingTimeout', async () => {
    const t = await pendingTask();
    t.actor.send(freshObserved(T0 + min(10), job(), [waiting('ContainerCreating')]));
    expect(t.state()).toBe('failed');
    expect(t.context().failure).toMatchObject({ reason: 'PendingTimeout' });
  });
  test('a watch view past the deadline decides nothing: it arms the alarm at once to read fresh', async () => {
    const t = await pendingTask();
    t.actor.send(observed(T0 + min(11), job(), [waiting('ContainerCreating')]));
    expect(t.state()).toBe('running');
    expect(t.log.arms.at(-1)).toEqual({ type: 'ARM', at: T0 + min(10) });
    t.actor.send(freshObserved(T0 + min(11), job(), [runningPod()]));
    expect(t.state()).toBe('running');
    expect(t.context().pendingUntil).toBeUndefined();
  });
});
