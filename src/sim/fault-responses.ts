import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { expired } from './api-error.js';
import { sendJson } from './server.js';

/** The statuses fault injection answers with. */
export type InjectedStatus = 429 | 500 | 503;

/** What an injected error response says. */
export interface InjectedError {
  status: InjectedStatus;
  /** `Retry-After` seconds. @default 1 for 429 (what max-in-flight sends; APF sends 1..32), none for 500/503 */
  retryAfterSeconds?: number;
  /** The Status `message` of a 500/503 (a 429 is always APF's fixed text). */
  message?: string;
}

/** APF's literal rejection text; Go's `http.Error` appends the newline. */
export const tooManyRequestsBody = 'Too many requests, please try again later.\n';

// APF tags every response with the UIDs of the FlowSchema and PriorityLevel that classified it.
const flowSchemaUid = randomUUID();
const priorityLevelUid = randomUUID();

/**
 * Writes `error` exactly as the apiserver would: a 429 the way API Priority and Fairness rejects
 * (`http.Error`: `text/plain; charset=utf-8`, a fixed line, `Retry-After`), a 500 as
 * `NewInternalError` (reason InternalError, the cause in `details.causes`), a 503 as
 * `NewServiceUnavailable` (reason ServiceUnavailable).
 */
export function writeInjectedError(res: ServerResponse, error: InjectedError): void {
  if (error.status === 429) {
    res.writeHead(429, {
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache, private',
      'Audit-Id': randomUUID(),
      'Retry-After': String(error.retryAfterSeconds ?? 1),
      'X-Kubernetes-Pf-Flowschema-Uid': flowSchemaUid,
      'X-Kubernetes-Pf-Prioritylevel-Uid': priorityLevelUid,
      'Content-Length': Buffer.byteLength(tooManyRequestsBody),
    });
    res.end(tooManyRequestsBody);
    return;
  }
  const headers: Record<string, string> =
    error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) };
  if (error.status === 500) {
    const cause = error.message ?? 'etcdserver: request timed out';
    sendJson(
      res,
      500,
      {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `Internal error occurred: ${cause}`,
        reason: 'InternalError',
        details: { causes: [{ message: cause }] },
        code: 500,
      },
      headers,
    );
    return;
  }
  sendJson(
    res,
    503,
    {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: error.message ?? 'the server is currently unable to handle the request',
      reason: 'ServiceUnavailable',
      code: 503,
    },
    headers,
  );
}

/**
 * Answers a watch the way the watch cache answers one whose resourceVersion it no longer holds:
 * `200`, a single `ERROR` event carrying a `410 Expired` Status, then the end of the stream.
 */
export function writeExpiredWatch(res: ServerResponse, requested: string, oldest: number): void {
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
    'Audit-Id': randomUUID(),
  });
  const status = expired(`too old resource version: ${requested} (${oldest})`).toStatus();
  res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
}
