import { AbortError, ApiException, FetchError } from '@kubernetes/client-node';
import { KubernetesApiError, messageOf } from '../errors.js';

/** Socket-level failures worth another attempt (the connection, not the request, was the problem). */
const transientSocketCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** The parts of a `meta/v1 Status` body we use. */
interface StatusFields {
  reason?: string;
  message?: string;
  retryAfterSeconds?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** client-node 1.x hands error bodies over as the raw response text (libraries.md §3.5). */
function parseStatus(body: unknown): StatusFields & { raw?: string } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      // Not JSON (a proxy's HTML page, a plain-text log error): the text itself is the message.
      return { raw: body };
    }
  }
  if (!isRecord(value)) return {};
  const details = isRecord(value['details']) ? value['details'] : {};
  return {
    reason: typeof value['reason'] === 'string' && value['reason'] !== '' ? value['reason'] : undefined,
    message: typeof value['message'] === 'string' ? value['message'] : undefined,
    retryAfterSeconds: typeof details['retryAfterSeconds'] === 'number' ? details['retryAfterSeconds'] : undefined,
  };
}

/** `Retry-After` as delta-seconds (what kube-apiserver sends). */
function retryAfterHeader(headers: Record<string, string> | undefined): number | undefined {
  const value = headers?.['retry-after'] ?? headers?.['Retry-After'];
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/** 5xx, 429 (priority & fairness) and 408 may pass on a later attempt; other 4xx never will. */
export function isTransientStatus(statusCode: number): boolean {
  return statusCode >= 500 || statusCode === 429 || statusCode === 408;
}

function isAbort(err: unknown): boolean {
  if (err instanceof AbortError) return true;
  if (typeof DOMException !== 'undefined' && err instanceof DOMException) {
    return err.code === DOMException.ABORT_ERR || err.code === DOMException.TIMEOUT_ERR;
  }
  return isRecord(err) && err['code'] === 'ABORT_ERR';
}

/**
 * Classifies anything a client-node call (or our own log request) threw as a
 * `KubernetesApiError`, deciding `transient` by HTTP status or socket error code only:
 * 5xx, 429, 408, resets, refused connections, timeouts and aborted attempts are transient;
 * every other 4xx is permanent and carries the API's own message.
 *
 * An abort that reaches here is a per-attempt timeout: a caller's own abort is rethrown as
 * `signal.reason` by `withRetries` before any classification.
 */
export function toKubernetesApiError(err: unknown, verb: string, resource: string): KubernetesApiError {
  if (err instanceof KubernetesApiError) return err;
  if (err instanceof ApiException) {
    const code = err.code;
    const status = parseStatus(err.body);
    const headers = err.headers as Record<string, string> | undefined;
    const message = status.message ?? status.raw ?? (code === 401 ? 'Unauthorized' : `HTTP ${code}`);
    return new KubernetesApiError(verb, resource, code, status.reason, message, isTransientStatus(code), {
      cause: err,
      retryAfterSeconds: retryAfterHeader(headers) ?? status.retryAfterSeconds,
    });
  }
  if (isAbort(err)) {
    return new KubernetesApiError(verb, resource, 0, 'Timeout', 'the request did not complete in time', true, {
      cause: err,
    });
  }
  if (isRecord(err)) {
    // Watch answers a non-200 status as Error(statusText) with `statusCode` (libraries.md §3.6).
    const statusCode = err['statusCode'];
    if (typeof statusCode === 'number' && statusCode > 0) {
      return new KubernetesApiError(
        verb,
        resource,
        statusCode,
        undefined,
        messageField(err) ?? `HTTP ${statusCode}`,
        isTransientStatus(statusCode),
        { cause: err },
      );
    }
    const code = err['code'];
    if (typeof code === 'string' || err instanceof FetchError) {
      const transient = typeof code === 'string' && transientSocketCodes.has(code);
      return new KubernetesApiError(
        verb,
        resource,
        0,
        typeof code === 'string' ? code : undefined,
        messageField(err) ?? String(code),
        transient,
        { cause: err },
      );
    }
  }
  return new KubernetesApiError(verb, resource, 0, undefined, messageOf(err), false, { cause: err });
}

/** The `message` of an error-like object when it is a string (never `[object Object]`). */
function messageField(err: Record<string, unknown>): string | undefined {
  const message = err['message'];
  return typeof message === 'string' ? message : undefined;
}
