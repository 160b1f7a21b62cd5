import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { ApiError } from './api-error.js';

/**
 * Accepts a request only if it carries `Authorization: Bearer <token>` with exactly `token`, as
 * the apiserver's static token authenticator does (anonymous requests refused, i.e.
 * `--anonymous-auth=false`).
 */
export function bearerTokenAuthenticator(token: string): (req: IncomingMessage) => boolean {
  const expected = Buffer.from(token);
  return (req) => {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return false;
    const presented = Buffer.from(header.slice('Bearer '.length).trim());
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  };
}

/** The apiserver's `401` for a request no authenticator accepted (`NewUnauthorized("Unauthorized")`). */
export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}
