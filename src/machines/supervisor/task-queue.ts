import type { TaskMachineInput } from '../task/contract.js';
import { PriorityHeap } from './priority-heap.js';

interface Entry {
  task: TaskMachineInput;
  priority: number;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** One priority's FIFO: a doubly linked list, so removing any entry by id is O(1). */
interface Bucket {
  priority: number;
  head: Entry | undefined;
  tail: Entry | undefined;
  size: number;
}

/** What the inspector shows of a queue (the whole queue would be far too big to stream). */
export interface TaskQueueSummary {
  size: number;
  /** Tasks per priority, highest first (the first 10 priorities). */
  priorities: { priority: number; size: number }[];
  /** The ids that run next, in order. */
  next: string[];
}

/**
 * The supervisor's queue of tasks not yet started: higher priority first, FIFO within one.
 *
 * A mutable object kept in the supervisor's context (copying an array per event would make
 * 100,000 queued tasks quadratic). Enqueue, dequeue, remove-by-id and size are O(1), except that
 * the first task of a new priority pushes it on a heap (O(log distinct priorities)). Iterating
 * sorts the distinct priorities first (done for recovery and the inspector, not per event).
 */
export class TaskQueue implements Iterable<TaskMachineInput> {
  readonly #byId = new Map<string, Entry>();
  /** Only non-empty buckets. */
  readonly #buckets = new Map<number, Bucket>();
  /** Priorities of buckets, highest on top; may hold priorities whose bucket has since emptied. */
  readonly #heap = new PriorityHeap();
  readonly #inHeap = new Set<number>();

  /** Tasks waiting. */
  get size(): number {
    return this.#byId.size;
  }

  has(taskId: string): boolean {
    return this.#byId.has(taskId);
  }

  /** Adds a task behind every task of the same or higher priority. The caller rejects duplicate ids. */
  enqueue(task: TaskMachineInput, priority: number): void {
    if (this.#byId.has(task.taskId)) throw new Error(`task "${task.taskId}" is already queued`);
    const bucket = this.#buckets.get(priority) ?? this.#addBucket(priority);
    const entry: Entry = { task, priority, prev: bucket.tail, next: undefined };
    if (bucket.tail) bucket.tail.next = entry;
    else bucket.head = entry;
    bucket.tail = entry;
    bucket.size++;
    this.#byId.set(task.taskId, entry);
  }

  /** Removes and returns the task that runs next. */
  dequeue(): TaskMachineInput | undefined {
    const entry = this.#topBucket()?.head;
    if (!entry) return undefined;
    this.#unlink(entry);
    return entry.task;
  }

  /** Removes a queued task (on cancel); returns it, or `undefined` if it is not queued. */
  remove(taskId: string): TaskMachineInput | undefined {
    const entry = this.#byId.get(taskId);
    if (!entry) return undefined;
    this.#unlink(entry);
    return entry.task;
  }

  /** The queued tasks in the order they will run. */
  *[Symbol.iterator](): Iterator<TaskMachineInput> {
    for (const priority of this.#priorities()) {
      for (let entry = this.#buckets.get(priority)?.head; entry; entry = entry.next) yield entry.task;
    }
  }

  /** A bounded summary (what `JSON.stringify` and the inspector see). */
  toJSON(): TaskQueueSummary {
    const next: string[] = [];
    for (const task of this) {
      if (next.length === 10) break;
      next.push(task.taskId);
    }
    const priorities = this.#priorities()
      .slice(0, 10)
      .map((priority) => ({ priority, size: this.#buckets.get(priority)?.size ?? 0 }));
    return { size: this.size, priorities, next };
  }

  #addBucket(priority: number): Bucket {
    const bucket: Bucket = { priority, head: undefined, tail: undefined, size: 0 };
    this.#buckets.set(priority, bucket);
    if (!this.#inHeap.has(priority)) {
      this.#inHeap.add(priority);
      this.#heap.push(priority);
    }
    return bucket;
  }

  /** The highest non-empty bucket; drops emptied priorities off the heap on the way. */
  #topBucket(): Bucket | undefined {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      const bucket = this.#buckets.get(top);
      if (bucket) return bucket;
      this.#heap.pop();
      this.#inHeap.delete(top);
    }
    return undefined;
  }

  #priorities(): number[] {
    return [...this.#buckets.keys()].sort((a, b) => b - a);
  }

  #unlink(entry: Entry): void {
    const bucket = this.#buckets.get(entry.priority);
    if (!bucket) throw new Error(`task queue corrupt: no bucket for priority ${entry.priority}`);
    if (entry.prev) entry.prev.next = entry.next;
    else bucket.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else bucket.tail = entry.prev;
    entry.prev = entry.next = undefined;
    bucket.size--;
    this.#byId.delete(entry.task.taskId);
    if (bucket.size === 0) this.#buckets.delete(entry.priority);
  }
}
