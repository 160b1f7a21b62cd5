/**
 * The checks of `createDashboard`'s options: thrown as one `ValidationError` naming every field,
 * before anything is served (actions without `authorize` are refused here).
 */
import { ValidationError, type ValidationIssue } from '../errors.js';
import type { DashboardOptions, DashboardTarget } from './options.js';

/** `basePath` without its trailing slash (`''` for the root). */
export function normalizeBase(basePath: string | undefined): string {
  const base = (basePath ?? '/').replace(/\/+$/, '');
  if (base !== '' && !base.startsWith('/')) {
    throw new ValidationError(
      [{ field: 'basePath', rule: `must start with "/", got "${basePath}"` }],
      'dashboard options',
    );
  }
  return base;
}

/** Throws `ValidationError` for options the dashboard refuses. */
export function checkOptions(target: DashboardTarget, options: DashboardOptions): void {
  const issues: ValidationIssue[] = [];
  if (options.actions && !options.authorize) {
    issues.push({ field: 'authorize', rule: 'is required when actions is true (who may cancel and re-submit?)' });
  }
  if (options.actions && !('runner' in target)) {
    issues.push({ field: 'actions', rule: 'needs a runner (a dashboard over a store alone is read-only)' });
  }
  const size = options.pageSize;
  if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > 1000)) {
    issues.push({ field: 'pageSize', rule: `must be an integer from 1 to 1000, got ${String(size)}` });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'dashboard options');
}
