import type { ResourceInfo } from './types.js';

/** One `details.causes[]` entry of a Status, as apimachinery's field errors produce them. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** The `meta/v1 Status` body every API error is served as. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/**
 * An API error the simulated server answers with, mirroring apimachinery's `StatusError`
 * (`k8s.io/apimachinery/pkg/api/errors`): the HTTP code, the `reason` and the exact message
 * formats clients and kubectl print.
 */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusBody['details'],
    /** Extra response headers, e.g. `Retry-After`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): StatusBody {
    const body: StatusBody = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason || undefined,
      code: this.code,
    };
    if (this.details) body.details = this.details;
    return body;
  }
}

/** `jobs.batch`, `pods`: the GroupResource string Kubernetes puts in messages. */
export function groupResource(info: Pick<ResourceInfo, 'group' | 'resource'>): string {
  return info.group ? `${info.resource}.${info.group}` : info.resource;
}

function baseDetails(info: ResourceInfo, name: string): NonNullable<StatusBody['details']> {
  const details: NonNullable<StatusBody['details']> = { name };
  if (info.group) details.group = info.group;
  details.kind = info.resource;
  return details;
}

export function notFound(info: ResourceInfo, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${groupResource(info)} "${name}" not found`, baseDetails(info, name));
}

export function alreadyExists(info: ResourceInfo, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${groupResource(info)} "${name}" already exists`, baseDetails(info, name));
}

export function conflict(info: ResourceInfo, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${groupResource(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    baseDetails(info, name),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function methodNotAllowed(
  message = 'the server does not allow this method on the requested resource',
): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message);
}

export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function forbidden(message: string, info?: ResourceInfo, name?: string): ApiError {
  return new ApiError(403, 'Forbidden', message, info ? baseDetails(info, name ?? '') : undefined);
}

/** A field-level validation failure, formatted as `field: Type value: detail`. */
export interface FieldError {
  field: string;
  /** FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueForbidden, ... */
  type:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueForbidden'
    | 'FieldValueDuplicate'
    | 'FieldValueTooLong';
  /** The offending value, rendered as Go's `%#v` would (strings quoted). Omitted for Required/Forbidden. */
  value?: unknown;
  detail: string;
}

const typeText: Record<FieldError['type'], string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueTooLong: 'Too long',
};

function renderValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The `message` of one cause, without the field prefix (`Invalid value: "x": detail`). */
export function fieldErrorBody(error: FieldError): string {
  const head = typeText[error.type];
  // An absent value is apimachinery's `field.OmitValueType{}`: the type and the detail only.
  if (error.type === 'FieldValueRequired' || error.type === 'FieldValueForbidden' || !('value' in error)) {
    return error.detail ? `${head}: ${error.detail}` : head;
  }
  return `${head}: ${renderValue(error.value)}${error.detail ? `: ${error.detail}` : ''}`;
}

/** `422 Invalid` as `NewInvalid` builds it: `Kind.group "name" is invalid: <errors>`. */
export function invalid(info: ResourceInfo, name: string, errors: FieldError[]): ApiError {
  const rendered = [...new Set(errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`))];
  const joined = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  const qualifiedKind = info.group ? `${info.kind}.${info.group}` : info.kind;
  const details: NonNullable<StatusBody['details']> = { name };
  if (info.group) details.group = info.group;
  details.kind = info.kind;
  details.causes = errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field }));
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${joined}`, details);
}

/** The `Success` Status a Background delete answers with. */
export function deleteSuccess(info: ResourceInfo, name: string, uid: string): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { ...baseDetails(info, name), uid },
    code: 200,
  };
}
