import {
  concat,
  defer,
  EMPTY,
  filter,
  finalize,
  from,
  map,
  merge,
  Observable,
  of,
  share,
  type OperatorFunction,
  shareReplay,
  startWith,
  Subject,
  switchMap,
  take,
  takeUntil,
  takeWhile,
} from 'rxjs';
import { TaskNotFoundError } from '../errors.js';
import { truncationMarker } from '../logs/capped-log.js';
import type { ClusterObservation, PodView } from '../machines/task/contract.js';
import type { JobsPort } from '../ports/jobs-port.js';
import type { LogSnapshot } from '../store/contract.js';
import type { TaskRecord, TaskState } from '../types.js';
import { ChangeSignal } from './change-signal.js';

/** What the streams read: the runner's registry, its store, the shared watch and the log follower. */
export interface TaskStreamsDeps {
  /** The registry's record (open tasks, and a cache of recently finished ones). */
  current(id: string): TaskRecord | undefined;
  /** The stored record (a finished task the registry no longer holds). */
  stored(id: string): Promise<TaskRecord | undefined>;
  logSnapshot(id: string): Promise<LogSnapshot | undefined>;
  /** The shared watch's view of a Job: its listener is called at once (if known) and on every change. */
  observeJob(jobName: string, listener: (observation: ClusterObservation) => void): () => void;
  /** The Job's pods as the shared watch knows them now. */
  pods(jobName: string): readonly PodView[];
  /** Follows a Job's live log (the adapter's `JobsPort`). */
  follower: Pick<JobsPort, 'followJobLog'>;
}

/** Subscriber counts of the runner's streams, for the leak test (not public API). */
export interface StreamsInspection extends TaskStreamsInspection {
  /** Observers of the runner's transitions Subject (its own telemetry included). */
  transitionsObservers: number;
  /** Observers of the runner's events Subject. */
  eventsObservers: number;
  /** Pending `waitFor` calls. */
  waiters: number;
  /** Records in the runner's registry: open tasks plus its cache of recently finished ones. */
  records: number;
  /** Of those, the open tasks (and finished ones whose `deleted` record is not durable yet). */
  openRecords: number;
}

/** What `TaskStreams` itself holds. */
export interface TaskStreamsInspection {
  /** Per-task `task$` sources alive. */
  taskStreams: number;
  /** Per-task `logs$` sources alive. */
  logStreams: number;
  /** Whether anything still listens to record updates. */
  recordsObserved: boolean;
}

/** States in which the task's pod may still print (later ones only have the stored log). */
const liveStates: readonly TaskState[] = ['queued', 'creating', 'running'];
/** States in which the final log snapshot has been stored (or could not be, and never will). */
const harvestedStates: readonly TaskState[] = ['deleting', 'deleted'];

/**
 * The reason a `logs$` follower is aborted with when its subscriber leaves: one shared error,
 * where `abort()` without a reason builds a `DOMException` (its stack included) per unsubscription.
 * Nothing sees it: the follower checks only that its signal aborted.
 */
const unsubscribed = new Error('logs$: the subscriber unsubscribed');

/**
 * `task$(id)` and `logs$(id)` of a runner: one shared source per task id while anyone listens
 * (`shareReplay`/`share` with ref-counting, torn down with the last subscriber), every stream
 * completed by `close()`.
 */
export class TaskStreams {
  readonly #updates = new Subject<TaskRecord>();
  readonly #closing = new Subject<void>();
  #closed = false;
  readonly #tasks = new Map<string, Observable<TaskRecord>>();
  readonly #logs = new Map<string, Observable<string>>();

  constructor(private readonly deps: TaskStreamsDeps) {}

  /** Tells the streams of a record stored in the registry. */
  recordChanged(record: TaskRecord): void {
    this.#updates.next(record);
  }

