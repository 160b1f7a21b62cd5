/**
 * One reading interface over the dashboard's two targets: a runner (live, with health and actions)
 * or a store (read-only). Pages and streams read through it and never ask which one it is.
 */
import type { Observable } from 'rxjs';
import type { RunnerHealth } from '../runner/health.js';
import type { Runner } from '../runner/runner-api.js';
import { openTaskStore } from '../store/open-store.js';
import type { TaskListQuery, TaskPage, TaskRecord, Transition } from '../types.js';
import type { TaskInput } from '../validation/task-spec.js';
import type { DashboardStore, DashboardTarget } from './options.js';
import { TransitionMemory } from './transition-memory.js';

/** What the dashboard reads and (with a runner) does. */
export interface DashboardSource {
  /** Where it reads, for the page header: `runner (namespace x)` or the store's URL. */
  readonly label: string;
  listTasks(query: TaskListQuery): Promise<TaskPage>;
  getTask(id: string): Promise<TaskRecord | undefined>;
  /** The task's transitions, oldest first: the store's history, else made from the record's times. */
  getTransitions(record: TaskRecord): Promise<Transition[]>;
  getLog(id: string): Promise<string>;
  /** The runner's health; undefined for a store. */
  health(): RunnerHealth | undefined;
  /** The runner's streams and actions; undefined for a store (read-only, not live). */
  readonly live?: {
    transitions$: Observable<Transition>;
    logs$(id: string): Observable<string>;
    cancel(id: string): Promise<void>;
    addTask(task: TaskInput): Promise<TaskRecord>;
  };
  /** Closes what the dashboard opened itself (a store opened from a URL). */
  close(): Promise<void>;
}

/**
 * The transitions a record's own times imply, when no history is at hand (a runner without a store,
 * for a task it has not streamed since the dashboard started). Kubernetes' start time has whole
 * seconds: a time before the previous one is taken as the previous one.
 */
export function transitionsFromRecord(record: TaskRecord): Transition[] {
  const steps: Array<[TaskRecord['state'], string | undefined]> = [
    ['queued', record.createdAt],
    ['running', record.startedAt],
    [record.outcome ?? 'succeeded', record.outcome ? record.finishedAt : undefined],
    ['deleted', record.deletedAt],
  ];
  const out: Transition[] = [];
  for (const [to, at] of steps) {
    if (at === undefined) continue;
    const previous = out.at(-1);
    const time = previous && Date.parse(at) < Date.parse(previous.at) ? previous.at : at;
    out.push({ taskId: record.id, from: previous?.to ?? null, to, event: 'record', at: time });
  }
  return out;
}

function storeSource(store: DashboardStore, label: string, close: () => Promise<void>): DashboardSource {
  return {
    label,
    listTasks: (query) => store.listTasks(query),
    getTask: (id) => store.getTask(id),
    getTransitions: async (record) => {
      const stored = await store.getTransitions(record.id);
      return stored.length > 0 ? stored : transitionsFromRecord(record);
    },
    getLog: async (id) => (await store.getLogSnapshot(id))?.text ?? '',
    health: () => undefined,
    close,
  };
}

/** A store opened read-only from `url` on first use (so `createDashboard` stays synchronous). */
function lazyStore(url: string): { store: DashboardStore; close: () => Promise<void> } {
  let opened: ReturnType<typeof openTaskStore> | undefined;
  const get = (): ReturnType<typeof openTaskStore> => (opened ??= openTaskStore(url, { readOnly: true }));
  return {
    store: {
      listTasks: async (query) => (await get()).listTasks(query),
      getTask: async (id) => (await get()).getTask(id),
      getTransitions: async (id) => (await get()).getTransitions(id),
      getLogSnapshot: async (id) => (await get()).getLogSnapshot(id),
    },
    close: async () => {
      if (opened) await (await opened).close();
    },
  };
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'TASK_NOT_FOUND';
}

function runnerSource(runner: Runner, given: DashboardStore | string | undefined): DashboardSource {
  const opened = typeof given === 'string' ? lazyStore(given) : undefined;
  const store = opened?.store ?? (typeof given === 'string' ? undefined : given);
  const memory = new TransitionMemory(runner.transitions$);
  return {
    label: `runner (namespace ${runner.namespace})`,
    listTasks: (query) => runner.listTasks(query),
    getTask: async (id) => {
      try {
        return await runner.getTask(id);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    getTransitions: async (record) => {
      const merged = memory.merge(record.id, store ? await store.getTransitions(record.id) : []);
      return merged.length > 0 && merged[0]?.from === null ? merged : transitionsFromRecord(record);
    },
    getLog: (id) => runner.getLogs(id),
    health: () => runner.health(),
    live: {
      transitions$: runner.transitions$,
      logs$: (id) => runner.logs$(id),
      cancel: (id) => runner.cancel(id),
      addTask: (task) => runner.addTask(task),
    },
    close: async () => {
      memory.close();
      await opened?.close();
    },
  };
}

/** The source for a `createDashboard` target. */
export function sourceOf(target: DashboardTarget): DashboardSource {
  if ('runner' in target) return runnerSource(target.runner, target.store);
  if (typeof target.store === 'string') {
    const { store, close } = lazyStore(target.store);
    return storeSource(store, target.store, close);
  }
  return storeSource(target.store, 'store', async () => {});
}
