import type { ServerResponse } from 'node:http';
import { expired } from './api-error.js';
import type { SimClock } from './clock.js';
import type { ObjectStore } from './object-store.js';
import { matchesLabels, type FieldRequirement, type LabelSelector } from './selectors.js';
import { matchesFieldSelector, type ResourceStrategy } from './strategy.js';
import type { KubeObject, StoreEvent, WatchEventType } from './types.js';

/** An open watch response; fault injection may cut it. */
export interface OpenWatch {
  resource: string;
  /** Ends the stream abruptly (a dropped connection, not a clean end). */
  drop(): void;
}

export interface WatchRequest {
  strategy: ResourceStrategy;
  namespace: string | undefined;
  labelSelector: LabelSelector;
  fieldSelector: FieldRequirement[];
  /** undefined or '0' = start with the current objects as ADDED; 'N' = changes after N. */
  resourceVersion: string | undefined;
  allowBookmarks: boolean;
  /** Server ends the response after this many (real) seconds. */
  timeoutSeconds: number | undefined;
  /** Cluster-chosen interval between bookmarks, in unscaled ms. */
  bookmarkIntervalMs: number;
}

export interface WatchContext {
  store: ObjectStore;
  clock: SimClock;
  openWatches: Set<OpenWatch>;
  /** Serializes an object the way GETs do (kind/apiVersion filled in), or as a one-row Table. */
  present(obj: KubeObject): unknown;
  /**
   * `JSON.stringify(present(obj))`, when that is the same for every watch of the resource (no
   * Table): the encoding of a stored object is then shared by every watcher (see
   * {@link sharedEncoding}) instead of made once per watch.
   */
  encode?(obj: KubeObject): string;
}

/** Per strategy: the JSON of a stored (frozen, so never stale) object, as watches send it. */
const encodings = new WeakMap<ResourceStrategy, WeakMap<KubeObject, string>>();

/**
 * The JSON of `present(obj)` for a stored object, made once and shared by every watch that
 * sends it: stored objects are frozen, so the string cannot go stale, and it is forgotten with
 * the object.
 */
export function sharedEncoding(
  strategy: ResourceStrategy,
  present: (obj: KubeObject) => unknown,
): (obj: KubeObject) => string {
  let cache = encodings.get(strategy);
  if (!cache) {
    cache = new WeakMap();
    encodings.set(strategy, cache);
  }
  const known = cache;
  return (obj) => {
    let json = known.get(obj);
    if (json === undefined) {
      json = JSON.stringify(present(obj));
      if (Object.isFrozen(obj)) known.set(obj, json);
    }
    return json;
  };
}

/**
 * Serves a watch as the apiserver does: `200`, chunked JSON lines `{"type","object"}`, selector
 * transitions as ADDED/DELETED, `ERROR` 410 Expired for a resourceVersion older than the
 * retained history, optional BOOKMARKs, and a clean end after `timeoutSeconds`.
 */
export function serveWatch(res: ServerResponse, request: WatchRequest, ctx: WatchContext): void {
  const { strategy, namespace } = request;
  const resource = strategy.info.resource;
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
  });
  res.flushHeaders();

  const matches = (obj: KubeObject | undefined): boolean =>
    obj !== undefined &&
    (namespace === undefined || obj.metadata.namespace === namespace) &&
    matchesLabels(request.labelSelector, obj.metadata.labels) &&
    matchesFieldSelector(strategy, request.fieldSelector, obj);

  let closed = false;
  let corked = false;
  /**
   * Writes one line; the lines of one turn of the event loop leave in one write (one system call,
   * which on loopback also runs the reader's side of TCP, instead of one per event).
   */
  const write = (line: string): void => {
    if (closed) return;
    if (!corked) {
      corked = true;
      res.cork();
      setImmediate(flush);
    }
    res.write(line);
  };
  /**
   * Sends what the current turn corked; before `end()` too, since Node 24's `end()` leaves a corked
   * response's lines unsent.
   */
  function flush(): void {
    if (!corked) return;
    corked = false;
    res.uncork();
  }
  /** Ends the stream after the lines written so far. */
  const endStream = (): void => {
    flush();
    res.end();
  };
  const send = (type: WatchEventType, object: unknown): void => write(`${JSON.stringify({ type, object })}\n`);
  const encode = ctx.encode?.bind(ctx);
  /** An event about a stored object: `{"type","object"}` as `send` writes it, the object's JSON shared. */
  const sendStored = (type: WatchEventType, obj: KubeObject): void => {
    if (closed) return;
    if (encode) write(`{"type":"${type}","object":${encode(obj)}}\n`);
    else send(type, ctx.present(obj));
  };

  const deliver = (event: StoreEvent): void => {
    if (event.resource !== resource) return;
    const now = matches(event.object);
    const before = matches(event.previous);
    if (event.type === 'ADDED') {
      if (now) sendStored('ADDED', event.object);
    } else if (event.type === 'DELETED') {
      if (before || now) sendStored('DELETED', event.object);
    } else if (now && before) sendStored('MODIFIED', event.object);
    else if (now) sendStored('ADDED', event.object);
    else if (before) sendStored('DELETED', event.object);
  };

  const cleanups: (() => void)[] = [];
  const finish = (): void => {
    if (closed) return;
    closed = true;
    for (const cleanup of cleanups) cleanup();
    ctx.openWatches.delete(open);
  };
  const open: OpenWatch = {
    resource,
    drop: () => {
      finish();
      res.destroy();
    },
  };
  ctx.openWatches.add(open);
  res.on('close', finish);

  const rv = request.resourceVersion;
  if (rv === undefined || rv === '' || rv === '0') {
    for (const obj of ctx.store.readAll(resource, namespace)) if (matches(obj)) sendStored('ADDED', obj);
  } else {
    const from = Number(rv);
    const changes = Number.isFinite(from) ? ctx.store.changesSince(from) : 'expired';
    if (changes === 'expired') {
      const status = expired(`too old resource version: ${rv} (${ctx.store.oldestResumableVersion})`).toStatus();
      send('ERROR', status);
      finish();
      endStream();
      return;
    }
    for (const change of changes) deliver(change);
  }
  cleanups.push(ctx.store.subscribe(deliver));

  if (request.allowBookmarks) {
    const bookmark = (): void => {
      send('BOOKMARK', {
        kind: strategy.info.kind,
        apiVersion: strategy.info.group ? `${strategy.info.group}/${strategy.info.version}` : strategy.info.version,
        metadata: { resourceVersion: String(ctx.store.resourceVersion) },
      });
      cleanups.push(ctx.clock.afterScaled(request.bookmarkIntervalMs, bookmark));
    };
    cleanups.push(ctx.clock.afterScaled(request.bookmarkIntervalMs, bookmark));
  }

  // Without timeoutSeconds the apiserver picks 30–60 minutes (MinRequestTimeout 1800 s, randomized).
  const timeoutMs =
    request.timeoutSeconds !== undefined ? request.timeoutSeconds * 1000 : (1800 + Math.random() * 1800) * 1000;
  cleanups.push(
    ctx.clock.afterReal(timeoutMs, () => {
      if (request.allowBookmarks) {
        send('BOOKMARK', {
          kind: strategy.info.kind,
          apiVersion: strategy.info.group ? `${strategy.info.group}/${strategy.info.version}` : strategy.info.version,
          metadata: { resourceVersion: String(ctx.store.resourceVersion) },
        });
      }
      finish();
      endStream();
    }),
  );
}
