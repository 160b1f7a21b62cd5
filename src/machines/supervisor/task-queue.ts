import type { TaskMachineInput } from '../task/contract.js';
import { PriorityHeap } from './priority-heap.js';

/**
 * How a queued task's effective priority grows with its wait:
 * `priority + min(max, floor(waitSeconds / everySeconds) × step)`. The wait counts from the task's
 * `createdAt`, which is durable, so the order is the same after a restart.
 */
export interface PriorityAging {
  everySeconds: number;
  step: number;
  max: number;
}

interface Entry {
  task: TaskMachineInput;
  priority: number;
  /**
   * Epoch ms the task was created (its wait starts there); 0 without aging, the only reader: no
   * date parsed and no number boxed per queued task (16 bytes each).
   */
  enqueuedAt: number;
  /** Enqueue order across buckets: FIFO among equal effective priorities. */
  order: number;
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

function createdAtMs(task: TaskMachineInput): number {
  const created = Date.parse(task.createdAt);
  return Number.isNaN(created) ? 0 : created;
}

const isOlder = (a: Entry, b: Entry): boolean =>
  a.enqueuedAt < b.enqueuedAt || (a.enqueuedAt === b.enqueuedAt && a.order < b.order);

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
 * With aging, dequeue compares the heads of the non-empty buckets instead of the heap's top:
 * O(distinct priorities), few in practice (docs/decisions/005).
 */
export class TaskQueue implements Iterable<TaskMachineInput> {
  readonly #aging: PriorityAging | undefined;
  #order = 0;
  /** The latest `now` passed to `dequeue`: the time iteration and the summary age tasks to. */
  #now = 0;
  readonly #byId = new Map<string, Entry>();
  /** Only non-empty buckets. */
  readonly #buckets = new Map<number, Bucket>();
  /** Priorities of buckets, highest on top; may hold priorities whose bucket has since emptied. */
  readonly #heap = new PriorityHeap();
  readonly #inHeap = new Set<number>();

  /** With `aging`, a task's effective priority grows with its wait (see {@link PriorityAging}). */
  constructor(aging?: PriorityAging) {
    this.#aging = aging;
  }

  /** Tasks waiting. */
  get size(): number {
    return this.#byId.size;
  }

  has(taskId: string): boolean {
    return this.#byId.has(taskId);
  }

  /**
   * Adds a task behind every task of the same or higher priority. The caller rejects duplicate ids.
   * With aging, a bucket is kept in `createdAt` order (so its head is its oldest, and its highest
   * effective priority): a task created before the bucket's tail is put in its place, found by a
   * walk from the tail, which is O(1) when tasks arrive in the order they were created.
   */
  enqueue(task: TaskMachineInput, priority: number): void {
    if (this.#byId.has(task.taskId)) throw new Error(`task "${task.taskId}" is already queued`);
    const bucket = this.#buckets.get(priority) ?? this.#addBucket(priority);
    const entry: Entry = {
      task,
      priority,
      enqueuedAt: this.#aging ? createdAtMs(task) : 0,
      order: this.#order++,
      prev: bucket.tail,
      next: undefined,
    };
    if (this.#aging) {
      while (entry.prev && entry.prev.enqueuedAt > entry.enqueuedAt) {
        entry.next = entry.prev;
        entry.prev = entry.prev.prev;
      }
    }
    if (entry.prev) entry.prev.next = entry;
    else bucket.head = entry;
    if (entry.next) entry.next.prev = entry;
    else bucket.tail = entry;
    bucket.size++;
    this.#byId.set(task.taskId, entry);
  }

  /**
   * Removes and returns the task that runs next at `now` (epoch ms; only aging reads it). Without
   * aging, the head of the highest bucket. With aging, each bucket's head is its oldest task and so
   * its highest effective priority: the heads of the non-empty buckets are compared (O(distinct
   * priorities)), the highest effective priority wins, the one enqueued first among equals.
   */
  dequeue(now = this.#now): TaskMachineInput | undefined {
    if (now > this.#now) this.#now = now;
    const entry = this.#aging ? this.#agedHead(now) : this.#topBucket()?.head;
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

  /** A task's effective priority at `now` (its base priority without aging). */
  effectivePriority(taskId: string, now: number): number | undefined {
    const entry = this.#byId.get(taskId);
    return entry && this.#effective(entry, now);
  }

  /** The queued tasks in the order they would run at the latest `now` seen (nothing else happening). */
  *[Symbol.iterator](): Iterator<TaskMachineInput> {
    if (this.#aging) {
      // A merge of the buckets by effective priority, with cursors instead of unlinking: O(n × buckets).
      const cursors = new Map<number, Entry | undefined>();
      for (const [priority, bucket] of this.#buckets) cursors.set(priority, bucket.head);
      for (let entry = this.#agedHead(this.#now, cursors); entry;) {
        yield entry.task;
        cursors.set(entry.priority, entry.next);
        entry = this.#agedHead(this.#now, cursors);
      }
      return;
    }
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

  #effective(entry: Entry, now: number): number {
    const aging = this.#aging;
    if (!aging) return entry.priority;
    const waited = Math.max(0, now - entry.enqueuedAt);
    return entry.priority + Math.min(aging.max, Math.floor(waited / 1000 / aging.everySeconds) * aging.step);
  }

  /**
   * The head with the highest effective priority at `now`; among equals the oldest (by `createdAt`,
   * which survives restarts, then enqueue order). `cursors` stand in for the bucket heads.
   */
  #agedHead(now: number, cursors?: Map<number, Entry | undefined>): Entry | undefined {
    let best: Entry | undefined;
    let bestPriority = -Infinity;
    const consider = (head: Entry | undefined): void => {
      if (!head) return;
      const effective = this.#effective(head, now);
      if (effective > bestPriority || (effective === bestPriority && best && isOlder(head, best))) {
        best = head;
        bestPriority = effective;
      }
    };
    if (cursors) for (const head of cursors.values()) consider(head);
    else for (const bucket of this.#buckets.values()) consider(bucket.head);
    return best;
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
