import { describe, expect, test } from 'vitest';
import { JobConflictError, KubernetesApiError } from '../../src/errors.js';
import { toTaskRecord } from '../../src/machines/task/record.js';
import type { CreateJobOutput, DeleteJobOutput, HarvestLogsOutput } from '../../src/machines/task/contract.js';
import { fingerprintSpec } from '../../src/jobs/fingerprint.js';
import { T0, condition, config, iso, jobView, observed, resumed, sec, taskInput } from './fixtures.js';
import { deferred, startTask } from './harness.js';

describe('task machine: the happy path', () => {
  test('queued → creating → running → succeeded → deleting → deleted, with every effect in order', async () => {
    const t = startTask(taskInput('t1'), { delete: () => Promise.resolve({ at: T0 + sec(12) }) });
    expect(t.state()).toBe('queued');
    expect(t.context().slotHeld).toBe(false);

    t.actor.send({ type: 'START', at: T0 + sec(1) });
    expect(t.state()).toBe('creating');
    expect(t.context()).toMatchObject({ slotHeld: true, jobMayExist: true });
    expect(t.log.created).toEqual([
      // Disrupted pods are replaced by the Job itself (retry.disruptions defaults to 3).
      { taskId: 't1', jobName: 'job-t1', spec: taskInput('t1').spec, fingerprint: 'fp-t1', ignoreDisruptions: true },
    ]);

    await t.reach('running');
    expect(t.context().jobUid).toBe('uid-t1');
    expect(t.log.observing).toEqual([{ taskId: 't1', jobName: 'job-t1' }]);
    expect(t.log.snapshotting).toHaveLength(1);
    expect(t.log.alarmInputs).toEqual([{ at: undefined, taskId: 't1', jobName: 'job-t1' }]);

    t.actor.send(observed(T0 + sec(10), jobView({ uid: 'uid-t1', conditions: [condition('Complete')] })));
    // A terminal condition frees the slot at once, before cleanup.
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([{ type: 'TASK.SLOT_RELEASED', taskId: 't1', at: T0 + sec(10) }]);
    expect(t.context()).toMatchObject({
      outcome: 'succeeded',
      jobFinished: true,
      finishedAt: iso(T0 + sec(10)),
      startedAt: iso(T0),
    });
    expect(t.log.observeStops).toBe(1);

    const done = await t.reach('deleted');
    // The harvest's retry limit counts from the outcome's time (kept across restarts).
    expect(t.log.harvested).toEqual([{ taskId: 't1', jobName: 'job-t1', finishedAt: iso(T0 + sec(10)) }]);
    expect(t.log.deleted).toEqual([{ taskId: 't1', jobName: 'job-t1', jobUid: 'uid-t1' }]);
    expect(done.status).toBe('done');
    expect(done.output).toEqual({
      id: 't1',
      spec: taskInput('t1').spec,
      state: 'deleted',
      outcome: 'succeeded',
      jobName: 'job-t1',
      jobUid: 'uid-t1',
      createdAt: iso(T0),
      startedAt: iso(T0),
      finishedAt: iso(T0 + sec(10)),
      deletedAt: iso(T0 + sec(12)),
    });
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
    expect(t.errors).toEqual([]);
  });

  test("an input without a fingerprint creates the Job with the spec's, one restored from a record too", () => {
    // The runner's queued tasks carry none: the hash is made when the task's actor starts.
    const fresh = taskInput('t1');
    delete fresh.fingerprint;
    const t = startTask(fresh);
    t.actor.send({ type: 'START', at: T0 + sec(1) });
    expect(t.log.created.map((c) => c.fingerprint)).toEqual([fingerprintSpec(fresh.spec)]);
    expect(t.context().fingerprint).toBe(fingerprintSpec(fresh.spec));

    const restored = resumed('creating', {}, 't2');
    delete restored.fingerprint;
    const r = startTask(restored);
    expect(r.log.created.map((c) => c.fingerprint)).toEqual([fingerprintSpec(restored.spec)]);
  });

  test('toTaskRecord gives plain JSON with the state from the snapshot and no undefined fields', async () => {
    const t = startTask(taskInput('t1'));
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    const record = toTaskRecord(t.actor.getSnapshot());
    expect(record.state).toBe('running');
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    expect(Object.values(record)).not.toContain(undefined);
    expect(record).not.toHaveProperty('slotHeld');
  });

  test('keepJobs: logs are harvested, the Job is not deleted', async () => {
    const t = startTask(taskInput('t1', {}, { config: { ...config, keepJobs: true } }));
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    t.actor.send(observed(T0 + sec(5), jobView({ uid: 'uid-t1', conditions: [condition('Complete')] })));
    const done = await t.reach('deleted');
    expect(t.log.harvested).toHaveLength(1);
    expect(t.log.deleted).toEqual([]);
    expect(done.output?.deletedAt).toBe(iso(T0 + sec(5)));
  });

  test('a delete that fails for good is recorded as cleanupError and the task still ends', async () => {
    const apiError = new KubernetesApiError(
      'delete',
      'jobs/job-t1',
      403,
      'Forbidden',
      'jobs.batch "job-t1" is forbidden',
      false,
    );
    const t = startTask(taskInput('t1'), { delete: () => Promise.reject(apiError) });
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    t.actor.send(observed(T0 + sec(5), jobView({ uid: 'uid-t1', conditions: [condition('Complete')] })));
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({ state: 'deleted', outcome: 'succeeded', cleanupError: apiError.message });
    expect(t.log.deleted).toHaveLength(1);
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('a failed final log read is reported to the parent, the logs marked lost, the outcome kept, cleanup goes on', async () => {
    const boom = new Error('log read failed');
    const t = startTask(taskInput('t1'), { harvest: () => Promise.reject(boom) });
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    t.actor.send(observed(T0 + sec(5), jobView({ uid: 'uid-t1', conditions: [condition('Complete')] })));
    const done = await t.reach('deleted');
    expect(t.log.deleted).toHaveLength(1);
    expect(t.sent('TASK.EFFECT_FAILED')).toEqual([
      { type: 'TASK.EFFECT_FAILED', taskId: 't1', effect: 'harvestLogs', error: boom },
    ]);
    expect(done.output).toMatchObject({ outcome: 'succeeded', logs: { lost: true, reason: 'log read failed' } });
  });

  test('logs the harvest gave up on: lost on the record with the reason, the outcome and failure untouched', async () => {
    const t = startTask(taskInput('t1'), {
      harvest: () => Promise.resolve({ lastLines: [], lost: { reason: 'pods/log is forbidden' } }),
    });
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    t.actor.send(observed(T0 + sec(5), jobView({ uid: 'uid-t1', failed: 1, conditions: [condition('Failed')] })));
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({
      state: 'deleted',
      outcome: 'failed',
      failure: { reason: 'Failed' },
      logs: { lost: true, reason: 'pods/log is forbidden' },
    });
    expect(t.log.deleted).toHaveLength(1);
    expect(t.sent('TASK.EFFECT_FAILED')).toEqual([]);
  });

  test('a failing periodic log snapshot is reported and the task keeps running', async () => {
    const boom = new Error('snapshot failed');
    const t = startTask(taskInput('t1'), { snapshotThrows: boom });
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    expect(t.sent('TASK.EFFECT_FAILED')).toEqual([
      { type: 'TASK.EFFECT_FAILED', taskId: 't1', effect: 'snapshotLogs', error: boom },
    ]);
    expect(t.state()).toBe('running');
    t.actor.send(observed(T0 + sec(5), jobView({ uid: 'uid-t1', conditions: [condition('Complete')] })));
    await t.reach('deleted');
  });

  test('a watch that breaks for good fails the task (ApiError) and still cleans up', async () => {
    const t = startTask(taskInput('t1'), { observeThrows: new Error('watch forbidden') });
    t.actor.send({ type: 'START', at: T0 });
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({
      outcome: 'failed',
      failure: { reason: 'ApiError', message: 'watch forbidden', lastLogLines: ['last line'] },
    });
    expect(t.log.deleted).toHaveLength(1);
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('effects that were not provided fail the task with a message naming them', async () => {
    const { createActor, fromTransition } = await import('xstate');
    const { taskMachine } = await import('../../src/machines/task/task-machine.js');
    const parent = createActor(fromTransition((s: unknown[], e: unknown) => [...s, e], [] as unknown[])).start();
    const actor = createActor(taskMachine, { input: taskInput('t1'), parent }).start();
    actor.send({ type: 'START', at: T0 });
    const { waitFor } = await import('xstate');
    const done = await waitFor(actor, (s) => s.status === 'done', { timeout: 2000 });
    expect(done.output?.failure?.message).toMatch(/actor "createJob" was not provided/);
    expect(done.output?.cleanupError).toMatch(/actor "deleteJob" was not provided/);
  });
});

describe('task machine: create errors', () => {
  test('JobConflictError → failed JobConflict, and the other Job is neither read nor deleted', async () => {
    const conflict = new JobConflictError('default', 'job-t1', 't1', 'fp-t1', 'fp-other');
    const t = startTask(taskInput('t1'), { create: () => Promise.reject(conflict) });
    t.actor.send({ type: 'START', at: T0 + sec(1) });
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({
      outcome: 'failed',
      failure: { reason: 'JobConflict', message: conflict.message },
      finishedAt: iso(T0 + sec(1)),
    });
    expect(t.log.harvested).toEqual([]);
    expect(t.log.deleted).toEqual([]);
    // It held a slot from `creating` and gives it back exactly once.
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('a permanent API error fails with the API reason and message; nothing to delete', async () => {
    const forbidden = new KubernetesApiError(
      'create',
      'jobs',
      403,
      'Forbidden',
      'jobs.batch is forbidden: User "x" cannot create',
      false,
    );
    const t = startTask(taskInput('t1'), { create: () => Promise.reject(forbidden) });
    t.actor.send({ type: 'START', at: T0 });
    const done = await t.reach('deleted');
    expect(done.output?.failure).toEqual({
      reason: 'Forbidden',
      message: 'jobs.batch is forbidden: User "x" cannot create',
    });
    expect(t.log.deleted).toEqual([]);

    const invalid = new KubernetesApiError(
      'create',
      'jobs',
      422,
      'Invalid',
      'Job.batch "job-t1" is invalid: spec.template...',
      false,
    );
    const t2 = startTask(taskInput('t2'), { create: () => Promise.reject(invalid) });
    t2.actor.send({ type: 'START', at: T0 });
    expect((await t2.reach('deleted')).output?.failure?.reason).toBe('Invalid');
  });

  test('a transient error past its retries (the create may have landed) → ApiError, and cleanup deletes', async () => {
    const unavailable = new KubernetesApiError(
      'create',
      'jobs',
      503,
      'ServiceUnavailable',
      'the server is currently unable to handle the request',
      true,
    );
    const t = startTask(taskInput('t1'), { create: () => Promise.reject(unavailable) });
    t.actor.send({ type: 'START', at: T0 });
    const done = await t.reach('deleted');
    expect(done.output?.failure).toMatchObject({ reason: 'ApiError', message: unavailable.message });
    expect(t.log.harvested).toHaveLength(1);
    expect(t.log.deleted).toEqual([{ taskId: 't1', jobName: 'job-t1' }]);
  });

  test('any other error is an ApiError with its message', async () => {
    const t = startTask(taskInput('t1'), { create: () => Promise.reject(new TypeError('socket hang up')) });
    t.actor.send({ type: 'START', at: T0 });
    expect((await t.reach('deleted')).output?.failure).toMatchObject({ reason: 'ApiError', message: 'socket hang up' });
  });
});

describe('task machine: cancel', () => {
  test('in queued: cancelled → deleted at once, no Job touched, no slot taken', () => {
    const t = startTask(taskInput('t1'));
    t.actor.send({ type: 'CANCEL', at: T0 + sec(3) });
    const snap = t.actor.getSnapshot();
    expect(snap.status).toBe('done');
    expect(snap.output).toMatchObject({
      state: 'deleted',
      outcome: 'cancelled',
      failure: { reason: 'Cancelled' },
      finishedAt: iso(T0 + sec(3)),
      deletedAt: iso(T0 + sec(3)),
    });
    expect(t.log.created).toEqual([]);
    expect(t.log.harvested).toEqual([]);
    expect(t.log.deleted).toEqual([]);
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([]);
  });

  test('in creating: waits for the create, then cancels and deletes the Job it made', async () => {
    const create = deferred<CreateJobOutput>();
    const t = startTask(taskInput('t1'), { create: () => create.promise });
    t.actor.send({ type: 'START', at: T0 });
    t.actor.send({ type: 'CANCEL', at: T0 + sec(2) });
    expect(t.state()).toBe('creating');
    expect(t.context().cancelRequested).toBe(true);
    create.resolve({ uid: 'uid-late', adopted: false });
    const done = await t.reach('deleted');
    expect(done.output).toMatchObject({
      outcome: 'cancelled',
      jobUid: 'uid-late',
      finishedAt: iso(T0 + sec(2)),
      failure: { reason: 'Cancelled', lastLogLines: ['last line'] },
    });
    expect(t.log.observing).toEqual([]);
    expect(t.log.deleted).toEqual([{ taskId: 't1', jobName: 'job-t1', jobUid: 'uid-late' }]);
    expect(t.sent('TASK.SLOT_RELEASED')).toHaveLength(1);
  });

  test('in creating, when the create then fails: cancelled; deleted only if the Job may exist', async () => {
    const transient = deferred<CreateJobOutput>();
    const t = startTask(taskInput('t1'), { create: () => transient.promise });
    t.actor.send({ type: 'START', at: T0 });
    t.actor.send({ type: 'CANCEL', at: T0 + sec(1) });
    transient.reject(new KubernetesApiError('create', 'jobs', 0, undefined, 'ECONNRESET', true));
    expect((await t.reach('deleted')).output).toMatchObject({ outcome: 'cancelled', failure: { reason: 'Cancelled' } });
    expect(t.log.deleted).toHaveLength(1);

    const conflict = deferred<CreateJobOutput>();
    const t2 = startTask(taskInput('t2'), { create: () => conflict.promise });
    t2.actor.send({ type: 'START', at: T0 });
    t2.actor.send({ type: 'CANCEL', at: T0 + sec(1) });
    conflict.reject(new JobConflictError('default', 'job-t2', 't2', 'fp-t2', 'other'));
    expect((await t2.reach('deleted')).output).toMatchObject({ outcome: 'cancelled' });
    expect(t2.log.deleted).toEqual([]);
  });

  test('in running: cancelled; the slot is kept until the Job is deleted', async () => {
    const del = deferred<DeleteJobOutput>();
    const t = startTask(taskInput('t1'), { delete: () => del.promise });
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    t.actor.send({ type: 'CANCEL', at: T0 + sec(4) });
    await t.reach('deleting');
    expect(t.context()).toMatchObject({ outcome: 'cancelled', finishedAt: iso(T0 + sec(4)), slotHeld: true });
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([]);
    del.resolve({ at: T0 + sec(9) });
    await t.reach('deleted');
    expect(t.sent('TASK.SLOT_RELEASED')).toEqual([{ type: 'TASK.SLOT_RELEASED', taskId: 't1', at: T0 + sec(9) }]);
  });

  test('is ignored once the task is ending (outcome states and deleting)', async () => {
    const harvest = deferred<HarvestLogsOutput>();
    const del = deferred<DeleteJobOutput>();
    const t = startTask(taskInput('t1'), { harvest: () => harvest.promise, delete: () => del.promise });
    t.actor.send({ type: 'START', at: T0 });
    await t.reach('running');
    t.actor.send(
      observed(
        T0 + sec(1),
        jobView({
          uid: 'uid-t1',
          conditions: [condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')],
        }),
      ),
    );
    expect(t.state()).toBe('failed');
    t.actor.send({ type: 'CANCEL', at: T0 + sec(2) });
    expect(t.context()).toMatchObject({ outcome: 'failed', failure: { reason: 'BackoffLimitExceeded' } });
    harvest.resolve({ lastLines: [] });
    await t.reach('deleting');
    t.actor.send({ type: 'CANCEL', at: T0 + sec(3) });
    expect(t.state()).toBe('deleting');
    del.resolve(undefined);
    expect((await t.reach('deleted')).output?.outcome).toBe('failed');
  });
});
