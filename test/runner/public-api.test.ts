import { expect, expectTypeOf, test } from 'vitest';
import * as api from '../../src/index.js';
import type { TaskFailure, TaskFailureReason } from '../../src/index.js';
// @ts-expect-error No option accepts a TaskStore: a store of your own is a Keyv adapter (`store: new Keyv(adapter)`).
import type { TaskStore } from '../../src/index.js';
// @ts-expect-error Internal to the store, with TaskStore.
import type { OpenTask } from '../../src/index.js';
// @ts-expect-error Internal to the store, with TaskStore.
import type { SaveExtras } from '../../src/index.js';
// @ts-expect-error Internal to the store, with TaskStore.
import type { OpenEntry } from '../../src/index.js';
// @ts-expect-error Internal to the store, with TaskStore.
import type { LogSnapshot } from '../../src/index.js';

/* The package's entry exports what the runner's API uses, nothing the API cannot take or give. */

test('the values k8s-jobs exports', () => {
  expect(Object.keys(api).sort()).toEqual([
    'DuplicateTaskError',
    'JobConflictError',
    'K8sJobsError',
    'KubernetesApiError',
    'PreflightError',
    'QueueFullError',
    'RunnerClosedError',
    'StoreError',
    'StoreLockedError',
    'TaskNotFoundError',
    'ValidationError',
    'WaitTimeoutError',
    'bufferLogLines',
    'createRunner',
    'defaultPreflightTask',
    'defaultTaskPageSize',
    'droppedLinesMarker',
    'maxTaskPageSize',
    'redactedValue',
    'shutdownOnSignals',
    'taskFailureReasons',
    'taskStates',
  ]);
});

test('TaskFailure.reason is the exported union, listed by taskFailureReasons', () => {
  expectTypeOf<TaskFailure['reason']>().toEqualTypeOf<TaskFailureReason>();
  expectTypeOf(api.taskFailureReasons).items.toEqualTypeOf<TaskFailureReason>();
  expect(api.taskFailureReasons).toContain('BackoffLimitExceeded');
});

// The store's types are not part of the API (the `@ts-expect-error`s above fail the type-check if they come back).
export type Internal = [TaskStore, OpenTask, SaveExtras, OpenEntry, LogSnapshot];
