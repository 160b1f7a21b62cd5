import { describe, expect, test } from 'vitest';
import type { DeleteJobOutput } from '../../src/machines/task/contract.js';
import {
  T0,
  condition,
  config,
  container,
  freshObserved,
  iso,
  jobView,
  observed,
  podView,
  runningPod,
  sec,
  taskInput,
  waiting,
} from './fixtures.js';
import { deferred, startTask } from './harness.js';

const min = (m: number): number => m * 60_000;
const job = (more: Parameters<typeof jobView>[0] = {}) => jobView({ uid: 'uid-t1', ...more });

async function running(spec: Parameters<typeof taskInput>[1] = {}, behaviour: Parameters<typeof startTask>[1] = {}) {
  const t = startTask(taskInput('t1', spec), behaviour);
  t.actor.send({ type: 'START', at: T0 });
  await t.reach('running');
  return t;
}

describe('task machine: deadlines and the alarm', () => {
  test('the alarm is re-armed only when the earliest deadline changes', async () => {
    const t = await running({ timeout: 60 });
    expect(t.log.alarmInputs).toEqual([{ at: undefined, taskId: 't1', jobName: 'job-t1' }]);

    // No container yet: the pending budget is the only deadline.
    t.actor.send(observed(T0 + sec(1), job(), [waiting('ContainerCreating')]));
    expect(t.context().pendingUntil).toBe(T0 + min(10));
    // startTime = T0, so the timeout deadline is T0 + 62 s: earlier than the pending budget.
    expect(t.log.arms).toEqual([{ type: 'ARM', at: T0 + sec(62) }]);

    // Same deadlines again: no new ARM.
    t.actor.send(observed(T0 + sec(2), job(), [waiting('ContainerCreating')]));
    expect(t.log.arms).toHaveLength(1);

    // A stuck pod brings the earliest deadline forward...
    t.actor.send(observed(T0 + sec(3), job(), [waiting('CreateContainerConfigError', 'secret "db" not found')]));
    expect(t.log.arms.at(-1)).toEqual({ type: 'ARM', at: T0 + sec(62) });
    expect(t.context().stuckAt?.at).toBe(T0 + min(2));
    expect(t.log.arms).toHaveLength(1); // the timeout is still the earliest

    // ...and a running container removes the pending budget; the timeout stays.
    t.actor.send(observed(T0 + sec(4), job(), [runningPod()]));
    expect(t.context()).toMatchObject({ pendingUntil: undefined, stuckAt: undefined, timeoutAt: T0 + sec(62) });
    expect(t.log.arms).toHaveLength(1);
  });

  test('the stuck deadline moves the alarm when it becomes the earliest', async () => {
    const t = await running();
    t.actor.send(observed(T0 + sec(1), job(), [waiting('ContainerCreating')]));
    expect(t.log.arms).toEqual([{ type: 'ARM', at: T0 + min(10) }]);
    t.actor.send(observed(T0 + sec(2), job(), [waiting('CreateContainerConfigError', 'secret "db" not found')]));
    expect(t.log.arms).toEqual([
      { type: 'ARM', at: T0 + min(10) },
      { type: 'ARM', at: T0 + min(2) },
    ]);
    t.actor.send(observed(T0 + sec(3), job(), [runningPod()]));
    expect(t.log.arms.at(-1)).toEqual({ type: 'ARM', at: undefined });
  });

  test('an early ALARM re-arms and changes nothing; at the deadline the task times out', async () => {
    const del = deferred<DeleteJobOutput>();
    const t = await running({ timeout: 30 }, { delete: () => del.promise });
    t.actor.send(observed(T0 + sec(1), job(), [runningPod()]));
    expect(t.log.arms).toEqual([{ type: 'ARM', at: T0 + sec(32) }]);

    t.actor.send({ type: 'ALARM', at: T0 + sec(31) });
    expect(t.state()).toBe('running');
    expect(t.log.arms.at(-1)).toEqual({ type: 'ARM', at: T0 + sec(32) });

    t.actor.send({ type: 'ALARM', at: T0 + sec(32) });
    expect(t.state()).toBe('timedOut');
    expect(t.context()).toMatchObject({
      outcome: 'timedOut',
      finishedAt: iso(T0 + sec(32)),
      failure: { reason: 'Timeout', message: 'Task ran longer than its timeout of 30 seconds' },
    });
    // The Job's pods still run: the slot stays held until the Job is deleted.
    await t.reach('deleting');
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([]);
    del.resolve({ at: T0 + sec(40) });
    await t.reach('deleted');
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([{ type: 'TASK.SLOT_RELEASED', taskId: 't1', at: T0 + sec(40) }]);
  });

  test('ALARM at a stuck deadline fails with the stuck reason and the last events', async () => {
    const t = await running();
    const events = ['Failed: Error: secret "db" not found'];
    t.actor.send(
      observed(T0 + sec(1), job(), [waiting('CreateContainerConfigError', 'secret "db" not found')], events),
    );
    t.actor.send({ type: 'ALARM', at: T0 + min(2) });
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({
      outcome: 'failed',
      finishedAt: iso(T0 + min(2)),
      failure: {
        reason: 'CreateContainerConfigError',
        message: 'secret "db" not found',
        events,
        lastLogLines: ['last line'],
      },
    });
  });

  test('ALARM at the pending budget fails with PendingTimeout', async () => {
    const t = await running();
    t.actor.send(observed(T0 + sec(1), job(), [waiting('ContainerCreating')]));
    t.actor.send({ type: 'ALARM', at: T0 + min(10) });
    expect((await t.reach('deleted')).output?.failure).toMatchObject({ reason: 'PendingTimeout' });
  });

  test('a permanent pull error fails at once: its deadline has passed, and the fresh read confirms it', async () => {
    const t = await running();
    t.actor.send(observed(T0 + sec(1), job(), [waiting('ErrImagePull', 'manifest unknown')]));
    // The watch's view decides no deadline: the alarm is armed at the passed one, to read fresh.
    expect(t.state()).toBe('running');
    expect(t.log.arms.at(-1)).toEqual({ type: 'ARM', at: T0 });
    t.actor.send(freshObserved(T0 + sec(1), job(), [waiting('ErrImagePull', 'manifest unknown')]));
    expect(t.state()).toBe('failed');
    expect(t.context().failure).toMatchObject({ reason: 'ErrImagePull', message: 'manifest unknown' });
  });
});

