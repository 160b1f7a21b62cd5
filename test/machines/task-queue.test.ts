import { describe, expect, test } from 'vitest';
import { PriorityHeap } from '../../src/machines/supervisor/priority-heap.js';
import { TaskQueue } from '../../src/machines/supervisor/task-queue.js';
import { taskInput } from './fixtures.js';

const ids = (q: TaskQueue): string[] => [...q].map((t) => t.taskId);
const drain = (q: TaskQueue): string[] => {
  const out: string[] = [];
  for (let t = q.dequeue(); t; t = q.dequeue()) out.push(t.taskId);
  return out;
};

describe('TaskQueue', () => {
  test('dequeues higher priority first, FIFO within a priority', () => {
    const q = new TaskQueue();
    q.enqueue(taskInput('a0'), 0);
    q.enqueue(taskInput('b5'), 5);
    q.enqueue(taskInput('c0'), 0);
    q.enqueue(taskInput('d-1'), -1);
    q.enqueue(taskInput('e5'), 5);
    expect(q.size).toBe(5);
    expect(ids(q)).toEqual(['b5', 'e5', 'a0', 'c0', 'd-1']);
    expect(drain(q)).toEqual(['b5', 'e5', 'a0', 'c0', 'd-1']);
    expect(q.size).toBe(0);
    expect(q.dequeue()).toBeUndefined();
  });

  test('remove by id from the head, the middle and the tail keeps the order of the rest', () => {
    const q = new TaskQueue();
    for (const id of ['a', 'b', 'c', 'd', 'e']) q.enqueue(taskInput(id), 0);
    expect(q.remove('a')?.taskId).toBe('a');
    expect(q.remove('c')?.taskId).toBe('c');
    expect(q.remove('e')?.taskId).toBe('e');
    expect(q.remove('zz')).toBeUndefined();
    expect(q.has('b')).toBe(true);
    expect(q.has('c')).toBe(false);
    expect(q.size).toBe(2);
    expect(drain(q)).toEqual(['b', 'd']);
  });

  test('a priority that empties and comes back keeps its place in the order', () => {
    const q = new TaskQueue();
    q.enqueue(taskInput('hi'), 9);
    q.enqueue(taskInput('lo'), 1);
    expect(q.remove('hi')?.taskId).toBe('hi');
    q.enqueue(taskInput('mid'), 5);
    q.enqueue(taskInput('hi2'), 9);
    expect(drain(q)).toEqual(['hi2', 'mid', 'lo']);
  });

  test('rejects an id that is already queued', () => {
    const q = new TaskQueue();
    q.enqueue(taskInput('a'), 0);
    expect(() => q.enqueue(taskInput('a'), 3)).toThrow(/already queued/);
    expect(q.size).toBe(1);
  });

  test('toJSON is a bounded summary', () => {
    const q = new TaskQueue();
    for (let i = 0; i < 30; i++) q.enqueue(taskInput(`t${i}`), i % 3);
    expect(q.toJSON()).toEqual({
      size: 30,
      priorities: [
        { priority: 2, size: 10 },
        { priority: 1, size: 10 },
        { priority: 0, size: 10 },
      ],
      next: ['t2', 't5', 't8', 't11', 't14', 't17', 't20', 't23', 't26', 't29'],
    });
  });

  test('100,000 tasks with many distinct priorities come out in order, with removals', () => {
    const q = new TaskQueue();
    const n = 100_000;
    const input = taskInput('x');
    for (let i = 0; i < n; i++) q.enqueue({ ...input, taskId: String(i) }, (i * 7919) % 1000);
    for (let i = 0; i < n; i += 10) q.remove(String(i));
    expect(q.size).toBe(n - n / 10);
    let last = { priority: Infinity, index: -1 };
    let count = 0;
    const outOfOrder: string[] = [];
    for (let t = q.dequeue(); t; t = q.dequeue()) {
      const index = Number(t.taskId);
      const priority = (index * 7919) % 1000;
      // Removed ids never come out; priorities never rise; within one, enqueue order holds.
      if (index % 10 === 0 || !(priority < last.priority || (priority === last.priority && index > last.index)))
        outOfOrder.push(t.taskId);
      last = { priority, index };
      count++;
    }
    expect(outOfOrder).toEqual([]);
    expect(count).toBe(n - n / 10);
  });
});

describe('PriorityHeap', () => {
  test('pops the largest first', () => {
    const h = new PriorityHeap();
    for (const v of [3, -1, 7, 0, 7, 2, 10, -5]) h.push(v);
    const out: number[] = [];
    for (let v = h.pop(); v !== undefined; v = h.pop()) out.push(v);
    expect(out).toEqual([10, 7, 7, 3, 2, 0, -1, -5]);
    expect(h.size).toBe(0);
    expect(h.peek()).toBeUndefined();
  });
});
