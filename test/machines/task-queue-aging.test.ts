import { describe, expect, test } from 'vitest';
import { TaskQueue, type PriorityAging } from '../../src/machines/supervisor/task-queue.js';
import { T0, iso, sec, taskInput } from './fixtures.js';

const aging: PriorityAging = { everySeconds: 60, step: 1, max: 10 };
const at = (id: string, ms: number) => taskInput(id, {}, { createdAt: iso(ms) });

/**
 * One slot, a low task queued at T0, then one fresh priority-5 task per minute while one task
 * starts per minute: the queue always holds a high task that is newer than the low one.
 * Returns the minute the low task started, or undefined if it never did within `minutes`.
 */
function lowStartsAt(queue: TaskQueue, minutes: number): number | undefined {
  queue.enqueue(at('low', T0), 0);
  for (let minute = 0; minute < minutes; minute++) {
    const now = T0 + sec(60 * minute);
    queue.enqueue(at(`high-${minute}`, now), 5);
    if (queue.dequeue(now)?.taskId === 'low') return minute;
  }
  return undefined;
}

describe('TaskQueue with priority aging', () => {
  test('strict priority (aging off): a steady stream of high-priority tasks starves a low one', () => {
    expect(lowStartsAt(new TaskQueue(), 1000)).toBeUndefined();
  });

  test('aging on: the low task starts once its aged priority reaches the stream (5 steps of 60 s)', () => {
    // Effective priority of the low task after m minutes: min(10, m); the fresh high task's: 5.
    // At m = 5 they tie, and the older task wins a tie: the bound is ceil((5 - 0) / step) × 60 s.
    expect(lowStartsAt(new TaskQueue(aging), 1000)).toBe(5);
  });

  test('effective priority = priority + min(max, floor(wait / everySeconds) × step)', () => {
    const queue = new TaskQueue({ everySeconds: 30, step: 2, max: 7 });
    queue.enqueue(at('a', T0), 1);
    expect(queue.effectivePriority('a', T0)).toBe(1);
    expect(queue.effectivePriority('a', T0 + sec(29))).toBe(1);
    expect(queue.effectivePriority('a', T0 + sec(30))).toBe(3);
    expect(queue.effectivePriority('a', T0 + sec(95))).toBe(7);
    expect(queue.effectivePriority('a', T0 + sec(3600))).toBe(8); // capped at max 7
    expect(queue.effectivePriority('zz', T0)).toBeUndefined();
  });

  test('the order depends only on createdAt and now: a queue rebuilt in another order runs the same', () => {
    const tasks = [at('p3-old', T0), at('p5-new', T0 + sec(240)), at('p0-oldest', T0 - sec(600)), at('p5-a', T0)];
    const priorities: Record<string, number> = { 'p3-old': 3, 'p5-new': 5, 'p0-oldest': 0, 'p5-a': 5 };
    const now = T0 + sec(300);
    const order = (list: typeof tasks): string[] => {
      const queue = new TaskQueue(aging);
      for (const task of list) queue.enqueue(task, priorities[task.taskId] ?? 0);
      const out: string[] = [queue.dequeue(now)?.taskId ?? 'none'];
      // Iteration (recovery, the inspector) ages to the latest `now` seen: the order dequeue follows.
      const iterated = [...queue].map((t) => t.taskId);
      for (let t = queue.dequeue(now); t; t = queue.dequeue(now)) out.push(t.taskId);
      expect(iterated).toEqual(out.slice(1));
      return out;
    };
    // At now: p0-oldest waited 900 s → 0 + 10 (capped at max 10); p5-a 300 s → 10; p3-old → 8; p5-new 60 s → 6.
    // p0-oldest and p5-a tie at 10: the older (p0-oldest) first.
    const expected = ['p0-oldest', 'p5-a', 'p3-old', 'p5-new'];
    expect(order(tasks)).toEqual(expected);
    expect(order([...tasks].reverse())).toEqual(expected);
  });

  test('remove and size still work with aging', () => {
    const queue = new TaskQueue(aging);
    queue.enqueue(at('a', T0), 0);
    queue.enqueue(at('b', T0 + sec(1)), 0);
    queue.enqueue(at('c', T0 + sec(2)), 1);
    expect(queue.remove('c')?.taskId).toBe('c');
    expect(queue.size).toBe(2);
    expect(queue.dequeue(T0 + sec(10))?.taskId).toBe('a');
    expect(queue.dequeue(T0 + sec(10))?.taskId).toBe('b');
    expect(queue.dequeue(T0 + sec(10))).toBeUndefined();
  });
});
