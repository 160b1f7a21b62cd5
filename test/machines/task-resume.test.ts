import { describe, expect, test } from 'vitest';
import { resumeHoldsSlot } from '../../src/machines/task/restore.js';
import type { TaskFailure, TaskState } from '../../src/types.js';
import { T0, condition, iso, jobView, observed, resumed, sec } from './fixtures.js';
import { startTask } from './harness.js';

const min = (m: number): number => m * 60_000;
const failure: TaskFailure = {
  reason: 'BackoffLimitExceeded',
  message: 'limit',
  exitCode: 3,
  oomKilled: false,
  events: [],
};

describe('task machine: resume from a stored record re-enters the state and re-runs its effect', () => {
  test('queued: stays queued until START', async () => {
    const t = startTask(resumed('queued', { lastEventAt: T0 + sec(5) }));
    expect(t.state()).toBe('queued');
    expect(t.context()).toMatchObject({ slotHeld: false, jobMayExist: false, lastEventAt: T0 + sec(5) });
    expect(t.context()).not.toHaveProperty('resumeTo');
    t.actor.send({ type: 'START', at: T0 + sec(6) });
    await t.reach('running');
    expect(t.log.created).toHaveLength(1);
  });

  test('creating: the create is sent again (the effect adopts the Job), the slot is held', async () => {
    const t = startTask(resumed('creating', {}));
    expect(t.state()).toBe('creating');
    expect(t.context()).toMatchObject({ slotHeld: true, jobMayExist: true });
    expect(t.context().resumeTo).toBeUndefined();
    expect(t.log.created).toHaveLength(1);
    await t.reach('running');
  });

  test('creating with a cancel that was requested before the restart: create, then cancel and delete', async () => {
    const t = startTask(resumed('creating', { cancelRequested: true }));
    const done = await t.reach('deleted');
    expect(done.output?.outcome).toBe('cancelled');
    expect(t.log.created).toHaveLength(1);
    expect(t.log.deleted).toHaveLength(1);
  });

  test('running: re-attaches the watch and re-arms the alarm at the stored deadline', async () => {
    const t = startTask(
      resumed(
        'running',
        { jobUid: 'uid-1', startedAt: iso(T0), timeoutAt: T0 + sec(32), pendingUntil: T0 + min(10) },
        't1',
        { timeout: 30 },
      ),
    );
    expect(t.state()).toBe('running');
    expect(t.log.observing).toEqual([{ taskId: 't1', jobName: 'job-t1' }]);
    expect(t.log.snapshotting).toHaveLength(1);
    expect(t.log.alarmInputs).toEqual([{ at: T0 + sec(32), taskId: 't1', jobName: 'job-t1' }]);
    expect(t.log.created).toEqual([]);
    // The deadline passed while the runner was down: the alarm fires at once → timedOut.
    t.actor.send({ type: 'ALARM', at: T0 + min(5) });
    expect(t.state()).toBe('timedOut');
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({
      outcome: 'timedOut',
      failure: { reason: 'Timeout' },
      finishedAt: iso(T0 + min(5)),
    });
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('running: a Job that finished while the runner was down is recorded from the first observation', async () => {
    const t = startTask(resumed('running', { jobUid: 'uid-1' }));
    t.actor.send(observed(T0 + min(3), jobView({ uid: 'uid-1', conditions: [condition('Complete')] })));
    const done = await t.reach('deleted');
    expect(done.output?.outcome).toBe('succeeded');
    expect(t.log.harvested).toHaveLength(1);
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('an outcome state: the outcome and times are kept, logs harvested again, then the Job deleted', async () => {
    const t = startTask(
      resumed('failed', {
        outcome: 'failed',
        failure,
        jobUid: 'uid-1',
        jobMayExist: true,
        jobFinished: true,
        slotHeld: false,
        finishedAt: iso(T0 + sec(9)),
      }),
    );
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({
      outcome: 'failed',
      finishedAt: iso(T0 + sec(9)),
      failure: { ...failure, lastLogLines: ['last line'] },
    });
    expect(t.log.harvested).toHaveLength(1);
    expect(t.log.deleted).toEqual([{ taskId: 't1', jobName: 'job-t1', jobUid: 'uid-1' }]);
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([]);
  });

  test('an outcome state whose slot was still held releases it (once) as the Job already finished', async () => {
    const t = startTask(
      resumed('succeeded', {
        outcome: 'succeeded',
        jobUid: 'uid-1',
        jobMayExist: true,
        jobFinished: true,
        slotHeld: true,
        finishedAt: iso(T0),
      }),
    );
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
    await t.reach('deleted');
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('an outcome state without a Job goes straight to deleted, touching nothing', () => {
    const t = startTask(
      resumed('failed', {
        outcome: 'failed',
        failure: { reason: 'JobConflict', message: 'x' },
        jobMayExist: false,
        finishedAt: iso(T0),
      }),
    );
    expect(t.actor.getSnapshot().status).toBe('done');
    expect(t.log.harvested).toEqual([]);
    expect(t.log.deleted).toEqual([]);
  });

  test('a record without flags (only public fields): a known Job uid means cleanup deletes it', async () => {
    const t = startTask(resumed('cancelled', { outcome: 'cancelled', jobUid: 'uid-1', finishedAt: iso(T0) }));
    await t.reach('deleted');
    expect(t.log.deleted).toHaveLength(1);
    // Without jobFinished the Job's pods may still run: the slot was held, and is released once.
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('a record without flags and without a Job uid: nothing is deleted (the Job may not be ours)', () => {
    const t = startTask(
      resumed('failed', { outcome: 'failed', failure: { reason: 'JobConflict', message: 'x' }, finishedAt: iso(T0) }),
    );
    expect(t.actor.getSnapshot().status).toBe('done');
    expect(t.log.harvested).toEqual([]);
    expect(t.log.deleted).toEqual([]);
  });

  test('deleting: the delete is sent again', async () => {
    const t = startTask(
      resumed('deleting', {
        outcome: 'succeeded',
        jobUid: 'uid-1',
        jobMayExist: true,
        jobFinished: true,
        slotHeld: false,
        finishedAt: iso(T0),
      }),
    );
    expect(t.state()).toBe('deleting');
    expect(t.log.harvested).toEqual([]);
    await t.reach('deleted');
    expect(t.log.deleted).toEqual([{ taskId: 't1', jobName: 'job-t1', jobUid: 'uid-1' }]);
  });

  test('deleted: done at once with its record, no effects', () => {
    const t = startTask(
      resumed('deleted', { outcome: 'succeeded', jobUid: 'uid-1', finishedAt: iso(T0), deletedAt: iso(T0 + sec(1)) }),
    );
    const snap = t.actor.getSnapshot();
    expect(snap.status).toBe('done');
    expect(snap.output).toMatchObject({ state: 'deleted', outcome: 'succeeded', deletedAt: iso(T0 + sec(1)) });
    expect([t.log.created, t.log.observing, t.log.alarmInputs, t.log.harvested, t.log.deleted]).toEqual([
      [],
      [],
      [],
      [],
      [],
    ]);
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([]);
  });

  test('identity and settings come from the input, not from the stored context', () => {
    const t = startTask(resumed('queued', { jobName: 'stale', taskId: 'stale' }));
    expect(t.context()).toMatchObject({ taskId: 't1', jobName: 'job-t1' });
  });

  test.each<[TaskState, Parameters<typeof resumed>[1]]>([
    ['queued', {}],
    ['creating', {}],
    ['running', { jobUid: 'uid-1' }],
    ['succeeded', { jobUid: 'uid-1', jobFinished: true, slotHeld: true }],
    ['succeeded', { jobUid: 'uid-1', jobFinished: true, slotHeld: false }],
    ['failed', { jobUid: 'uid-1' }],
    ['failed', { jobMayExist: false, slotHeld: true }],
    ['timedOut', { jobUid: 'uid-1', jobFinished: false }],
    ['cancelled', { jobMayExist: false, slotHeld: false }],
    ['deleting', { jobUid: 'uid-1', slotHeld: true }],
    ['deleted', {}],
  ])('resumeHoldsSlot(%s, %j) matches the SLOT_RELEASED the task sends', async (state, context) => {
    const input = resumed(state, { outcome: 'failed', finishedAt: iso(T0), ...context });
    const t = startTask(input);
    if (state === 'queued') t.actor.send({ type: 'START', at: T0 });
    if (t.state() === 'creating') await t.reach('running');
    if (t.state() === 'running') t.actor.send({ type: 'CANCEL', at: T0 });
    await t.reach('deleted');
    // A queued task takes its slot on START; the supervisor counts that one itself.
    const expected = resumeHoldsSlot(input) || state === 'queued' ? 1 : 0;
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(expected);
  });
});
