/**
 * `k8s-jobs/dashboard`: a web dashboard of a runner's tasks (live) or of a store's (read-only),
 * as a request handler for `node:http`, Express, Fastify or Koa. See docs/dashboard.md.
 *
 * @packageDocumentation
 */
export { createDashboard, type DashboardHandler } from './create-dashboard.js';
export type { AuthorizeAction, DashboardOptions, DashboardStore, DashboardTarget } from './options.js';
