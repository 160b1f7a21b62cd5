import { createActor, fromTransition, type AnyEventObject } from 'xstate';
import { expect, test } from 'vitest';
import { taskMachine } from '../../src/machines/task/task-machine.js';
import { taskStates } from '../../src/types.js';
import { T0, taskInput } from './fixtures.js';
import { stubActors } from './harness.js';

interface InvokeConfig {
  id?: string;
  src?: unknown;
  onError?: unknown;
}

test('the machine has exactly the public task states', () => {
  expect(Object.keys(taskMachine.root.states)).toEqual([...taskStates]);
});

test('every invoke has an explicit id, a string src and an onError', () => {
  const invokes = Object.values(taskMachine.config.states ?? {}).flatMap((state) => {
    const invoke = (state as { invoke?: InvokeConfig | InvokeConfig[] }).invoke;
    return invoke === undefined ? [] : Array.isArray(invoke) ? invoke : [invoke];
  });
  expect(invokes.length).toBeGreaterThanOrEqual(6);
  for (const invoke of invokes) {
    expect(invoke.id, JSON.stringify(invoke)).toEqual(invoke.src);
    expect(typeof invoke.src).toBe('string');
    expect(invoke.onError, String(invoke.id)).toBeDefined();
  }
});

test('a persisted XState snapshot restores after a JSON round trip and re-runs the running effects', () => {
  const stubs = stubActors();
  const machine = taskMachine.provide({ actors: stubs.actors });
  const parent = createActor(
    fromTransition((s: AnyEventObject[], e: AnyEventObject) => [...s, e], [] as AnyEventObject[]),
  ).start();
  const first = createActor(machine, { input: taskInput('t1', { timeout: 30 }), parent });
  first.start();
  first.send({ type: 'START', at: T0 });
  return new Promise<void>((resolve, reject) => {
    const sub = first.subscribe((snap) => {
      if (snap.value !== 'running') return;
      sub.unsubscribe();
      try {
        const persisted = JSON.parse(JSON.stringify(first.getPersistedSnapshot())) as ReturnType<
          typeof first.getPersistedSnapshot
        >;
        // A second process: fresh effects, the same machine.
        const after = stubActors();
        const restored = createActor(taskMachine.provide({ actors: after.actors }), {
          snapshot: persisted,
          parent,
          input: taskInput('t1', { timeout: 30 }),
        }).start();
        expect(restored.getSnapshot().value).toBe('running');
        expect(restored.getSnapshot().context).toMatchObject({ jobUid: 'uid-t1', slotHeld: true });
        const log = after.logOf('t1');
        expect(log.observing).toHaveLength(1);
        expect(log.alarmInputs).toHaveLength(1);
        expect(log.created).toEqual([]);
        restored.send({ type: 'CANCEL', at: T0 + 1 });
        expect(restored.getSnapshot().value).toBe('cancelled');
        resolve();
      } catch (err) {
        reject(err);
      }
    });
  });
});
