/**
 * `createDashboard`: the request handler. Routes a request under `basePath` to a page, a fragment
 * of one (for the client script), an event stream, an asset or an action; anything else goes to
 * `next` (or 404). Works with any server that hands over Node's `req` and `res`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { messageOf, ValidationError } from '../errors.js';
import { actionForms, checkActionRequest, newCsrfToken, resubmitId, resubmitInput } from './actions.js';
import { asset, isAssetName } from './assets.js';
import { EventStreams } from './events-stream.js';
import { filtersFrom, findTasks } from './find-tasks.js';
import { html } from './html.js';
import { fragment, page, type PageContext } from './layout.js';
import { checkOptions, normalizeBase } from './check-options.js';
import type { DashboardOptions, DashboardTarget } from './options.js';
import { queueFilters, queueLive } from './queue-page.js';
import { lastHour, queueCounts } from './queue-stats.js';
import { sourceOf, type DashboardSource } from './source.js';
import { taskLive, taskStatic } from './task-page.js';

/** The handler `createDashboard` returns: a Node request listener, with `next` for middleware chains. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** Whether a request's path is the dashboard's (for servers that must decide before handing over). */
  matches(req: IncomingMessage): boolean;
  /** How many event streams are open now (each page that runs the client script holds one). */
  readonly openStreams: number;
  /** Ends every event stream and closes a store the dashboard opened from a URL. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Our own script and style only: a task's id or log can never run as script.
    'content-security-policy':
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'self'",
  });
  res.end(body);
}

const htmlType = 'text/html; charset=utf-8';

/**
 * Creates the dashboard: server-rendered pages of the queue and of each task (they work with
 * JavaScript off), live over Server-Sent Events with a `runner`, read-only over a `store`.
 * Throws `ValidationError` for `actions: true` without `authorize` (or without a runner).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createDashboard } from 'k8s-jobs/dashboard';
 * const dashboard = createDashboard({ runner }, { basePath: '/jobs' });
 * createServer(dashboard).listen(8080); // http://localhost:8080/jobs/
 * ```
 */
export function createDashboard(target: DashboardTarget, options: DashboardOptions = {}): DashboardHandler {
  checkOptions(target, options);
  const base = normalizeBase(options.basePath);
  const source: DashboardSource = sourceOf(target);
  const streams = new EventStreams();
  const token = newCsrfToken();
  const pageSize = options.pageSize ?? 50;
  const title = options.title ?? 'k8s-jobs';
  const actionsOn = options.actions === true && source.live !== undefined;

  const pathOf = (req: IncomingMessage): string | undefined => {
    // Express strips its mount path from `url`; `originalUrl` keeps it.
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    if (path === base) return '/';
    return path.startsWith(`${base}/`) ? path.slice(base.length) : undefined;
  };

  const context = (eventsUrl?: string): PageContext => ({
    base,
    title,
    sourceLabel: source.label,
    health: source.health(),
    ...(eventsUrl && source.live ? { eventsUrl } : {}),
  });

  async function queuePage(res: ServerResponse, params: URLSearchParams): Promise<void> {
    const now = Date.now();
    const filters = filtersFrom(params);
    const [counts, buckets, found] = await Promise.all([
      queueCounts(source),
      lastHour(source, now),
      findTasks(source, filters, pageSize),
    ]);
    const view = { base, counts, buckets, filters, found, now };
    const ctx = context(`${base}/events`);
    const live = queueLive(view);
    send(
      res,
      200,
      htmlType,
      params.get('fragment') ? fragment(ctx, live) : page(ctx, 'Queue', live, { before: queueFilters(view) }),
    );
  }

  async function taskPage(res: ServerResponse, id: string, params: URLSearchParams): Promise<void> {
    const record = await source.getTask(id);
    const ctx = context(`${base}/events?task=${encodeURIComponent(id)}`);
    if (!record) {
      send(res, 404, htmlType, page(context(), 'Not found', html`<p>No task <code>${id}</code>.</p>`));
      return;
    }
    const now = Date.now();
    const transitions = await source.getTransitions(record);
    const actions = actionsOn ? actionForms(base, record, token) : undefined;
    const live = taskLive({ base, record, transitions, now, ...(actions ? { actions } : {}) });
    if (params.get('fragment')) {
      send(res, 200, htmlType, fragment(ctx, live));
      return;
    }
    const log = await source.getLog(id).catch((err: unknown) => `(log unavailable: ${messageOf(err)})`);
    send(res, 200, htmlType, page(ctx, `Task ${id}`, live, { after: taskStatic(record, log) }));
  }

  async function action(req: IncomingMessage, res: ServerResponse, id: string, name: string): Promise<void> {
    const live = source.live;
    if (!actionsOn || !live || !options.authorize || (name !== 'cancel' && name !== 'resubmit')) {
      send(res, 404, 'text/plain; charset=utf-8', 'no such action (actions are off)');
      return;
    }
    const refused = await checkActionRequest(req, token);
    if (refused) {
      send(res, refused.status, 'text/plain; charset=utf-8', refused.message);
      return;
    }
    if (!(await options.authorize(req))) {
      send(res, 403, 'text/plain; charset=utf-8', 'not authorized');
      return;
    }
    let target = id;
    if (name === 'cancel') {
      await live.cancel(id);
    } else {
      const record = await source.getTask(id);
      if (!record?.outcome) {
        send(
          res,
          409,
          'text/plain; charset=utf-8',
          `task "${id}" is not finished: only a finished task is re-submitted`,
        );
        return;
      }
      target = resubmitId(id, Date.now());
      await live.addTask(resubmitInput(record, target));
    }
    res.writeHead(303, { location: `${base}/tasks/${encodeURIComponent(target)}` }).end();
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const params = new URL(req.url ?? '/', 'http://x').searchParams;
    const method = req.method ?? 'GET';
    const task = /^\/tasks\/([^/]+)(?:\/(\w+))?$/.exec(path);
    if (method === 'POST' && task?.[1] && task[2]) return action(req, res, decodeURIComponent(task[1]), task[2]);
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/') return queuePage(res, params);
    if (task?.[1] && !task[2]) return taskPage(res, decodeURIComponent(task[1]), params);
    if (path === '/events') return streams.serve(source, req, res, params.get('task') ?? undefined);
    const assetName = /^\/assets\/([\w.-]+)$/.exec(path)?.[1];
    if (assetName && isAssetName(assetName)) {
      const { body, type } = asset(assetName);
      res.writeHead(200, { 'content-type': type, 'cache-control': 'public, max-age=300' }).end(body);
      return;
    }
    send(res, 404, htmlType, page(context(), 'Not found', html`<p>Nothing at <code>${path}</code>.</p>`));
  }

  const handler = ((req, res, next) => {
    const path = pathOf(req);
    if (path === undefined) {
      if (next) next();
      else send(res, 404, 'text/plain; charset=utf-8', 'not found');
      return;
    }
    route(req, res, path).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err instanceof ValidationError ? 400 : 500;
      send(res, status, 'text/plain; charset=utf-8', messageOf(err));
    });
  }) as DashboardHandler;
  handler.matches = (req) => pathOf(req) !== undefined;
  Object.defineProperty(handler, 'openStreams', { get: () => streams.size });
  handler.close = async () => {
    streams.closeAll();
    await source.close();
  };
  return handler;
}
