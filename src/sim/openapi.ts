import type { SimContext } from './context.js';
import type { FieldValidator, NonResourceHandler } from './server.js';

/** `/openapi/v3`, `/openapi/v3/apis/batch/v1`, `/openapi/v3/api/v1`, `/openapi/v2`. TODO(kubectl helper). */
export function openApiHandler(_ctx: SimContext): NonResourceHandler {
  return () => false;
}

/** Unknown fields in a request body, for fieldValidation=Strict/Warn. TODO(kubectl helper). */
export const unknownFieldValidator: FieldValidator = () => [];
