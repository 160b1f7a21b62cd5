import { fromCallback, fromPromise, type EventObject } from 'xstate';
import type {
  AlarmCommand,
  AlarmInput,
  ClusterObservation,
  CreateJobInput,
  CreateJobOutput,
  DeleteJobInput,
  DeleteJobOutput,
  HarvestLogsInput,
  HarvestLogsOutput,
  ObserveJobInput,
  SnapshotLogsInput,
  TaskEvent,
} from '../machines/task/contract.js';
import type { LogSnapshot, TaskStore } from '../store/contract.js';
import type { JobsGateway } from './jobs-gateway.js';
import type { JobWatcher } from './job-watcher.js';
import { jobNameLabels } from './labels.js';
import { lastLines, type PodLog } from './logs.js';
import { toPodView } from './views.js';
import { fullJitterMs } from './retry.js';
import { maxTimerMs, sleep as realSleep, type Sleep } from './sleep.js';

export interface TaskEffectsOptions {
  /** Kubernetes, logs included. */
  gateway: JobsGateway;
  watcher: JobWatcher;
  /** Only log snapshots are written here; task records are the runner's. */
  store: Pick<TaskStore, 'putLogSnapshot' | 'getLogSnapshot'>;
  /** Epoch ms. @default Date.now */
  now?: () => number;
  /** Interval of log snapshots while a task runs. @default 30000 */
  logSnapshotIntervalMs?: number;
  /** Log lines kept for a failure record. @default 20 */
  lastLogLines?: number;
  /** While waiting for a deleted Job to go, a GET checks after this long (doubling) in case the watch is behind. @default 2000 */
  deleteCheckMs?: number;
  /** An Events LIST for a troubled observation may delay it this long at most. @default 5000 */
  eventsTimeoutMs?: number;
  /**
   * Awaited before `createJob`, `harvestLogs` and `deleteJob` touch anything: the runner's
   * write-ahead hook (the task's transition into the state that invoked the effect is durable first).
   */
  beforeEffect?: (taskId: string) => Promise<void>;
  /** Failures that do not fail the task (a periodic snapshot, an Events lookup). @default process.emitWarning */
  onError?: (error: unknown, where: { taskId: string; effect: string }) => void;
  sleep?: Sleep;
}

const benignWaiting = new Set(['ContainerCreating', 'PodInitializing']);

/**
 * The Job has failed while its pods look unfinished (or unseen) in the watch cache. The Job
 * controller fails a Job only after its pods ended (or, for a deadline, while it kills them), so
 * this is mostly a Pods stream behind the Jobs stream.
 */
