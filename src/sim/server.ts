import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { messageOf } from '../errors.js';
import { ApiError, badRequest, invalid, methodNotAllowed, pathNotFound, type FieldError } from './api-error.js';
import { unauthorized } from './authentication.js';
import type { SimContext } from './context.js';
import {
  createObject,
  deleteObject,
  getObject,
  listObjects,
  patchObject,
  present,
  putObject,
  type DeleteOptions,
  type RestResponse,
} from './rest.js';
import { queryBool, queryOptionalBool } from './query-params.js';
import { podSecurityWarnings } from './pod-security-warnings.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { RequestLog, RequestRecord } from './stats.js';
import { supportedFieldKeys, type ResourceStrategy } from './strategy.js';
import { toTable } from './table.js';
import type { KubeObject } from './types.js';
import { serveWatch, sharedEncoding } from './watch.js';

/** Who asks for what, in the terms RBAC and fault injection match on. */
export interface RequestAttributes {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  path: string;
  /** `Authorization: Bearer …` token, if any (never logged). */
  token?: string;
}

/** Runs before a resource request; returns true when it has answered (403, injected fault...). */
export type RequestHook = (
  attrs: RequestAttributes,
  req: IncomingMessage,
  res: ServerResponse,
) => Promise<boolean> | boolean;

/** Serves a subresource such as `pods/log`. */
export type SubresourceHandler = (args: {
  attrs: RequestAttributes;
  query: URLSearchParams;
  req: IncomingMessage;
  res: ServerResponse;
}) => Promise<void> | void;

/** Answers non-resource paths (discovery, OpenAPI, health); returns false when the path is not its. */
export type NonResourceHandler = (
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
) => boolean;

/**
 * `fieldValidation`: returns the unknown/duplicate fields of a request body (`unknown field "spec.foo"`)
 * and drops them from `body`, as decoding into the typed object does in every mode.
 */
export type FieldValidator = (strategy: ResourceStrategy, body: unknown) => string[];

/** Answers the create of a resource that is computed, never stored (a SelfSubjectAccessReview). */
export type VirtualCreate = (attrs: RequestAttributes, body: unknown) => RestResponse;

export interface ApiServerOptions {
  ctx: SimContext;
  log: RequestLog;
  hooks: RequestHook[];
  subresources: Map<string, SubresourceHandler>;
  nonResource: NonResourceHandler[];
  fieldValidator?: FieldValidator;
  /** Resources (by plural name) that only take a create, answered by their handler: any other verb is 405. */
  virtualCreates?: Map<string, VirtualCreate>;
  /** Called after a Job create succeeded (audit). */
  onCreated?: (resource: string, obj: KubeObject) => void;
  /** Authentication: a request it refuses gets `401 Unauthorized` before anything else runs. */
  authenticate?: (req: IncomingMessage) => boolean;
}

const groupPrefixes: { prefix: string[]; group: string; version: string }[] = [
  { prefix: ['api', 'v1'], group: '', version: 'v1' },
  { prefix: ['apis', 'batch', 'v1'], group: 'batch', version: 'v1' },
  { prefix: ['apis', 'coordination.k8s.io', 'v1'], group: 'coordination.k8s.io', version: 'v1' },
  { prefix: ['apis', 'authorization.k8s.io', 'v1'], group: 'authorization.k8s.io', version: 'v1' },
];

