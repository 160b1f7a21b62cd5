import { jobNameFor } from '../jobs/job-name.js';
import type { OwnedJob } from '../ports/jobs-port.js';
import { handleOrphan } from './orphans.js';
import type { RunnerParts } from './runner-parts.js';
import type { TaskSupervisor } from './task-supervisor.js';

/** What the periodic scan must leave alone besides the tasks of the registry and the store. */
export interface OrphanScanOptions {
  /** Between the end of one scan and the start of the next (ms); 0 = never. */
  intervalMs: number;
  /** Ids of tasks being added right now (not yet in the registry): their Jobs are not orphans. */
  pendingTaskIds: () => Iterable<string>;
}

/**
 * Looks for orphans while the runner runs, the way the start does (`orphans.ts`): one LIST of our
 * Jobs every `intervalMs`, and each Job no task accounts for is handled as the `orphans` option
 * says and reported on `events$` (`phase: 'scan'`), once per Job (by uid).
 *
 * Never flagged: a Job whose task is in the registry (every task this process added or resumed,
 * open or finished: a task enters it once its `queued` record is durable, before its Job can be
 * created, so a Job in the LIST always has its task there by the time the registry is read after
 * the LIST), a Job of a task being added (`pendingTaskIds`), and a Job whose task the store knows
 * (`handleOrphan` asks it). A failed LIST is logged and tried again at the next interval.
 */
export class OrphanScanner {
  readonly #parts: RunnerParts;
  readonly #supervisor: TaskSupervisor;
  readonly #options: OrphanScanOptions;
  /** Orphans already reported (uids), pruned to those the last LIST still showed. */
  #reported = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #scan: Promise<void> | undefined;
  #stopped = false;

  constructor(parts: RunnerParts, supervisor: TaskSupervisor, options: OrphanScanOptions) {
    this.#parts = parts;
    this.#supervisor = supervisor;
    this.#options = options;
  }

  /** Marks Jobs the start already reported, then schedules the first scan. */
  start(reportedAtStart: Iterable<OwnedJob>): void {
    for (const job of reportedAtStart) this.#reported.add(job.uid);
    this.#schedule();
  }

  /** Cancels the next scan and resolves once a scan in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#scan;
  }

  /** One scan now (the timer's, or a test's); resolves when it has handled every orphan found. */
  scanNow(): Promise<void> {
    this.#scan ??= this.#run().finally(() => {
      this.#scan = undefined;
    });
    return this.#scan;
  }

  #schedule(): void {
    if (this.#stopped || this.#options.intervalMs <= 0) return;
    this.#timer = setTimeout(() => {
      void this.scanNow().finally(() => this.#schedule());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    const { jobs, registry, telemetry, log } = this.#parts;
    let listed: OwnedJob[];
    try {
      listed = await jobs.listJobs();
    } catch (err) {
      log.warn({ err }, 'orphan scan: could not list Jobs; trying again at the next interval');
      return;
    }
    // Read after the LIST: a Job in it was created after its task entered the registry.
    const known = new Set(registry.list().map((record) => record.jobName));
    const pending = new Set(this.#options.pendingTaskIds());
    for (const id of pending) known.add(jobNameFor(id));
    this.#reported = new Set(listed.filter((job) => this.#reported.has(job.uid)).map((job) => job.uid));
    for (const job of listed) {
      if (this.#stopped) return;
      if (job.name === '' || known.has(job.name) || this.#reported.has(job.uid)) continue;
      if (job.taskId !== undefined && (registry.has(job.taskId) || pending.has(job.taskId))) continue;
      try {
        const event = await handleOrphan(this.#parts, this.#supervisor, job, 'scan');
        if (!event) continue;
        this.#reported.add(job.uid);
        telemetry.report(event);
      } catch (err) {
        // The store could not answer (e.g. closing): not an orphan we can tell; the next scan decides.
        log.warn({ err, job: job.name }, 'orphan scan: could not check a Job');
      }
    }
  }
}
