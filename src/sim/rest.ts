import { randomInt } from 'node:crypto';
import { mutateOnCreate, validateOnCreate } from './admission.js';
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  deleteSuccess,
  forbidden,
  invalid,
  notFound,
  type StatusBody,
} from './api-error.js';
import type { SimContext } from './context.js';
import { StoreConflictError } from './object-store.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from './patch.js';
import { matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { matchesFieldSelector, supportedFieldKeys, type ResourceStrategy } from './strategy.js';
import type { KubeObject } from './types.js';

/** A REST answer before it is written: status code, JSON body, extra headers. */
export interface RestResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function apiVersionOf(strategy: ResourceStrategy): string {
  const { group, version } = strategy.info;
  return group ? `${group}/${version}` : version;
}

/** GET and watch answers carry kind/apiVersion; list items do not (as the real apiserver). */
export function present(strategy: ResourceStrategy, obj: KubeObject): KubeObject {
  return { apiVersion: apiVersionOf(strategy), kind: strategy.info.kind, ...obj };
}

function stripTypeMeta(obj: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

/** Maps the store's refusals onto apiserver Status errors. */
function storeError(strategy: ResourceStrategy, err: unknown): never {
  if (err instanceof StoreConflictError) {
    if (err.kind === 'AlreadyExists') throw alreadyExists(strategy.info, err.objectName);
    if (err.kind === 'NotFound') throw notFound(strategy.info, err.objectName);
    throw conflict(strategy.info, err.objectName);
  }
  throw err;
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** apiserver's SimpleNameGenerator: base truncated to 58 chars + 5 random characters. */
export function generateName(base: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += nameAlphabet[randomInt(nameAlphabet.length)];
  return base.slice(0, 58) + suffix;
}

function requireNamespace(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  verb: string,
  name: string,
): void {
  if (!strategy.info.namespaced || namespace === undefined) return;
  const ns = ctx.store.read('namespaces', undefined, namespace);
  if (!ns) throw notFound(ctx.strategies.get('namespaces')?.info ?? strategy.info, namespace);
  if (verb === 'create' && ns.metadata.deletionTimestamp) {
    const err = forbidden(
      `${strategy.info.resource}${strategy.info.group ? '.' + strategy.info.group : ''} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      strategy.info,
      name,
    );
    err.details!.causes = [
      {
        reason: 'NamespaceTerminating',
        message: `namespace ${namespace} is being terminated`,
        field: 'metadata.namespace',
      },
    ];
    throw err;
  }
}

function checkTypeMeta(strategy: ResourceStrategy, body: KubeObject): void {
  const expected = apiVersionOf(strategy);
  if (body.apiVersion && body.apiVersion !== expected) {
    throw badRequest(
      `the API version in the data (${body.apiVersion}) does not match the expected API version (${expected})`,
    );
  }
  if (body.kind && body.kind !== strategy.info.kind) {
    throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${strategy.info.kind})`);
  }
}

function asObject(body: unknown): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('the object provided is unrecognized (must be of type Object)');
  }
  const obj = body as KubeObject;
  obj.metadata = (
    typeof obj.metadata === 'object' && obj.metadata !== null ? obj.metadata : {}
  ) as KubeObject['metadata'];
  return obj;
}

export interface CreateOptions {
  dryRun?: boolean;
}

/** POST: defaults, validation, generateName, namespace checks, 201 with the stored object. */
export function createObject(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  rawBody: unknown,
  options: CreateOptions = {},
): RestResponse {
  const body = asObject(structuredClone(rawBody));
  checkTypeMeta(strategy, body);
  const meta = body.metadata;
  if (strategy.info.namespaced) {
    if (meta.namespace && namespace !== undefined && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = namespace ?? meta.namespace;
  } else {
    delete meta.namespace;
  }
  // Server-owned metadata is never taken from the client.
  meta.uid = '';
  meta.resourceVersion = '';
  meta.creationTimestamp = '';
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  meta.generation = 1;
  const generated = !meta.name && !!meta.generateName;
  if (generated) meta.name = generateName(meta.generateName ?? '');
  const strategyCtx = { store: ctx.store, clock: ctx.clock };
  strategy.prepareForCreate?.(body, strategyCtx);
  mutateOnCreate(ctx, strategy, body);
  const errors = [
    ...(meta.name || meta.generateName
      ? []
      : [{ field: 'metadata.name', type: 'FieldValueRequired' as const, detail: 'name or generateName is required' }]),
    ...(strategy.validateCreate?.(body, strategyCtx) ?? []),
  ];
  if (errors.length > 0) throw invalid(strategy.info, meta.name ?? '', errors);
  requireNamespace(ctx, strategy, meta.namespace, 'create', meta.name);
  // Validating admission (LimitRanger, PodSecurity, ResourceQuota) runs after validation, dry runs included.
  validateOnCreate(ctx, strategy, body, options.dryRun === true);
  if (options.dryRun) {
    // The dry-run storage still answers an existing name with 409 (`DryRunnableStorage.Create`).
    if (ctx.store.read(strategy.info.resource, meta.namespace, meta.name))
      throw alreadyExists(strategy.info, meta.name);
    return {
      status: 201,
      body: present(strategy, {
        ...body,
        metadata: { ...meta, uid: '', resourceVersion: '', creationTimestamp: ctx.clock.timestamp() },
      }),
    };
  }
  // Generated names are retried on collision, as RetryGenerateName does (8 attempts).
  for (let attempt = 1; ; attempt++) {
    try {
      // `body` is this request's own copy.
      return { status: 201, body: present(strategy, ctx.store.create(strategy.info.resource, body, { adopt: true })) };
    } catch (err) {
      if (!(generated && err instanceof StoreConflictError && err.kind === 'AlreadyExists' && attempt < 8)) {
        if (generated && err instanceof StoreConflictError && err.kind === 'AlreadyExists') {
          const e = alreadyExists(strategy.info, meta.name);
          throw new ApiError(
            409,
            'AlreadyExists',
            `${e.message}, the server was not able to generate a unique name for the object`,
            { ...e.details, retryAfterSeconds: 1 },
          );
        }
        storeError(strategy, err);
      }
      meta.name = generateName(meta.generateName ?? '');
    }
  }
}

export function getObject(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  name: string,
): KubeObject {
  const obj = ctx.store.read(strategy.info.resource, namespace, name);
  if (!obj) throw notFound(strategy.info, name);
  return present(strategy, obj);
}

export interface ListQuery {
  labelSelector?: string | null;
  fieldSelector?: string | null;
  limit?: number;
  continueToken?: string | null;
}

function encodeContinue(resourceVersion: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: resourceVersion, start: lastKey })).toString('base64');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { rv: number; start: string };
    if (typeof parsed.start !== 'string') throw new Error('bad token');
    return parsed;
  } catch {
    throw badRequest(`invalid continue token: ${token}`);
  }
}

