/**
 * The dashboard's actions (off unless `actions: true`): cancel a task, re-submit a finished one under
 * a new id. Each is a POST form guarded three ways against cross-site requests: a per-dashboard
 * token in a hidden field (a page of another site cannot read it), the browser's `Sec-Fetch-Site`
 * when it sends one, and `Origin` against `Host`; then the application's `authorize(req)` decides.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TaskRecord } from '../types.js';
import type { TaskInput } from '../validation/task-spec.js';
import { html, type Html } from './html.js';

/** The names of the actions, as they appear in their URLs. */
export type ActionName = 'cancel' | 'resubmit';

/** A refused action: the HTTP status and why. */
export interface Refusal {
  status: 400 | 403 | 413 | 415;
  message: string;
}

/** Largest body of an action (a form of one token). */
const maxBody = 4096;

/** A new random token, for one dashboard's lifetime. */
export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The action forms of a task page: cancel while it is not finished, re-submit once it is. */
export function actionForms(base: string, record: TaskRecord, token: string): Html {
  const action = (name: ActionName, label: string): Html =>
    html`<form method="post" action="${base}/tasks/${encodeURIComponent(record.id)}/${name}" class="action">
      <input type="hidden" name="csrf" value="${token}" /><button type="submit">${label}</button>
    </form>`;
  const finished = record.outcome !== undefined;
  return html`<div class="actions">
    ${finished ? action('resubmit', 'Re-submit under a new id') : action('cancel', 'Cancel task')}
  </div>`;
}

async function readBody(req: IncomingMessage): Promise<string | Refusal> {
  // A framework may have parsed the form already (Express with express.urlencoded()).
  const parsed = (req as { body?: unknown }).body;
  if (typeof parsed === 'object' && parsed !== null) {
    return new URLSearchParams(parsed as Record<string, string>).toString();
  }
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > maxBody) return { status: 413, message: 'request body too large' };
  }
  return body;
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks an action request against cross-site use; undefined when it may go on to `authorize`. */
export async function checkActionRequest(req: IncomingMessage, token: string): Promise<Refusal | undefined> {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, message: `cross-site request refused (Sec-Fetch-Site: ${site})` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return { status: 403, message: `cross-site request refused (Origin: ${origin})` };
    }
    if (host !== req.headers.host) return { status: 403, message: `cross-site request refused (Origin: ${origin})` };
  } else if (origin === 'null') {
    return { status: 403, message: 'cross-site request refused (Origin: null)' };
  }
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    return { status: 415, message: 'an action is a form POST (application/x-www-form-urlencoded)' };
  }
  const body = await readBody(req);
  if (typeof body !== 'string') return body;
  const given = new URLSearchParams(body).get('csrf') ?? '';
  if (!sameToken(given, token)) return { status: 403, message: 'missing or stale form token: reload the page' };
  return undefined;
}

/** The id a re-submitted task gets: the old id with a suffix unique to this moment. */
export function resubmitId(id: string, now: number): string {
  return `${id.slice(0, 40)}-r${now.toString(36)}`;
}

/** The input that re-submits `record` under `newId`: its stored spec, as is. */
export function resubmitInput(record: TaskRecord, newId: string): TaskInput {
  return { ...record.spec, id: newId };
}
