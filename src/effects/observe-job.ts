import { fromCallback, type EventObject } from 'xstate';
import type { ClusterObservation, ObserveJobInput, PodView, TaskEvent } from '../machines/task/contract.js';
import type { JobObserver } from '../ports/job-observer.js';
import type { JobsPort } from '../ports/jobs-port.js';
import { effectStopped, type ReportEffectError } from './hooks.js';
import { podsLag, troubleSignature } from './trouble.js';

export interface ObserveJobEffectOptions {
  jobs: Pick<JobsPort, 'listJobPods'>;
  observer: Pick<JobObserver, 'observe' | 'events'>;
  /** What explains new trouble (Events, fresh pods) may delay an observation this long at most. */
  eventsTimeoutMs: number;
  report: ReportEffectError;
}

/**
 * `observeJob`: sends `CLUSTER.OBSERVED` with the current view and on every change. When the view
 * shows trouble, the Job's recent Events are fetched first (once per new trouble) and attached, so
 * a failure record can say what Kubernetes said.
 */
export function observeJobEffect(options: ObserveJobEffectOptions) {
  return fromCallback<EventObject, ObserveJobInput>(({ input, sendBack }) => {
    const relay = new ObservationRelay(options, input, sendBack);
    const unsubscribe = options.observer.observe(input.jobName, (observation) => relay.observed(observation));
    return () => {
      relay.stop();
      unsubscribe();
    };
  });
}

/**
 * Whether `next` holds everything `earlier` showed: the Job, if it was there, and every pod. A
 * pod's view only grows more final while it exists (phase, exit code, conditions), so the later
 * view of the same pods says all the earlier one did.
 */
function keepsAllOf(next: ClusterObservation, earlier: ClusterObservation): boolean {
  if (earlier.job !== null && next.job === null) return false;
  return earlier.pods.every((pod) => next.pods.some((later) => later.uid === pod.uid));
}

/**
 * Passes one task's observations on to its machine. New trouble holds them back while it is
 * diagnosed; meanwhile a view replaces the one before it only when it loses nothing of it (see
 * `keepsAllOf`), and they are passed on (with the Events) after: a pod that failed and was
 * deleted meanwhile, or a Job's last status before it went, still reaches the machine.
 */
class ObservationRelay {
  readonly #abort = new AbortController();
  /** The Events of the last trouble diagnosed, attached to every observation since. */
  #events: string[] | undefined;
  /** The trouble last diagnosed ('' = none yet). */
  #signature = '';
  #diagnosing = false;
  /**
   * The views that arrived while diagnosing: the latest, and any it replaced that held something
   * it does not (see `keepsAllOf`), in order.
   */
  #pending: ClusterObservation[] = [];

  constructor(
    private readonly options: ObserveJobEffectOptions,
    private readonly input: ObserveJobInput,
    private readonly sendBack: (event: TaskEvent) => void,
  ) {}

  /** A view of the Job from the shared watch. */
  observed(observation: ClusterObservation): void {
    if (this.#diagnosing) {
      const last = this.#pending.at(-1);
      if (last && keepsAllOf(observation, last)) this.#pending[this.#pending.length - 1] = observation;
      else this.#pending.push(observation);
      return;
    }
    const trouble = troubleSignature(observation);
    if (trouble === '' || trouble === this.#signature) {
      this.#send(observation);
      return;
    }
    this.#signature = trouble;
    void this.#diagnose(observation);
  }

  /** Nothing is sent after this; fetches in flight are aborted. */
  stop(): void {
    this.#abort.abort(effectStopped);
  }

  #send(observation: ClusterObservation): void {
    if (this.#abort.signal.aborted) return;
    const events = this.#events;
    this.sendBack({ type: 'CLUSTER.OBSERVED', observation: events ? { ...observation, events } : observation });
  }

  /** Fetches what explains the trouble, then goes on with the views that came meanwhile. */
  async #diagnose(observation: ClusterObservation): Promise<void> {
    this.#diagnosing = true;
    this.#pending = [observation];
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.options.eventsTimeoutMs)]);
    // Jobs and Pods come on separate watches: after a reconnect or relist the Pods stream can lag,
    // so a Job already Failed shows pods still running. The failure needs their exit code: read them.
    const [, freshPods] = await Promise.all([
      this.#fetchEvents(signal),
      podsLag(observation) ? this.#fetchPods(signal) : undefined,
    ]);
    this.#diagnosing = false;
    const pending = this.#pending;
    this.#pending = [];
    const latest = pending.at(-1);
    if (!latest || this.#abort.signal.aborted) return;
    if (freshPods !== undefined && podsLag(latest)) {
      // The pods as the API has them now, under the Job's latest status: what the views before
      // showed of them is older than that.
      const refreshed = { ...latest, pods: freshPods };
      // The fresh pods add exit marks to the trouble: it is the one just fetched for, not a new one.
      this.#signature = troubleSignature(refreshed);
      this.observed(refreshed);
      return;
    }
    // A view may start a new diagnosis: the ones after it wait for that one.
    for (const view of pending) this.observed(view);
  }

  /** Keeps the Events it read; a failure is reported and leaves the last ones. */
  async #fetchEvents(signal: AbortSignal): Promise<void> {
    try {
      this.#events = await this.options.observer.events(this.input.jobName, signal);
    } catch (error) {
      this.#reportUnlessStopped(error, 'observeJob (events)');
    }
  }

  /** The Job's pods as the API has them now; undefined when they could not be read. */
  async #fetchPods(signal: AbortSignal): Promise<PodView[] | undefined> {
    try {
      return await this.options.jobs.listJobPods(this.input.jobName, signal);
    } catch (error) {
      this.#reportUnlessStopped(error, 'observeJob (pods)');
      return undefined;
    }
  }

  #reportUnlessStopped(error: unknown, effect: string): void {
    if (!this.#abort.signal.aborted) this.options.report(error, { taskId: this.input.taskId, effect });
  }
}
