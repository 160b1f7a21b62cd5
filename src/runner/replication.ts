import { Subject, type Observable } from 'rxjs';
import { messageOf } from '../errors.js';
import type { StoreNotifier } from '../store/contract.js';
import type { TaskRecord, Transition } from '../types.js';
import { decodeReplicaMessage, encodeReplicaMessage, transitionMessages } from './replica-messages.js';
import type { RunnerParts } from './runner-parts.js';

/** What replication asks of the replica it runs in. */
export interface ReplicationHooks {
  /** Whether this replica leads now: from the moment it is told, while it still resumes its tasks. */
  isLeader(): boolean;
  /**
   * Changes each time this replica starts or stops leading. A record read from the store under one
   * term is not applied under the next: the new term's own read (the leader's boot, or a resync) is
   * newer.
   */
  term(): number;
  /**
   * Leader only: whether its supervisor runs this task, or may (while a term's tasks are resumed,
   * every task). The records of such a task are the supervisor's own: a record read from the store
   * may be older than what the supervisor has moved on to (its writes are durable a moment later).
   */
  runs(taskId: string): boolean;
  /** Leader only: a task another replica added (its record, `queued`) is to be run. */
  added(record: TaskRecord): void;
  /** Leader only: another replica left cancel requests in the store. */
  cancelRequested(): void;
  /** Leader only: messages may have been missed; scan the store for new tasks and cancel requests. */
  rescan(): void;
}

/**
 * Keeps the replicas that share a store in step through its notifier (PostgreSQL
 * `LISTEN`/`NOTIFY`): every durable transition is announced, and what others announce updates
 * this replica's view. A follower's registry follows every task (so `getTask`, `waitFor`, `task$`
 * and `queueSize` see all of them), its `transitions$` carries every task's transitions, in order
 * per task. The leader only takes what is new from the others: the tasks they added and their
 * cancel requests; the records of the tasks it runs are its own.
 *
 * Notifications are fast, not durable: the store is the truth. After a break in the connection
 * a replica reads the store again (`resync`), and the leader also scans it periodically.
 */
export class Replication {
  readonly #parts: RunnerParts;
  readonly #notifier: StoreNotifier;
  readonly #identity: string;
  readonly #hooks: ReplicationHooks;
  readonly #remote = new Subject<Transition>();
  /** Transitions durable since the last send, sent together on the next turn of the event loop. */
  #outbox: Transition[] = [];
  #flushScheduled = false;
  /** Incoming messages are applied one after the other: each reads the store. */
  #applying: Promise<void> = Promise.resolve();
  #closed = false;

  /** Transitions other replicas made (the runner merges them into `transitions$`). */
  readonly remote$: Observable<Transition> = this.#remote.asObservable();

  constructor(parts: RunnerParts, notifier: StoreNotifier, identity: string, hooks: ReplicationHooks) {
    this.#parts = parts;
    this.#notifier = notifier;
    this.#identity = identity;
    this.#hooks = hooks;
  }