/** LIST with label/field selectors and limit/continue pagination. */
export function listObjects(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  query: ListQuery,
): { kind: string; apiVersion: string; metadata: Record<string, unknown>; items: KubeObject[] } {
  const labels = parseLabelSelector(query.labelSelector);
  const fields = parseFieldSelector(query.fieldSelector, supportedFieldKeys(strategy));
  const matches = (obj: KubeObject): boolean =>
    matchesLabels(labels, obj.metadata.labels) && matchesFieldSelector(strategy, fields, obj);
  const resource = strategy.info.resource;
  const indexed = fields.find((req) => req.op === 'eq' && strategy.fieldIndexes?.[req.field] !== undefined);
  let items =
    (indexed && ctx.store.readIndexed(resource, indexed.field, indexed.value, namespace, matches)) ??
    ctx.store.readAll(resource, namespace, matches);
  const metadata: Record<string, unknown> = { resourceVersion: String(ctx.store.resourceVersion) };
  const keyOf = (obj: KubeObject) => `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  if (query.continueToken) {
    const { start } = decodeContinue(query.continueToken);
    items = items.filter((obj) => keyOf(obj) > start);
  }
  if (query.limit && query.limit > 0 && items.length > query.limit) {
    const page = items.slice(0, query.limit);
    metadata['continue'] = encodeContinue(ctx.store.resourceVersion, keyOf(page[page.length - 1]!));
    metadata['remainingItemCount'] = items.length - page.length;
    items = page;
  }
  return {
    kind: `${strategy.info.kind}List`,
    apiVersion: apiVersionOf(strategy),
    metadata,
    items: items.map(stripTypeMeta),
  };
}

export type UpdateTarget = 'main' | 'status';

/** A body whose `metadata.name` differs from the URL's name is a 400, as the apiserver answers. */
function checkNameOnUrl(body: KubeObject, name: string): void {
  if (body.metadata.name && body.metadata.name !== name) {
    throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
  }
}

/** PUT (and the write half of PATCH): optimistic concurrency on metadata.resourceVersion. */
export function updateObject(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  name: string,
  rawBody: unknown,
  target: UpdateTarget = 'main',
): KubeObject {
  const body = asObject(structuredClone(rawBody));
  checkTypeMeta(strategy, body);
  checkNameOnUrl(body, name);
  const old = ctx.store.get(strategy.info.resource, namespace, name);
  if (!old) throw notFound(strategy.info, name);
  const expectResourceVersion = body.metadata.resourceVersion || undefined;
  if (expectResourceVersion === undefined && strategy.allowUnconditionalUpdate === false && target === 'main')
    throw unconditionalUpdate(strategy, name);
  body.metadata.name = name;
  if (strategy.info.namespaced) body.metadata.namespace = namespace;
  body.metadata.uid = old.metadata.uid;
  body.metadata.creationTimestamp = old.metadata.creationTimestamp;
  // deletionTimestamp can only be set by a delete, never cleared by an update.
  if (old.metadata.deletionTimestamp) {
    body.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
    body.metadata.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
  } else {
    delete body.metadata.deletionTimestamp;
    delete body.metadata.deletionGracePeriodSeconds;
  }
  const strategyCtx = { store: ctx.store, clock: ctx.clock };
  if (target === 'status') {
    strategy.prepareForStatusUpdate?.(body, old, strategyCtx);
  } else {
    strategy.prepareForUpdate?.(body, old, strategyCtx);
    const errors = strategy.validateUpdate?.(body, old, strategyCtx) ?? [];
    if (errors.length > 0) throw invalid(strategy.info, name, errors);
  }
  try {
    // `body` is this request's own copy.
    const stored = ctx.store.update(strategy.info.resource, stripTypeMeta(body), {
      expectResourceVersion,
      adopt: true,
    });
    return present(strategy, stored ?? body);
  } catch (err) {
    storeError(strategy, err);
  }
}

/** The generic store's 422 for a PUT without resourceVersion where the kind requires one (`0x0` is Go's `%#v`). */
function unconditionalUpdate(strategy: ResourceStrategy, name: string): ApiError {
  const { kind, group } = strategy.info;
  const cause = { reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update' };
  return new ApiError(
    422,
    'Invalid',
    `${group ? `${kind}.${group}` : kind} "${name}" is invalid: metadata.resourceVersion: ${cause.message}`,
    { name, ...(group ? { group } : {}), kind, causes: [{ ...cause, field: 'metadata.resourceVersion' }] },
  );
}

/**
 * PUT: an update, or, for a kind with `allowCreateOnUpdate` (Leases), a create (201) when the
 * name does not exist yet.
 */
export function putObject(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  name: string,
  rawBody: unknown,
  target: UpdateTarget = 'main',
): RestResponse {
  if (target === 'main' && strategy.allowCreateOnUpdate && !ctx.store.read(strategy.info.resource, namespace, name)) {
    const body = asObject(structuredClone(rawBody));
    checkNameOnUrl(body, name);
    body.metadata.name = name;
    return createObject(ctx, strategy, namespace, body);
  }
  return { status: 200, body: updateObject(ctx, strategy, namespace, name, rawBody, target) };
}

/**
 * PATCH: applies a merge, strategic-merge or JSON patch to the stored object, then updates.
 * `onPatched` sees the patched object first (field validation decodes the result, as the apiserver does).
 */
export function patchObject(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  name: string,
  contentType: string,
  patch: unknown,
  target: UpdateTarget = 'main',
  onPatched?: (patched: KubeObject) => void,
): KubeObject {
  const current = ctx.store.get(strategy.info.resource, namespace, name);
  if (!current) throw notFound(strategy.info, name);
  const type = contentType.split(';')[0]?.trim();
  let patched: unknown;
  if (type === 'application/merge-patch+json') patched = applyMergePatch(current, patch);
  else if (type === 'application/strategic-merge-patch+json') patched = applyStrategicMergePatch(current, patch);
  else if (type === 'application/json-patch+json') patched = applyJsonPatch(current, patch);
  else
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
    );
  const patchedObj = asObject(patched);
  onPatched?.(patchedObj);
  // A patch that does not name a resourceVersion applies to the current one.
  if (
    patchedObj.metadata.resourceVersion === current.metadata.resourceVersion ||
    !patchedObj.metadata.resourceVersion
  ) {
    patchedObj.metadata.resourceVersion = current.metadata.resourceVersion;
  }
  return updateObject(ctx, strategy, namespace, name, patchedObj, target);
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

const gcFinalizers = { Foreground: 'foregroundDeletion', Orphan: 'orphan' } as const;

/**
 * DELETE as the generic registry store does it: preconditions, graceful deletion (pods),
 * garbage-collection finalizers for Foreground/Orphan, else immediate removal.
 */
export function deleteObject(
  ctx: SimContext,
  strategy: ResourceStrategy,
  namespace: string | undefined,
  name: string,
  options: DeleteOptions = {},
): RestResponse {
  const current = ctx.store.read(strategy.info.resource, namespace, name);
  if (!current) throw notFound(strategy.info, name);
  const pre = options.preconditions;
  if (pre?.uid && pre.uid !== current.metadata.uid) {
    throw new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${strategy.info.group ? `${strategy.info.resource}.${strategy.info.group}` : strategy.info.resource} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
      { name, group: strategy.info.group || undefined, kind: strategy.info.resource },
    );
  }
  if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
    throw new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${strategy.info.group ? `${strategy.info.resource}.${strategy.info.group}` : strategy.info.resource} "${name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      { name, group: strategy.info.group || undefined, kind: strategy.info.resource },
    );
  }
  const headers: Record<string, string> = {};
  let policy = options.propagationPolicy;
  if (!policy) {
    policy = strategy.defaultPropagation;
    if (strategy.orphanDefaultWarning) headers['Warning'] = `299 - "${strategy.orphanDefaultWarning}"`;
  }
  const answer = (obj: KubeObject | undefined, removed: boolean): RestResponse => {
    if (!removed || strategy.returnDeletedObject)
      return { status: 200, body: present(strategy, obj ?? current), headers };
    return {
      status: 200,
      body: deleteSuccess(strategy.info, name, current.metadata.uid) satisfies StatusBody,
      headers,
    };
  };
  if (options.dryRun) return answer(current, false);

  // Only metadata changes below: the rest stays shared with the stored (frozen) object.
  const next: KubeObject = { ...current, metadata: { ...current.metadata } };
  const finalizers = new Set(next.metadata.finalizers ?? []);
  if (policy === 'Foreground' || policy === 'Orphan') finalizers.add(gcFinalizers[policy]);
  if (policy === 'Background') {
    finalizers.delete('foregroundDeletion');
    finalizers.delete('orphan');
  }
  next.metadata.finalizers = [...finalizers];
  if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;

  const grace = strategy.deleteGracePeriodSeconds?.(current, options.gracePeriodSeconds);
  const now = ctx.clock.now();
  // Namespaces are finalized by their controller (the namespace registry's own Delete).
  if (strategy.holdDeletion?.(next, ctx.clock.timestamp(now)))
    return answer(ctx.store.update(strategy.info.resource, next, { adopt: true }), false);
  // A deletion already pending without grace (held by finalizers) is not graceful any more.
  const pendingGrace = current.metadata.deletionTimestamp
    ? (current.metadata.deletionGracePeriodSeconds ?? 0)
    : undefined;
  if (grace !== undefined && grace > 0 && pendingGrace !== 0) {
    // Graceful: the kubelet stops the containers and then deletes with grace 0.
    if (pendingGrace !== undefined) {
      // BeforeDelete: a pending graceful deletion only ever gets shorter; otherwise nothing changes.
      if (grace >= pendingGrace) return answer(current, false);
      next.metadata.deletionTimestamp = ctx.clock.timestamp(
        Date.parse(current.metadata.deletionTimestamp ?? '') - (pendingGrace - grace) * 1000,
      );
    } else {
      next.metadata.deletionTimestamp = ctx.clock.timestamp(now + grace * 1000);
    }
    next.metadata.deletionGracePeriodSeconds = grace;
    // The object stays (with its deletionTimestamp) until a delete with grace 0 arrives.
    return answer(ctx.store.update(strategy.info.resource, next, { adopt: true }), false);
  }
  if (!next.metadata.finalizers?.length) {
    const removed = ctx.store.remove(strategy.info.resource, namespace, name);
    return answer(removed, true);
  }
  if (!next.metadata.deletionTimestamp) {
    next.metadata.deletionTimestamp = ctx.clock.timestamp(now);
    next.metadata.generation = (next.metadata.generation ?? 0) + 1;
  }
  next.metadata.deletionGracePeriodSeconds = 0;
  // Finalizers hold the object; the store removes it once the last one is gone.
  return answer(ctx.store.update(strategy.info.resource, next, { adopt: true }), false);
}
