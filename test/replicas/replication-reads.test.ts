import { KubeConfig } from '@kubernetes/client-node';
import { firstValueFrom, filter } from 'rxjs';
import { afterEach, expect, test } from 'vitest';
import { resolveRunnerOptions } from '../../src/runner/options.js';
import { encodeReplicaMessage } from '../../src/runner/replica-messages.js';
import { Replication, type ReplicationHooks } from '../../src/runner/replication.js';
import { wireRunner } from '../../src/runner/runner-parts.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { postgresNotifierFor } from '../../src/store/postgres-notifier.js';
import type { TaskRecord } from '../../src/types.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';
import { record, transition } from '../store/task-store-contract.js';

/*
 * A replica follows the others by reading the store when they announce a transition. The read
 * takes a moment, and the replica's own supervisor may take the task during it: the failover
 * suite once saw a replica that became leader mid-read put the task's `queued` record back over
 * the `creating` one its supervisor had moved to, and the next transition was stored as
 * `queued → running`. Here the step that races the read is made at the instant the read returns
 * (real PostgreSQL store and LISTEN/NOTIFY), so each case runs the same way every time.
 */

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** What the replica's runner would answer through the hooks: the test plays it. */
type Role = { leading: boolean; term: number; handed: Set<string> };

interface Harness {
  replication: Replication;
  registry: ReturnType<typeof wireRunner>['registry'];
  /** Another replica stores a new task (through its own store handle) and announces it. */
  addElsewhere: (task: TaskRecord) => Promise<void>;
  /** Called as a read of the store for a task returns, before the replica uses it. */
  duringRead: (hook: (taskId: string) => void) => void;
  /** The tasks replication handed to the leader to run (its `added` hook). */
  added: TaskRecord[];
}

async function harness(role: Role): Promise<Harness> {
  const schema = randomSchema('k8s_jobs_replication_reads');
  closers.push(() => dropSchemas([schema]));
  const url = postgresStoreUrl(schema);
  const store: KeyvTaskStore = await openTaskStore(url);
  closers.push(() => store.close());
  const other = await openTaskStore(url);
  closers.push(() => other.close());
  // Nothing here calls the cluster: the parts need a KubeConfig, not a server.
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser(
    { name: 'unused', server: 'https://127.0.0.1:9', skipTLSVerify: true },
    { name: 'u' },
  );
  const parts = wireRunner(resolveRunnerOptions({}), kubeConfig, store, (err) => {
    throw err;
  });
  let onRead: (taskId: string) => void = () => undefined;
  const read = store.getTask.bind(store);
  store.getTask = async (id) => {
    const found = await read(id);
    onRead(id);
    return found;
  };
  const added: TaskRecord[] = [];
  const hooks: ReplicationHooks = {
    isLeader: () => role.leading,
    term: () => role.term,
    runs: (id) => role.handed.has(id),
    added: (task) => added.push(task),
    cancelRequested: () => undefined,
    rescan: () => undefined,
  };
  const notifier = postgresNotifierFor(url);
  const announcer = postgresNotifierFor(url);
  if (!notifier || !announcer) throw new Error('a PostgreSQL URL has a notifier');
  const replication = new Replication(parts, notifier, 'this-replica', hooks);
  await replication.start();
  closers.push(() => replication.close());
  // A notifier sends over the connection it listens on.
  await announcer.listen({ onMessage: () => undefined, onGap: () => undefined, onError: () => undefined });
  closers.push(() => announcer.close());
  return {
    replication,
    registry: parts.registry,
    added,
    duringRead: (hook) => {
      onRead = hook;
    },
    addElsewhere: async (task) => {
      const first = transition(task.id, null, 'queued');
      await other.saveTask(task, first);
      await announcer.notify(encodeReplicaMessage({ kind: 'transitions', origin: 'other', transitions: [first] }));
    },
  };
}

/** Another replica adds `task`; resolves once this replica has handled the announcement. */
async function addedElsewhere(h: Harness, task: TaskRecord): Promise<void> {
  const seen = firstValueFrom(h.replication.remote$.pipe(filter((t) => t.taskId === task.id)), {
    defaultValue: undefined,
  });
  await h.addElsewhere(task);
  await seen;
}

/**
 * Another replica adds a task, and while this replica reads it, `meanwhile` changes its role and
 * its supervisor takes the task and starts it (the registry holds the supervisor's records). What
 * the registry says of the task afterwards, and which tasks replication handed to the leader.
 */
async function takenDuringRead(role: Role, taskId: string, meanwhile: (role: Role) => void) {
  const h = await harness(role);
  const task = record(taskId);
  h.duringRead(() => {
    meanwhile(role);
    role.handed.add(task.id);
    h.registry.update({ ...task, state: 'creating' });
  });
  await addedElsewhere(h, task);
  return { state: h.registry.get(task.id)?.state, handedOn: h.added.map((t) => t.id) };
}

test('a follower that becomes leader while it reads a new task leaves the record its supervisor moved to', async () => {
  const role = { leading: false, term: 0, handed: new Set<string>() };
  // The new term's boot reads the store, resumes the task and hands new ones on itself.
  const after = await takenDuringRead(role, 'read-then-lead', (r) => {
    r.term += 1;
    r.leading = true;
  });
  expect(after).toEqual({ state: 'creating', handedOn: [] });
});

test("a leader whose scan took a new task while it read the task's announcement leaves the supervisor's record", async () => {
  const role = { leading: true, term: 1, handed: new Set<string>() };
  // The leader's periodic scan found the task first.
  const after = await takenDuringRead(role, 'scanned-meanwhile', () => undefined);
  expect(after).toEqual({ state: 'creating', handedOn: [] });
});

test('a leader told of a new task it does not run yet takes it, and a follower follows every task', async () => {
  const role = { leading: true, term: 1, handed: new Set<string>() };
  const h = await harness(role);
  const fresh = record('new-for-the-leader');
  await addedElsewhere(h, fresh);
  expect(h.registry.get(fresh.id)?.state).toBe('queued');
  expect(h.added.map((t) => t.id)).toEqual([fresh.id]);

  role.leading = false;
  role.term += 1;
  const followed = record('followed');
  await addedElsewhere(h, followed);
  expect(h.registry.get(followed.id)?.state).toBe('queued');
  expect(h.added.map((t) => t.id)).toEqual([fresh.id]);
});