describe('task machine: outcomes from the cluster', () => {
  test('Failed: exit code, OOM flag, events and the last log lines end up on the record', async () => {
    const t = await running({}, { harvest: () => Promise.resolve({ lastLines: ['allocating', 'Killed'] }) });
    const pod = podView({
      phase: 'Failed',
      containers: [container({ terminated: { exitCode: 137, reason: 'OOMKilled' } })],
    });
    t.actor.send(
      observed(
        T0 + sec(8),
        job({
          conditions: [condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')],
        }),
        [pod],
        ['BackoffLimitExceeded: Job has reached the specified backoff limit'],
      ),
    );
    // Failed is terminal: the slot goes at once.
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
    const done = await t.reach('deleted');
    expect(done.output?.failure).toEqual({
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit: container "task" exited with code 137 (OOMKilled)',
      exitCode: 137,
      oomKilled: true,
      podName: 'job-t1-abcde',
      container: 'task',
      terminationReason: 'OOMKilled',
      events: ['BackoffLimitExceeded: Job has reached the specified backoff limit'],
      lastLogLines: ['allocating', 'Killed'],
    });
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test.each([
    ['SuccessCriteriaMet', 'succeeded'],
    ['FailureTarget', 'failed'],
  ])('interim %s decides %s but keeps the slot until the Job is deleted', async (type, outcome) => {
    const del = deferred<DeleteJobOutput>();
    const t = await running({}, { delete: () => del.promise });
    t.actor.send(observed(T0 + sec(2), job({ conditions: [condition(type, 'BackoffLimitExceeded')] })));
    await t.reach('deleting');
    expect(t.context()).toMatchObject({ outcome, jobFinished: false, slotHeld: true });
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([]);
    del.resolve(undefined);
    await t.reach('deleted');
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('DeadlineExceeded → timedOut; the Job is finished so the slot goes at once', async () => {
    const t = await running({ timeout: 30 });
    t.actor.send(
      observed(
        T0 + sec(31),
        job({ conditions: [condition('Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline')] }),
      ),
    );
    expect(t.state()).toBe('timedOut');
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
    expect((await t.reach('deleted')).output).toMatchObject({
      outcome: 'timedOut',
      failure: { reason: 'DeadlineExceeded' },
    });
  });

  test('a Job deleted behind our back → failed JobVanished; cleanup still runs (404 = done)', async () => {
    const t = await running();
    t.actor.send(observed(T0 + sec(3), null));
    expect((await t.reach('deleted')).output).toMatchObject({ outcome: 'failed', failure: { reason: 'JobVanished' } });
    expect(t.log.deleted).toHaveLength(1);
  });

  test('with jobVanishedRetries: 1 a vanished Job is re-created once, a second vanish fails JobVanished', async () => {
    const t = startTask(taskInput('t1', { timeout: 60 }, { config: { ...config, jobVanishedRetries: 1 } }));
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    t.actor.send(observed(T0 + sec(3), job(), [runningPod()]));
    expect(t.context()).toMatchObject({ jobUid: 'uid-t1', timeoutAt: T0 + sec(62) });

    t.actor.send(observed(T0 + sec(4), null));
    await t.reach('running');
    expect(t.log.created).toHaveLength(2);
    // The slot is still held (no release, no second hold), the old Job's deadlines are gone.
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([]);
    expect(t.context()).toMatchObject({ recreates: 1, lastEventAt: T0 + sec(4) });
    expect([t.context().outcome, t.context().timeoutAt]).toEqual([undefined, undefined]);
    expect(t.log.observing).toHaveLength(2);

    t.actor.send(observed(T0 + sec(5), null));
    expect((await t.reach('deleted')).output).toMatchObject({ outcome: 'failed', failure: { reason: 'JobVanished' } });
    expect(t.log.created).toHaveLength(2);
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test("a Job replaced by someone else's → JobVanished, and theirs is never deleted", async () => {
    const t = await running();
    t.actor.send(observed(T0 + sec(3), job({ uid: 'not-ours' })));
    expect((await t.reach('deleted')).output).toMatchObject({ outcome: 'failed', failure: { reason: 'JobVanished' } });
    expect(t.log.harvested).toEqual([]);
    expect(t.log.deleted).toEqual([]);
  });

  test('observations without a verdict keep the task running and record startedAt', async () => {
    const t = await running();
    t.actor.send(
      observed(T0 + sec(3), job({ startTime: iso(T0 + sec(1)) }), [runningPod()], ['Started: Started container task']),
    );
    expect(t.state()).toBe('running');
    expect(t.context()).toMatchObject({
      startedAt: iso(T0 + sec(1)),
      lastEvents: ['Started: Started container task'],
      lastEventAt: T0 + sec(3),
    });
  });
});
