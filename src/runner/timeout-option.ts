import { ValidationError } from '../errors.js';

/**
 * Checks an optional `timeoutMs` (of `shutdown` or `waitFor`): absent, or a finite number ≥ 0.
 * Throws a `ValidationError` naming `subject` otherwise.
 */
export function checkTimeoutMs(value: unknown, subject: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  const got =
    typeof value === 'number' || typeof value === 'bigint' ? String(value) : (JSON.stringify(value) ?? typeof value);
  throw new ValidationError([{ field: 'timeoutMs', rule: `must be a finite number ≥ 0, got ${got}` }], subject);
}
