import type { TaskMachineInput } from '../machines/task/contract.js';
import type { TaskRecord } from '../types.js';
import type { RunnerParts } from './runner-parts.js';
import type { TaskSupervisor } from './task-supervisor.js';

/** How often the leader reads the store for tasks and cancel requests it was not told of. */
export const leaderScanIntervalMs = 5_000;

/**
 * What the leader of several replicas does beyond a runner of its own, for one term: it takes the
 * tasks the other replicas add (told by their notifications, or found by a periodic scan of the
 * store's open tasks) and acts on the cancel requests they leave in the store. Each task goes to
 * the supervisor once (`handed`); the supervisor would ignore a second ENQUEUE anyway.
 */
export class LeaderTasks {
  readonly #parts: RunnerParts;
  readonly #supervisor: TaskSupervisor;
  /** Tasks given to the supervisor this term (resumed at boot, added here, or picked up). */
  readonly #handed = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #scan: Promise<void> | undefined;
  /** A scan was asked while one ran: run one more after it. */
  #again = false;
  #stopped = false;

  constructor(parts: RunnerParts, supervisor: TaskSupervisor, resumed: Iterable<string>) {
    this.#parts = parts;
    this.#supervisor = supervisor;
    for (const id of resumed) this.#handed.add(id);
  }

  /** Scans now, then every {@link leaderScanIntervalMs}. */
  start(): void {
    this.rescan();
    this.#timer = setInterval(() => this.rescan(), leaderScanIntervalMs);
    this.#timer.unref();
  }

  /** No scan starts from now on; resolves once the one under way has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#scan;
  }

  /** Whether the supervisor has this task (this term). */
  has(taskId: string): boolean {
    return this.#handed.has(taskId);
  }

  /** The task finished (`deleted`): it leaves the set. */
  finished(taskId: string): void {
    this.#handed.delete(taskId);
  }

  /** A queued task (added here, or by another replica) goes to the supervisor, once. */
  enqueue(record: TaskRecord, input?: TaskMachineInput): void {
    if (this.#stopped || record.state !== 'queued' || this.#handed.has(record.id)) return;
    this.#handed.add(record.id);
    const task = input ?? this.#inputOf(record);
    this.#supervisor.send({ type: 'ENQUEUE', tasks: [{ task, priority: record.spec.priority ?? 0 }] });
  }

  /** Reads the store for queued tasks not handed yet and for cancel requests (coalesced). */
  rescan(): void {
    if (this.#stopped) return;
    if (this.#scan) {
      this.#again = true;
      return;
    }
    this.#scan = this.#run()
      .catch((err: unknown) => this.#parts.log.warn({ err }, 'leader scan of the store failed; retried'))
      .finally(() => {
        this.#scan = undefined;
        if (this.#again) {
          this.#again = false;
          this.rescan();
        }
      });
  }

  async #run(): Promise<void> {
    const { store, registry, journal } = this.#parts;
    const open = await store.listOpenTasks();
    for (const { record } of open) {
      if (this.#stopped) return;
      if (record.state !== 'queued' || this.#handed.has(record.id)) continue;
      registry.update(record);
      this.enqueue(record);
    }
    const requests = await store.listCancelRequests();
    const done: string[] = [];
    for (const { taskId, at } of requests) {
      if (!this.#handed.has(taskId)) {
        // Added after the read above, or finished, or unknown (nothing left to cancel then).
        const record = await store.getTask(taskId);
        // Handed while it was read (a notification): the supervisor's record is newer than this one.
        if (record && record.state !== 'deleted' && !this.#handed.has(taskId)) {
          registry.update(record);
          this.enqueue(record);
        }
      }
      if (this.#stopped) return;
      if (this.#handed.has(taskId)) {
        this.#supervisor.send({ type: 'CANCEL', taskId, at });
        // Cleared once what the cancel changed is durable: a leader dying before acts on it again.
        await journal.whenDurable(taskId);
      }
      done.push(taskId);
    }
    if (done.length > 0 && !this.#stopped) await store.clearCancelRequests(done);
  }

  #inputOf(record: TaskRecord): TaskMachineInput {
    return {
      taskId: record.id,
      spec: record.spec,
      jobName: record.jobName,
      createdAt: record.createdAt,
      config: this.#parts.taskConfig,
    };
  }
}