function podsLag(observation: ClusterObservation): boolean {
  const failed = (observation.job?.conditions ?? []).some((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True');
  return failed && (observation.pods.length === 0 || observation.pods.some((p) => p.phase !== 'Succeeded' && p.phase !== 'Failed'));
}

/**
 * What looks wrong in an observation (a failed condition, a stuck or failed container, an
 * unschedulable pod), as a string that changes when the trouble does; '' when all is well.
 */
export function troubleSignature(observation: ClusterObservation): string {
  const marks: string[] = [];
  for (const c of observation.job?.conditions ?? []) {
    if ((c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True') marks.push(`job:${c.type}:${c.reason ?? ''}`);
  }
  for (const pod of observation.pods) {
    if (pod.unschedulable) marks.push(`${pod.name}:${pod.unschedulable.reason}`);
    if (pod.phase === 'Failed') marks.push(`${pod.name}:Failed`);
    for (const c of pod.containers) {
      if (c.waiting && !benignWaiting.has(c.waiting.reason)) marks.push(`${pod.name}/${c.name}:${c.waiting.reason}`);
      if (c.terminated && c.terminated.exitCode !== 0) marks.push(`${pod.name}/${c.name}:exit ${c.terminated.exitCode}`);
    }
  }
  return marks.sort().join('|');
}

/**
 * The task machine's invoked actors over Kubernetes (names as in `contract.ts`), to be given
 * to `taskMachine.provide({ actors })`. Every promise actor passes its `signal` down to each
 * request; every callback actor sends nothing after its cleanup ran and releases its timers
 * and subscriptions there.
 */
export function createTaskEffects(options: TaskEffectsOptions) {
  const { gateway, watcher, store } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const intervalMs = options.logSnapshotIntervalMs ?? 30_000;
  const lineCount = options.lastLogLines ?? 20;
  const deleteCheckMs = options.deleteCheckMs ?? 2000;
  const eventsTimeoutMs = options.eventsTimeoutMs ?? 5000;
  const beforeEffect = options.beforeEffect ?? (async () => undefined);
  const report = options.onError ?? ((error: unknown, where: { taskId: string; effect: string }) => process.emitWarning(`k8s-jobs: ${where.effect} of task "${where.taskId}" failed: ${String(error)}`));
  /** Periodic snapshot writes in flight, so the final one is never overtaken by an older one. */
  const snapshotWrites = new Map<string, Promise<void>>();

  const toSnapshot = (taskId: string, log: PodLog, final: boolean): LogSnapshot => ({
    taskId,
    text: log.text,
    totalBytes: log.totalBytes,
    truncated: log.truncated,
    final,
    capturedAt: new Date(now()).toISOString(),
    pod: log.pod,
    container: log.container,
  });

  /** Create the Job, or adopt ours on 409 (same fingerprint); `JobConflictError` otherwise. */
  const createJob = fromPromise<CreateJobOutput, CreateJobInput>(async ({ input, signal }) => {
    await beforeEffect(input.taskId);
    const created = await gateway.createJob(input, signal);
    watcher.created(input.jobName);
    return created;
  });

  /**
   * Sends `CLUSTER.OBSERVED` with the current view and on every change. When the view shows
   * trouble, the Job's recent Events are fetched first (once per new trouble) and attached, so
   * a failure record can say what Kubernetes said.
   */
  const observeJob = fromCallback<EventObject, ObserveJobInput>(({ input, sendBack }) => {
    const abort = new AbortController();
    let events: string[] | undefined;
    let signature = '';
    let fetching = false;
    let pending: ClusterObservation | undefined;
    const send = (observation: ClusterObservation): void => {
      if (abort.signal.aborted) return;
      const event: TaskEvent = { type: 'CLUSTER.OBSERVED', observation: events ? { ...observation, events } : observation };
      sendBack(event);
    };
    const onObservation = (observation: ClusterObservation): void => {
      if (fetching) {
        pending = observation;
        return;
      }
      const trouble = troubleSignature(observation);
      if (trouble === '' || trouble === signature) {
        send(observation);
        return;
      }
      signature = trouble;
      fetching = true;
      pending = observation;
      const timeout = AbortSignal.timeout(eventsTimeoutMs);
      const fetchSignal = AbortSignal.any([abort.signal, timeout]);
      let freshPods: ClusterObservation['pods'] | undefined;
      const fetchedEvents = watcher.events(input.jobName, fetchSignal).then(
        (fetched) => {
          events = fetched;
        },
        (error: unknown) => {
          if (!abort.signal.aborted) report(error, { taskId: input.taskId, effect: 'observeJob (events)' });
        },
      );
      // Jobs and Pods come on separate watches: after a reconnect or relist the Pods stream can lag,
      // so a Job already Failed shows pods still running. The failure needs their exit code: read them.
      const fetchedPods = podsLag(observation)
        ? gateway.listPods(fetchSignal, `${jobNameLabels[0]}=${input.jobName}`).then(
            (list) => {
              freshPods = list.items.map(toPodView).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
            },
            (error: unknown) => {
              if (!abort.signal.aborted) report(error, { taskId: input.taskId, effect: 'observeJob (pods)' });
            },
          )
        : undefined;
      void Promise.all([fetchedEvents, fetchedPods]).finally(() => {
        fetching = false;
        const refreshed = pending !== undefined && freshPods !== undefined && podsLag(pending);
        const next = refreshed && pending ? { ...pending, pods: freshPods ?? pending.pods } : pending;
        pending = undefined;
        if (!next || abort.signal.aborted) return;
        // The fresh pods add exit marks to the trouble: it is the one just fetched for, not a new one.
        if (refreshed) signature = troubleSignature(next);
        onObservation(next);
      });
    };
    const unsubscribe = watcher.observe(input.jobName, onObservation);
    return () => {
      abort.abort();
      unsubscribe();
    };
  });

  /**
   * Sends `{ type: 'ALARM', at: now() }` once `now()` reaches `at`; `{ type: 'ARM', at }`
   * re-arms it (`at: undefined` disarms). Waits longer than a Node timer allows are chained.
   */
  const alarm = fromCallback<AlarmCommand, AlarmInput>(({ input, sendBack, receive }) => {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const arm = (at: number | undefined): void => {
      clearTimeout(timer);
      timer = undefined;
      if (at === undefined || stopped) return;
      const delay = at - now();
      timer = setTimeout(
        () => {
          timer = undefined;
          // A timer may fire a little before `now()` agrees; the machine would ignore an early ALARM.
          if (now() < at) arm(at);
          else if (!stopped) sendBack({ type: 'ALARM', at: now() } satisfies TaskEvent);
        },
        Math.min(Math.max(0, delay), maxTimerMs),
      );
    };
    receive((command) => {
      if (command.type === 'ARM') arm(command.at);
    });
    arm(input.at);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });

  /** Every interval, a capped read of the newest pod's log into the store (never two at once). */
  const snapshotLogs = fromCallback<EventObject, SnapshotLogsInput>(({ input }) => {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let lastTotal = -1;
    const tick = async (): Promise<void> => {
      const pods = watcher.current(input.jobName)?.pods ?? [];
      // Until the watch shows a pod there is nothing to read (and no LIST is spent finding out).
      const log = pods.length > 0 ? await gateway.readJobLog(input.jobName, { pods, signal: abort.signal }) : undefined;
      if (!log || log.totalBytes === lastTotal || abort.signal.aborted) return;
      const write = store.putLogSnapshot(toSnapshot(input.taskId, log, false));
      snapshotWrites.set(input.taskId, write);
      try {
        await write;
        lastTotal = log.totalBytes;
      } finally {
        if (snapshotWrites.get(input.taskId) === write) snapshotWrites.delete(input.taskId);
      }
    };
    const schedule = (): void => {
      timer = setTimeout(() => {
        tick().then(
          () => undefined,
          (error: unknown) => {
            if (!abort.signal.aborted) report(error, { taskId: input.taskId, effect: 'snapshotLogs' });
          },
        ).finally(() => {
          if (!abort.signal.aborted) schedule();
        });
      }, intervalMs);
    };
    schedule();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  });

  /**
   * The final capped read of the newest pod's log, stored with `final: true`; resolves only once
   * that write is durable. When no log can be read any more (the pod is gone, or the last pod
   * never started), the last periodic snapshot becomes the final one.
   */
  const harvestLogs = fromPromise<HarvestLogsOutput, HarvestLogsInput>(async ({ input, signal }) => {
    await beforeEffect(input.taskId);
    const inFlight = snapshotWrites.get(input.taskId);
    if (inFlight) await inFlight.catch(() => undefined /* already reported by snapshotLogs */);
    await watcher.ready();
    const known = watcher.current(input.jobName);
    const log = await gateway.readJobLog(input.jobName, { pods: known?.pods, signal });
    if (log && log.totalBytes > 0) {
      await store.putLogSnapshot(toSnapshot(input.taskId, log, true));
      return { lastLines: lastLines(log.text, lineCount) };
    }
    const previous = await store.getLogSnapshot(input.taskId);
    if (previous && previous.totalBytes > 0) {
      if (!previous.final) await store.putLogSnapshot({ ...previous, final: true });
      return { lastLines: lastLines(previous.text, lineCount) };
    }
    // Nothing to read (no pod left, or a container that never wrote): still store a final
    // snapshot, so every finished task has readable logs and the reason there are none.
    await store.putLogSnapshot(
      log
        ? toSnapshot(input.taskId, log, true)
        : { taskId: input.taskId, text: '', totalBytes: 0, truncated: false, final: true, capturedAt: new Date(now()).toISOString(), unavailable: 'no pod of the Job was left to read logs from' },
    );
    return { lastLines: [] };
  });

  /**
   * Deletes the Job (the configured propagation policy; 404 = done) and resolves once it is gone
   * (with the time it was seen gone): the watch shows it deleted (or replaced by another Job of
   * that name), or a GET answers 404.
   */
  const deleteJob = fromPromise<DeleteJobOutput, DeleteJobInput>(async ({ input, signal }) => {
    await beforeEffect(input.taskId);
    const result = await gateway.deleteJob(input.jobName, { uid: input.jobUid, signal });
    if (result === 'absent') return { at: now() };
    const isGone = (job: { uid: string } | null | undefined): boolean => job === null || (input.jobUid !== undefined && job !== undefined && job.uid !== input.jobUid);
    const local = new AbortController();
    const both = AbortSignal.any([signal, local.signal]);
    const seenGone = new Promise<void>((resolve) => {
      const unsubscribe = watcher.observe(input.jobName, (o) => {
        if (!isGone(o.job)) return;
        resolve();
        queueMicrotask(unsubscribe);
      });
      both.addEventListener('abort', unsubscribe, { once: true });
    });
    const checked = (async () => {
      for (let round = 1; ; round++) {
        await sleep(deleteCheckMs * 2 ** Math.min(round - 1, 4) + fullJitterMs(1, deleteCheckMs / 4, deleteCheckMs / 4), both);
        const job = await gateway.getJob(input.jobName, both);
        if (!job || isGone({ uid: job.metadata?.uid ?? '' })) return;
      }
    })();
    try {
      await Promise.race([seenGone, checked]);
    } finally {
      local.abort();
      // The loser only ever ends by this abort: its rejection is expected, not an error.
      checked.catch(() => undefined);
    }
    signal.throwIfAborted();
    return { at: now() };
  });

  return { createJob, observeJob, alarm, snapshotLogs, harvestLogs, deleteJob };
}

/** The actor logics `createTaskEffects` returns, keyed as the task machine's `setup({ actors })`. */
export type TaskEffects = ReturnType<typeof createTaskEffects>;
