import type { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../errors.js';
import { taskSpecSchema, type TaskSpec } from './task-spec.js';

/** zod's issues as `field: rule` pairs, the field a dotted path (`env.0.name`). */
export function toValidationIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: [...path, key].join('.'), rule: 'is not a known field' }));
    }
    return [{ field: path.join('.'), rule: issue.message }];
  });
}

/** Validates `addTask` input; throws `ValidationError` naming every broken field and rule. */
export function parseTaskSpec(input: unknown): TaskSpec {
  const result = taskSpecSchema.safeParse(input);
  if (!result.success) throw new ValidationError(toValidationIssues(result.error), 'task', { cause: result.error });
  return result.data;
}
