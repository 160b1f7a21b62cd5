/**
 * What `createDashboard` takes: where the tasks come from (a runner: live; a store: read-only),
 * and how it is served.
 */
import type { IncomingMessage } from 'node:http';
import type { Runner } from '../runner/runner-api.js';
import type { TaskStore } from '../store/contract.js';

/** The store reads the dashboard uses: any k8s-jobs store (a runner's, or one opened read-only). */
export type DashboardStore = Pick<TaskStore, 'listTasks' | 'getTask' | 'getTransitions' | 'getLogSnapshot'>;

/**
 * Where the dashboard reads. With a `runner` it is live (Server-Sent Events from
 * `transitions$`, log tails from `logs$`, health, and actions when enabled); `store` beside it (the
 * runner's store URL, opened read-only) adds each task's full history of transitions (without it,
 * those the dashboard saw since it started, else the record's times). With a
 * `store` only it is read-only: a store URL (`sqlite://…`, `postgres://…`, opened read-only on
 * first use and closed by `close()`) or an open store.
 */
export type DashboardTarget = { runner: Runner; store?: DashboardStore | string } | { store: DashboardStore | string };

/** Decides whether a request may run an action; resolves false to refuse it (403). */
export type AuthorizeAction = (req: IncomingMessage) => boolean | Promise<boolean>;

/** Options of `createDashboard`. */
export interface DashboardOptions {
  /**
   * The path the dashboard is served under (no trailing slash); other paths are passed to `next`,
   * or answered 404 when there is none.
   * @default '/'
   */
  basePath?: string;
  /**
   * Serve the actions (cancel a task, re-submit a finished one under a new id) as POST forms. Needs
   * a `runner` and an `authorize` hook: without either, `createDashboard` throws `ValidationError`.
   * @default false
   */
  actions?: boolean;
  /** Called for every action request; the action runs only when it resolves true. */
  authorize?: AuthorizeAction;
  /** Tasks per page of the queue. From 1 to 1,000. @default 50 */
  pageSize?: number;
  /** A title shown at the top of every page. @default 'k8s-jobs' */
  title?: string;
}