/** Writes a JSON answer with the headers every apiserver response has. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Audit-Id': randomUUID(),
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof ApiError) {
    sendJson(res, err.code, err.toStatus(), err.headers);
    return;
  }
  sendJson(res, 500, new ApiError(500, 'InternalError', `Internal error occurred: ${messageOf(err)}`).toStatus());
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

/** Resolves `/api/v1/namespaces/ns/pods/p/log` into request attributes, or undefined if not a resource path. */
export function parseResourcePath(
  method: string,
  path: string,
  query: URLSearchParams,
  ctx: SimContext,
): RequestAttributes | undefined {
  const segments = path
    .split('/')
    .filter((s) => s.length > 0)
    .map(decodeURIComponent);
  const gv = groupPrefixes.find((g) => g.prefix.every((p, i) => segments[i] === p));
  if (!gv) return undefined;
  let rest = segments.slice(gv.prefix.length);
  if (rest.length === 0) return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && ctx.strategies.get(rest[2] ?? '')?.info.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  if (!resource || rest.length > 3) return undefined;
  const strategy = ctx.strategies.get(resource);
  if (!strategy || strategy.info.group !== gv.group) return undefined;
  const watching = queryBool(query, 'watch');
  let verb: RequestAttributes['verb'];
  switch (method) {
    case 'GET':
      verb = name ? 'get' : watching ? 'watch' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      return undefined;
  }
  return { verb, group: gv.group, version: gv.version, resource, subresource, namespace, name, path };
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

function wantsTable(req: IncomingMessage): boolean {
  return /as=Table/.test(req.headers.accept ?? '');
}

function parseDeleteOptions(query: URLSearchParams, body: unknown): DeleteOptions {
  const fromBody = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const policy = (query.get('propagationPolicy') ?? fromBody['propagationPolicy']) as string | undefined;
  if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) {
    throw new ApiError(
      422,
      'Invalid',
      `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
    );
  }
  const orphan = queryOptionalBool(query, 'orphanDependents') ?? fromBody['orphanDependents'];
  const graceRaw = query.get('gracePeriodSeconds') ?? fromBody['gracePeriodSeconds'];
  const dryRun =
    query.getAll('dryRun').includes('All') ||
    (Array.isArray(fromBody['dryRun']) && (fromBody['dryRun'] as unknown[]).includes('All'));
  return {
    propagationPolicy:
      (policy as DeleteOptions['propagationPolicy']) ??
      (orphan === true ? 'Orphan' : orphan === false ? 'Background' : undefined),
    gracePeriodSeconds: graceRaw === undefined || graceRaw === null ? undefined : Number(graceRaw),
    preconditions: fromBody['preconditions'] as DeleteOptions['preconditions'],
    dryRun,
  };
}

const listOptionsInfo = {
  group: 'meta.k8s.io',
  version: 'v1',
  resource: '',
  singular: '',
  kind: 'ListOptions',
  namespaced: false,
  verbs: [],
};

/**
 * `ValidateListOptions` with the WatchList feature gate off: `sendInitialEvents` present at all
 * (even `false`, a `*bool`) is 422 — on a watch, which client-go then retries as list + watch.
 */
function rejectSendInitialEvents(query: URLSearchParams, verb: 'list' | 'watch'): void {
  if (queryOptionalBool(query, 'sendInitialEvents') === undefined) return;
  const errors: FieldError[] = [];
  if (verb === 'list') {
    const detail = 'sendInitialEvents is forbidden for list';
    errors.push({ field: 'sendInitialEvents', type: 'FieldValueForbidden', detail });
  } else {
    if (query.get('resourceVersionMatch') !== 'NotOlderThan') {
      const detail = 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan';
      errors.push({ field: 'resourceVersionMatch', type: 'FieldValueForbidden', detail });
    }
    const detail = 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled';
    errors.push({ field: 'sendInitialEvents', type: 'FieldValueForbidden', detail });
  }
  throw invalid(listOptionsInfo, '', errors);
}

function numberParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw badRequest(`unable to parse quantity's suffix: ${name}=${raw}`);
  return value;
}

/**
 * The simulated kube-apiserver's HTTP front: routing, verbs, stats, hooks (RBAC, faults),
 * then the generic REST handlers of `rest.ts`.
 */
export class ApiServer {
  readonly server: Server;

  constructor(private readonly options: ApiServerOptions) {
    this.server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => sendError(res, err));
    });
    this.server.keepAliveTimeout = 65_000;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    return `http://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = url.searchParams;
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const attrs = parseResourcePath(method, path, query, this.options.ctx);
    const { log } = this.options;
    const at = Date.now();
    if (this.options.authenticate && !this.options.authenticate(req)) {
      const resource = attrs ? (attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource) : path;
      log.record({
        at,
        verb: attrs?.verb ?? method.toLowerCase(),
        resource,
        namespace: attrs?.namespace,
        name: attrs?.name,
        status: 401,
      });
      sendError(res, unauthorized());
      return;
    }
    if (!attrs) {
      log.record({ at, verb: method.toLowerCase(), resource: path, status: 0 });
      for (const handler of this.options.nonResource) if (handler(path, req, res, query)) return;
      // kube-apiserver's not-found handler answers every unknown path (API or not) the same way.
      sendError(res, pathNotFound());
      return;
    }
    attrs.token = bearer(req);
    const resourceKey = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const entry: RequestRecord = {
      at,
      verb: attrs.verb,
      resource: resourceKey,
      namespace: attrs.namespace,
      name: attrs.name,
      status: 0,
    };
    res.on('finish', () => (entry.status = res.statusCode));
    log.record(entry);
    for (const hook of this.options.hooks) if (await hook(attrs, req, res)) return;
    try {
      await this.#dispatch(attrs, req, res, query, entry);
    } catch (err) {
      sendError(res, err);
    }
  }

  async #dispatch(
    attrs: RequestAttributes,
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    entry: RequestRecord,
  ): Promise<void> {
    const { ctx } = this.options;
    const strategy = ctx.strategies.get(attrs.resource)!;
    const { namespace, name, subresource } = attrs;
    if (subresource && subresource !== 'status') {
      const handler = this.options.subresources.get(`${attrs.resource}/${subresource}`);
      if (!handler || !name) throw pathNotFound();
      await handler({ attrs, query, req, res });
      return;
    }
    const reply = (r: RestResponse) => sendJson(res, r.status, r.body, r.headers);
    const virtual = this.options.virtualCreates?.get(attrs.resource);
    if (virtual) {
      if (attrs.verb !== 'create' || name !== undefined) throw methodNotAllowed();
      const body = await readBody(req);
      const warnings = this.#fieldValidation(strategy, body, query, 'CreateOptions');
      const answer = virtual(attrs, body);
      reply({ ...answer, headers: { ...answer.headers, ...warnings } });
      return;
    }
    const listQuery = () => ({
      labelSelector: query.get('labelSelector'),
      fieldSelector: query.get('fieldSelector'),
      limit: numberParam(query, 'limit'),
      continueToken: query.get('continue'),
    });
    switch (attrs.verb) {
      case 'get': {
        const obj = getObject(ctx, strategy, namespace, name!);
        if (wantsTable(req) && !subresource) {
          reply({
            status: 200,
            body: toTable(
              strategy,
              [obj],
              { resourceVersion: obj.metadata.resourceVersion },
              ctx.clock.now(),
              query.get('includeObject'),
            ),
          });
        } else reply({ status: 200, body: obj });
        return;
      }
      case 'list': {
        rejectSendInitialEvents(query, 'list');
        const list = listObjects(ctx, strategy, namespace, listQuery());
        if (wantsTable(req))
          reply({
            status: 200,
            body: toTable(strategy, list.items, list.metadata, ctx.clock.now(), query.get('includeObject')),
          });
        else reply({ status: 200, body: list });
        return;
      }
      case 'watch': {
        rejectSendInitialEvents(query, 'watch');
        const timeoutSeconds = numberParam(query, 'timeoutSeconds');
        serveWatch(
          res,
          {
            strategy,
            namespace,
            labelSelector: parseLabelSelector(query.get('labelSelector')),
            fieldSelector: parseFieldSelector(query.get('fieldSelector'), supportedFieldKeys(strategy)),
            resourceVersion: query.get('resourceVersion') ?? undefined,
            allowBookmarks: queryBool(query, 'allowWatchBookmarks'),
            timeoutSeconds,
            bookmarkIntervalMs: ctx.bookmarkIntervalMs,
          },
          {
            store: ctx.store,
            clock: ctx.clock,
            openWatches: ctx.openWatches,
            present: this.#watchPresenter(strategy, req, query),
            encode: wantsTable(req) ? undefined : sharedEncoding(strategy, (obj) => present(strategy, obj)),
          },
        );
        return;
      }
      case 'create': {
        if (subresource) throw methodNotAllowed();
        const body = await readBody(req);
        const warnings = this.#fieldValidation(strategy, body, query, 'CreateOptions');
        const created = createObject(ctx, strategy, namespace, body, {
          dryRun: query.getAll('dryRun').includes('All'),
        });
        if (!query.getAll('dryRun').includes('All'))
          this.options.onCreated?.(attrs.resource, created.body as KubeObject);
        // Admission's warnings (PodSecurity's warn mode on a Job) follow the decoder's, in one header.
        const admission = podSecurityWarnings(ctx, attrs.resource, created.body as KubeObject);
        const warning = [warnings['Warning'], ...admission.map((w) => `299 - ${JSON.stringify(w)}`)].filter(Boolean);
        reply({
          ...created,
          headers: { ...created.headers, ...(warning.length ? { Warning: warning.join(', ') } : {}) },
        });
        return;
      }
      case 'update': {
        const body = await readBody(req);
        const warnings = this.#fieldValidation(strategy, body, query, 'UpdateOptions');
        const answer = putObject(ctx, strategy, namespace, name!, body, subresource === 'status' ? 'status' : 'main');
        reply({ ...answer, headers: { ...answer.headers, ...warnings } });
        return;
      }
      case 'patch': {
        const body = await readBody(req);
        let warnings: Record<string, string> = {};
        const patched = patchObject(
          ctx,
          strategy,
          namespace,
          name!,
          req.headers['content-type'] ?? '',
          body,
          subresource === 'status' ? 'status' : 'main',
          (obj) => {
            warnings = this.#fieldValidation(strategy, obj, query, 'PatchOptions');
          },
        );
        reply({ status: 200, body: patched, headers: warnings });
        return;
      }
      case 'delete': {
        if (subresource) throw methodNotAllowed();
        const options = parseDeleteOptions(query, await readBody(req));
        if (options.propagationPolicy) entry.propagationPolicy = options.propagationPolicy;
        reply(deleteObject(ctx, strategy, namespace, name!, options));
        return;
      }
      case 'deletecollection': {
        const options = parseDeleteOptions(query, await readBody(req));
        if (options.propagationPolicy) entry.propagationPolicy = options.propagationPolicy;
        const list = listObjects(ctx, strategy, namespace, {
          labelSelector: query.get('labelSelector'),
          fieldSelector: query.get('fieldSelector'),
        });
        for (const item of list.items)
          deleteObject(ctx, strategy, item.metadata.namespace, item.metadata.name, options);
        reply({ status: 200, body: { ...list, items: [] } });
        return;
      }
    }
  }

  /** Watch events carry the object, or (`kubectl get -w`) a one-row Table with headers only in the first event. */
  #watchPresenter(
    strategy: ResourceStrategy,
    req: IncomingMessage,
    query: URLSearchParams,
  ): (obj: KubeObject) => unknown {
    if (!wantsTable(req)) return (obj) => present(strategy, obj);
    let headersSent = false;
    return (obj) => {
      const table = toTable(
        strategy,
        [obj],
        { resourceVersion: obj.metadata.resourceVersion },
        this.options.ctx.clock.now(),
        query.get('includeObject'),
        headersSent,
      );
      headersSent = true;
      return table;
    };
  }

  /**
   * fieldValidation=Strict rejects unknown fields with 400; Warn (the default) answers with one
   * Warning header value per field; Ignore only drops them. Other values are 422, as
   * ValidateFieldValidation does.
   */
  #fieldValidation(
    strategy: ResourceStrategy,
    body: unknown,
    query: URLSearchParams,
    options: 'CreateOptions' | 'UpdateOptions' | 'PatchOptions',
  ): Record<string, string> {
    const mode = query.get('fieldValidation') ?? '';
    if (!['', 'Ignore', 'Warn', 'Strict'].includes(mode)) {
      const info = {
        group: 'meta.k8s.io',
        version: 'v1',
        resource: '',
        singular: '',
        kind: options,
        namespaced: false,
        verbs: [],
      };
      throw invalid(info, '', [
        {
          field: 'fieldValidation',
          type: 'FieldValueNotSupported',
          value: mode,
          detail: 'supported values: "", "Ignore", "Strict", "Warn"',
        },
      ]);
    }
    if (!this.options.fieldValidator) return {};
    const problems = this.options.fieldValidator(strategy, body);
    if (problems.length === 0 || mode === 'Ignore') return {};
    if (mode === 'Strict') {
      throw badRequest(`strict decoding error: ${problems.join(', ')}`);
    }
    // The warning text is a quoted-string (RFC 7234): its own quotes are escaped.
    return { Warning: problems.map((p) => `299 - ${JSON.stringify(p)}`).join(', ') };
  }
}
