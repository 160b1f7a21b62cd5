import type { InspectionEvent } from 'xstate';
import { describe, expect, test } from 'vitest';
import type { TaskContext } from '../../src/machines/task/contract.js';
import { toTaskRecord } from '../../src/machines/task/record.js';
import { createTaskObserver, type RecordChange } from '../../src/runner/task-observer.js';
import type { TaskFailure, TaskRecord } from '../../src/types.js';

const base = {
  taskId: 't1',
  spec: { id: 't1', image: 'busybox', command: ['true'] },
  jobName: 'job-t1',
  fingerprint: 'f',
  config: {},
  createdAt: '2026-01-01T00:00:00.000Z',
  jobMayExist: false,
  jobFinished: false,
  slotHeld: false,
  cancelRequested: false,
  lastEventAt: 0,
} as unknown as TaskContext;

/** A task actor's snapshot inspection event, as XState sends it. */
const snapshotEvent = (value: string, context: TaskContext): InspectionEvent =>
  ({
    type: '@xstate.snapshot',
    actorRef: { systemId: 'task:t1' },
    snapshot: { value, context },
    event: { type: 'TEST' },
  }) as unknown as InspectionEvent;

function observer() {
  const changes: RecordChange[] = [];
  const records = new Map<string, TaskRecord>();
  const observe = createTaskObserver({
    toRecord: toTaskRecord,
    current: (id) => records.get(id),
    now: () => 0,
    onChange: (change) => {
      changes.push(change);
      records.set(change.record.id, change.record);
    },
  });
  return { observe, changes };
}

describe('the task observer', () => {
  test('a change is what the record or the restart flags hold, not which objects hold it', () => {
    const { observe, changes } = observer();
    observe(snapshotEvent('creating', base));
    expect(changes.map((c) => c.transition?.to)).toEqual(['creating']);
    // A new context with only `lastEventAt` moved: nothing to write.
    observe(snapshotEvent('creating', { ...base, lastEventAt: 5 }));
    // A field assigned again with an equal new object: nothing to write either.
    const failure = { reason: 'BackoffLimitExceeded', message: 'm' } as TaskFailure;
    observe(snapshotEvent('creating', { ...base, failure }));
    expect(changes).toHaveLength(2);
    observe(snapshotEvent('creating', { ...base, failure: { ...failure } }));
    expect(changes).toHaveLength(2);
    // A flag a restart needs: a write without a transition.
    observe(snapshotEvent('creating', { ...base, failure, slotHeld: true }));
    expect(changes).toHaveLength(3);
    expect(changes[2]?.transition).toBeUndefined();
    expect(changes[2]?.context).toMatchObject({ slotHeld: true });
    // A changed value inside a field: a write.
    observe(
      snapshotEvent('creating', {
        ...base,
        failure: { reason: 'DeadlineExceeded', message: 'm' },
        slotHeld: true,
      }),
    );
    expect(changes).toHaveLength(4);
    // A new state: a transition.
    observe(snapshotEvent('running', { ...base, slotHeld: true }));
    expect(changes.at(-1)?.transition).toMatchObject({ from: 'creating', to: 'running' });
  });
});
