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

/** Counts requests and keeps the audit trail of Job creations. */
export class RequestLog {
  readonly records: RequestRecord[] = [];
  readonly jobCreations: JobCreationRecord[] = [];
  readonly counts = new Map<string, number>();
  podsCreated = 0;

  constructor(private readonly keepRecords: boolean) {}

  record(entry: RequestRecord): void {
    const key = `${entry.verb} ${entry.resource}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (this.keepRecords) this.records.push(entry);
  }
}
