/** One request as the simulator saw it, for rate and exactly-once assertions. */
export interface RequestRecord {
  /** ms since epoch when the request arrived. */
  at: number;
  verb: string;
  /** `jobs`, `pods/log`, `jobs/status`, or a non-resource path such as `/version`. */
  resource: string;
  namespace?: string;
  name?: string;
  /** HTTP status answered (0 if the connection was reset). */
  status: number;
  /**
   * `delete`/`deletecollection`: the DeleteOptions' `propagationPolicy` as the server received it
   * (query or body; `orphanDependents` read as Kubernetes does). Absent when none was sent.
   */
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
}

/** A Job creation the API server accepted (the exactly-once audit). */
export interface JobCreationRecord {
  at: number;
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** What `cluster.stats()` reports: request counts, open watches, and what was created and is stored. */
export interface SimStats {
  /** Request counts keyed `verb resource`, e.g. `create jobs`, `watch pods`, `get pods/log`. */
  requests: Record<string, number>;
  totalRequests: number;
  /** Watches open right now. */
  openWatches: number;
  /** Pod logs being followed (`follow=true`) right now. */
  openLogStreams: number;
  jobsCreated: number;
  podsCreated: number;
  objects: { jobs: number; pods: number; events: number };
}

/**
 * How much of a history to keep: `true` every entry, `false` none, a number the latest that many
 * (older ones dropped first).
 */
export type Retention = boolean | number;

/** An append-only list that keeps the latest `limit` entries (all when `limit` is Infinity). */
export class BoundedLog<T> {
  readonly #limit: number;
  #entries: T[] = [];
  /** Index of the oldest kept entry once the log is full (the ring's head). */
  #head = 0;
  #dropped = 0;

  constructor(retention: Retention) {
    this.#limit = retention === true ? Infinity : retention === false ? 0 : Math.max(0, Math.floor(retention));
  }

  /** Entries dropped so far to stay within the limit. */
  get dropped(): number {
    return this.#dropped;
  }

  push(entry: T): void {
    if (this.#entries.length < this.#limit) {
      this.#entries.push(entry);
      return;
    }
    this.#dropped++;
    if (this.#limit === 0) return;
    this.#entries[this.#head] = entry;
    this.#head = (this.#head + 1) % this.#limit;
  }

  /** The kept entries, oldest first (a fresh array while the ring has wrapped). */
  toArray(): readonly T[] {
    if (this.#head === 0) return this.#entries;
    // Unroll once, so the next reads are free again.
    this.#entries = [...this.#entries.slice(this.#head), ...this.#entries.slice(0, this.#head)];
    this.#head = 0;
    return this.#entries;
  }
}

/** Default number of requests `requests()` keeps. */
export const defaultRequestRetention = 10_000;

/** Counts requests and keeps the latest of them, and the audit trail of Job creations. */
export class RequestLog {
  readonly records: BoundedLog<RequestRecord>;
  readonly jobCreations: BoundedLog<JobCreationRecord>;
  readonly counts = new Map<string, number>();
  jobsCreated = 0;
  podsCreated = 0;

  constructor(options: { requests?: Retention; jobCreations?: Retention } = {}) {
    this.records = new BoundedLog(options.requests ?? defaultRequestRetention);
    this.jobCreations = new BoundedLog(options.jobCreations ?? true);
  }

  /** A Job the API server accepted: counted always, kept as the audit says. */
  jobCreated(entry: JobCreationRecord): void {
    this.jobsCreated++;
    this.jobCreations.push(entry);
  }

  record(entry: RequestRecord): void {
    const key = `${entry.verb} ${entry.resource}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.records.push(entry);
  }
}