  /** Listens; resolves once listening (a failure to connect rejects: the runner cannot start). */
  async start(): Promise<void> {
    await this.#notifier.listen({
      onMessage: (text) => this.#received(text),
      onGap: () => this.#enqueue(() => this.resync()),
      onError: (err) => this.#report('listen', err),
    });
  }

  /** Announces transitions that are durable now (called by the journal, in write order). */
  durable(transitions: readonly Transition[]): void {
    if (this.#closed) return;
    this.#outbox.push(...transitions);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** A follower's cancel: stored for the leader (durable), then announced. */
  async requestCancel(taskId: string): Promise<void> {
    await this.#parts.store.requestCancel({ taskId, at: Date.now() });
    await this.#notifier
      .notify(encodeReplicaMessage({ kind: 'cancel', origin: this.#identity, taskId }))
      .catch((err: unknown) => this.#report('notify', err));
  }

  /**
   * Reads the store again: the open tasks into the registry (a follower also refreshes the open
   * records it holds that are no longer open), then the leader rescans.
   */
  async resync(): Promise<void> {
    const { store, registry } = this.#parts;
    if (this.#hooks.isLeader()) {
      this.#hooks.rescan();
      return;
    }
    const term = this.#hooks.term();
    const open = await store.listOpenTasks();
    // Leading now: the records read are the supervisor's to keep (its boot read the store again).
    if (this.#hooks.term() !== term) return;
    const openIds = new Set<string>();
    for (const { record } of open) {
      openIds.add(record.id);
      registry.update(record);
    }
    const stale = registry.list().filter((r) => r.state !== 'deleted' && !openIds.has(r.id));
    for (const record of stale) {
      const stored = await store.getTask(record.id);
      if (this.#hooks.term() !== term) return;
      this.#apply(record.id, stored);
    }
  }

  /** Sends what is left, then closes the notifier; `remote$` completes. */
  async close(): Promise<void> {
    this.#flush();
    this.#closed = true;
    await this.#applying;
    await this.#notifier.close();
    this.#remote.complete();
  }

  #flush(): void {
    this.#flushScheduled = false;
    const transitions = this.#outbox;
    this.#outbox = [];
    if (transitions.length === 0 || this.#closed) return;
    for (const text of transitionMessages(this.#identity, transitions)) {
      this.#notifier.notify(text).catch((err: unknown) => this.#report('notify', err));
    }
  }

  #received(text: string): void {
    const message = decodeReplicaMessage(text);
    if (!message || message.origin === this.#identity || this.#closed) return;
    if (message.kind === 'cancel') {
      if (this.#hooks.isLeader()) this.#hooks.cancelRequested();
      return;
    }
    const { transitions } = message;
    this.#enqueue(() => this.#transitions(transitions));
  }

  #enqueue(work: () => Promise<void>): void {
    this.#applying = this.#applying.then(work).catch((err: unknown) => this.#report('apply', err));
  }

  async #transitions(transitions: readonly Transition[]): Promise<void> {
    const leader = this.#hooks.isLeader();
    const term = this.#hooks.term();
    // The leader runs its tasks itself: of the others' transitions, only new tasks concern it.
    const relevant = leader ? transitions.filter((t) => t.from === null) : transitions;
    if (relevant.length === 0) return;
    const ids = [...new Set(relevant.map((t) => t.taskId))];
    const records = await Promise.all(ids.map((id) => this.#parts.store.getTask(id)));
    // Read as a follower, and this replica leads now: its boot read the store after these reads (a
    // new task among them is found by the scan that follows the boot). Applied, they would take the
    // registry back from the state a resumed task has moved on to. A leader that stepped down
    // meanwhile reads the store again as a follower.
    const termChanged = this.#hooks.term() !== term;
    // A new task the leader took meanwhile (its scan found it) is the supervisor's from then on.
    const applied = ids.map((id) => !termChanged && !(leader && this.#hooks.runs(id)));
    ids.forEach((id, i) => {
      if (applied[i]) this.#apply(id, records[i]);
    });
    const { tracing } = this.#parts;
    for (const t of relevant) {
      // A span started here (the task was added here) follows the task wherever it runs.
      if (tracing.has(t.taskId)) tracing.transition(t, this.#parts.registry.get(t.taskId));
      this.#remote.next(t);
    }
    if (termChanged) {
      if (!this.#hooks.isLeader()) this.#enqueue(() => this.resync());
      return;
    }
    if (!leader) return;
    records.forEach((record, i) => {
      if (record?.state === 'queued' && applied[i]) this.#hooks.added(record);
    });
  }

  /** The store's record of a task into the registry (gone from the store: forgotten). */
  #apply(id: string, record: TaskRecord | undefined): void {
    const { registry } = this.#parts;
    if (!record) {
      registry.forget(id);
      return;
    }
    registry.update(record);
    // Announced once durable: the store answers for a finished task from now on.
    if (record.state === 'deleted') registry.evict(id);
  }

  #report(phase: 'listen' | 'notify' | 'apply', err: unknown): void {
    this.#parts.telemetry.report({ kind: 'replicationFailed', phase, error: messageOf(err) });
  }
}