  /** The task's record now, then every change; completes after `deleted` (see `Runner.task$`). */
  task$(id: string): Observable<TaskRecord> {
    return defer(() =>
      this.#shared(
        this.#tasks,
        id,
        () =>
          this.#resolve(id).pipe(
            switchMap((record) =>
              record.state === 'deleted'
                ? of(record)
                : this.#updates.pipe(
                    filter((r) => r.id === id),
                    startWith(record),
                    takeWhile((r) => r.state !== 'deleted', true),
                  ),
            ),
          ),
        // A late subscriber starts from the current record, as the first one did.
        shareReplay({ bufferSize: 1, refCount: true }),
      ),
    );
  }

  /**
   * The task's log lines: live from its pod, then the stored tail (see `Runner.logs$`). Pushed as
   * the follower reads them, with no queue: a slow asynchronous subscriber bounds its own with
   * `bufferLogLines`.
   */
  logs$(id: string): Observable<string> {
    // A late subscriber joins the live lines from then on (the log so far is `getLogs`).
    return defer(() =>
      this.#shared(this.#logs, id, () => this.#resolve(id).pipe(switchMap((record) => this.#lines(record))), share()),
    );
  }

  /** Completes every stream (shutdown); later subscriptions complete at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.next();
    this.#closing.complete();
    this.#updates.complete();
  }

  /** Subscriber counts, for tests that prove streams leave nothing behind. */
  inspect(): TaskStreamsInspection {
    return { taskStreams: this.#tasks.size, logStreams: this.#logs.size, recordsObserved: this.#updates.observed };
  }

  /**
   * The one shared source of this id, made on the first subscription and forgotten when it is torn
   * down (last unsubscribe, completion or error), so idle ids hold nothing.
   */
  #shared<T>(
    cache: Map<string, Observable<T>>,
    id: string,
    make: () => Observable<T>,
    multicast: OperatorFunction<T, T>,
  ): Observable<T> {
    if (this.#closed) return EMPTY;
    const known = cache.get(id);
    if (known) return known;
    // Before the multicast: these run once per source, not once per subscriber.
    const source: Observable<T> = make().pipe(
      takeUntil(this.#closing),
      finalize(() => {
        if (cache.get(id) === source) cache.delete(id);
      }),
      multicast,
    );
    cache.set(id, source);
    return source;
  }

  /** The record now: the registry's, else the store's; `TaskNotFoundError` when neither has it. */
  #resolve(id: string): Observable<TaskRecord> {
    const known = this.deps.current(id);
    // Known: synchronously, so that a subscriber gets the record current at its subscription.
    if (known) return of(known);
    return from(this.deps.stored(id)).pipe(
      map((found) => {
        // Read again: the task may have been added while the store answered.
        const record = this.deps.current(id) ?? found;
        if (!record) throw new TaskNotFoundError(id);
        return record;
      }),
    );
  }

  #lines(record: TaskRecord): Observable<string> {
    const { id, jobName } = record;
    if (harvestedStates.includes(record.state)) return this.#storedTail(id, undefined);
    const streamed: StreamedPosition = { offset: 0, drained: false };
    const task$ = this.task$(id);
    const isLive = (): boolean => liveStates.includes(this.deps.current(id)?.state ?? 'deleted');
    // The Job is observed only from `running` on: observing an unknown name makes the watch look it up.
    const jobChanges = task$.pipe(
      filter((r) => r.state === 'running'),
      take(1),
      switchMap(
        () =>
          new Observable<ClusterObservation>((subscriber) => this.deps.observeJob(jobName, (o) => subscriber.next(o))),
      ),
    );
    const live = new Observable<string>((subscriber) => {
      const abort = new AbortController();
      const changes = new ChangeSignal();
      // Owned here, not by the follower, so that unsubscribing releases it at once.
      const watching = merge(task$, jobChanges).subscribe(changes);
      this.deps.follower
        .followJobLog({
          pods: () => this.deps.pods(jobName),
          finished: () => !isLive(),
          changes,
          signal: abort.signal,
          onLine: (line) => {
            streamed.pod = line.pod;
            streamed.offset = line.offset;
            subscriber.next(line.text);
          },
        })
        .then(
          (end) => {
            streamed.drained = streamed.pod !== undefined && end.drainedPod === streamed.pod;
            subscriber.complete();
          },
          (err: unknown) => subscriber.error(err),
        );
      return () => {
        watching.unsubscribe();
        abort.abort(unsubscribed);
      };
    });
    const harvested = task$.pipe(
      filter((r) => harvestedStates.includes(r.state)),
      take(1),
    );
    // Not cut at `deleted`: a follower that fell behind reads the exited container's stream to
    // its end (the follower bounds that), since the stored snapshot cannot always be placed after it.
    return concat(live, harvested.pipe(switchMap(() => this.#storedTail(id, streamed))));
  }

  /** What the stored snapshot holds beyond what was streamed (`undefined`: nothing was), as lines. */
  #storedTail(id: string, streamed: StreamedPosition | undefined): Observable<string> {
    return from(this.deps.logSnapshot(id)).pipe(
      switchMap((snapshot) => from(snapshot ? unstreamedLines(snapshot, streamed) : [])),
    );
  }
}

/** The marker `CappedLogCollector` puts between the head and the tail of a capped log. */
const markerPattern = /\n… \[\d+ bytes truncated\] …\n/;

/** How far a live stream got in the log of one pod. */
export interface StreamedPosition {
  /** The pod of the last line streamed (undefined: none was). */
  pod?: string;
  /** Bytes of that pod's log streamed, as the follower counts them (`FollowedLine.offset`). */
  offset: number;
  /** The stream of that pod was read to its end (`FollowEnd.drainedPod`). */
  drained: boolean;
}

/**
 * Marks where a live stream that was cut short, in a log that rotated, goes on with the stored
 * snapshot's tail: the bytes the follower counted span files the snapshot does not hold, so the
 * tail cannot be placed after the last line streamed and may repeat some.
 */
export const streamCutMarker = '[k8s-jobs: the live log was cut; the stored tail follows and may repeat lines]';

/**
 * The snapshot's lines past what was streamed from the same pod: nothing when that stream was
 * read to its end; else by byte offset (the snapshot counts the log's bytes as the follower
 * does, unless the log rotated: see `streamCutMarker`); the whole snapshot when nothing of that
 * pod was. A capped snapshot keeps only the log's last bytes: if the stream stopped before them,
 * the gap is shown as a truncation marker line.
 */
export function unstreamedLines(snapshot: LogSnapshot, streamed: StreamedPosition | undefined): string[] {
  if (!streamed?.pod || snapshot.pod !== streamed.pod) return splitLines(snapshot.text);
  if (streamed.drained || streamed.offset === snapshot.totalBytes) return [];
  const marker = snapshot.truncated ? markerPattern.exec(snapshot.text) : null;
  const tail = Buffer.from(marker ? snapshot.text.slice(marker.index + marker[0].length) : snapshot.text);
  // More bytes streamed than the log holds: they include files rotated away since.
  if (streamed.offset > snapshot.totalBytes) return [streamCutMarker, ...splitLines(tail.toString('utf8'))];
  const tailStart = snapshot.totalBytes - tail.length;
  if (streamed.offset >= tailStart) return splitLines(tail.subarray(streamed.offset - tailStart).toString('utf8'));
  return [truncationMarker(tailStart - streamed.offset).trim(), ...splitLines(tail.toString('utf8'))];
}

/** Lines of a log text (a trailing newline does not make an empty last line). */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const inspections = new WeakMap<object, () => StreamsInspection>();

/** Lets `inspectStreams(owner)` report `streams`' counts (the runner registers itself). */
export function registerStreamsInspection(owner: object, inspect: () => StreamsInspection): void {
  inspections.set(owner, inspect);
}

/**
 * Subscriber counts of a runner's streams. Internal: the leak test uses it; it is not exported
 * from the package.
 */
export function inspectStreams(owner: object): StreamsInspection {
  const inspect = inspections.get(owner);
  if (!inspect) throw new TypeError('not a runner created by createRunner');
  return inspect();
}
