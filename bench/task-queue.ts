/**
 * The supervisor's queue alone (no actors): n enqueues then n dequeues, strict priority (the heap
 * of distinct priorities) against `priorityAging` (the heads of the buckets compared per dequeue),
 * for a few distinct priorities and for many. Alone: `npx tsx bench/task-queue.ts [n]`.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { TaskMachineInput } from '../src/machines/task/contract.js';
import { TaskQueue, type PriorityAging } from '../src/machines/supervisor/task-queue.js';
import { round, type BenchRow } from './section.js';

const aging: PriorityAging = { everySeconds: 60, step: 1, max: 10 };
const t0 = Date.parse('2026-01-01T00:00:00Z');

function inputs(n: number): TaskMachineInput[] {
  return Array.from({ length: n }, (_, i) => ({
    taskId: `t${i}`,
    spec: { id: `t${i}`, image: 'busybox' },
    jobName: `j${i}`,
    fingerprint: 'fp',
    // One task a millisecond: 100,000 tasks span 100 s, so the aged ones do move.
    createdAt: new Date(t0 + i).toISOString(),
    config: {} as TaskMachineInput['config'],
  }));
}

function measure(tasks: TaskMachineInput[], priorities: number, withAging: boolean): [number, number] {
  const queue = new TaskQueue(withAging ? aging : undefined);
  const start = performance.now();
  for (const [i, task] of tasks.entries()) queue.enqueue(task, i % priorities);
  const enqueued = performance.now();
  const now = t0 + tasks.length;
  for (let task = queue.dequeue(now); task; task = queue.dequeue(now));
  const dequeued = performance.now();
  return [(tasks.length / (enqueued - start)) * 1000, (tasks.length / (dequeued - enqueued)) * 1000];
}

/** Rows: enqueues/s and dequeues/s per variant (best of 3). */
export function runTaskQueueBench(n = 100_000): BenchRow[] {
  const tasks = inputs(n);
  const rows: BenchRow[] = [];
  for (const priorities of [5, 50]) {
    for (const withAging of [false, true]) {
      let best: [number, number] = [0, 0];
      for (let run = 0; run < 3; run++) {
        const [enq, deq] = measure(tasks, priorities, withAging);
        best = [Math.max(best[0], enq), Math.max(best[1], deq)];
      }
      const variant = `${withAging ? 'aging' : 'strict'}, ${priorities} priorities`;
      const note = `${n} tasks`;
      rows.push({ section: 'queue', name: `enqueue (${variant})`, value: round(best[0]), unit: 'ops/s', note });
      rows.push({ section: 'queue', name: `dequeue (${variant})`, value: round(best[1]), unit: 'ops/s', note });
    }
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  for (const { name, value, unit, note } of runTaskQueueBench(n)) {
    console.log(`${name.padEnd(40)} ${String(value).padStart(12)} ${unit}${note ? `  (${note})` : ''}`);
  }
}
