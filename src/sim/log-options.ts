import { badRequest, invalid, type FieldError } from './api-error.js';
import { queryBool } from './query-params.js';
import type { ResourceInfo } from './types.js';

/** core/v1 `PodLogOptions`, decoded from the query string. */
export interface PodLogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  /** Accepted and converted like every boolean; the simulated kubelet has no TLS to skip. */
  insecureSkipTLSVerifyBackend: boolean;
  sinceSeconds?: number;
  /** Epoch ms, whole seconds (the API server forwards it to the kubelet as RFC 3339). */
  sinceTime?: number;
  tailLines?: number;
  limitBytes?: number;
}

const podLogOptionsInfo: ResourceInfo = {
  group: '',
  version: 'v1',
  resource: 'pods',
  singular: 'pod',
  kind: 'PodLogOptions',
  namespaced: true,
  verbs: [],
};

function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^[+-]?\d+$/.test(raw)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`);
  return Number(raw);
}

function timeParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms))
    throw badRequest(
      `parsing time ${JSON.stringify(raw)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(raw)} as "2006-01-02T15:04:05Z07:00"`,
    );
  return Math.floor(ms / 1000) * 1000;
}

/**
 * Decodes and validates `PodLogOptions` (`ValidatePodLogOptions`): 400 for a parameter that
 * does not parse, 422 `PodLogOptions "<pod>" is invalid` for values out of range. The API
 * server does this before it even reads the pod.
 */
export function parsePodLogOptions(query: URLSearchParams, podName: string): PodLogOptions {
  const options: PodLogOptions = {
    container: query.get('container') || undefined,
    follow: queryBool(query, 'follow'),
    previous: queryBool(query, 'previous'),
    timestamps: queryBool(query, 'timestamps'),
    insecureSkipTLSVerifyBackend: queryBool(query, 'insecureSkipTLSVerifyBackend'),
    sinceSeconds: intParam(query, 'sinceSeconds'),
    sinceTime: timeParam(query, 'sinceTime'),
    tailLines: intParam(query, 'tailLines'),
    limitBytes: intParam(query, 'limitBytes'),
  };
  const errors: FieldError[] = [];
  if (options.tailLines !== undefined && options.tailLines < 0) {
    errors.push({
      field: 'tailLines',
      type: 'FieldValueInvalid',
      value: options.tailLines,
      detail: 'must be greater than or equal to 0',
    });
  }
  if (options.limitBytes !== undefined && options.limitBytes < 1) {
    errors.push({
      field: 'limitBytes',
      type: 'FieldValueInvalid',
      value: options.limitBytes,
      detail: 'must be greater than 0',
    });
  }
  if (options.sinceSeconds !== undefined && options.sinceTime !== undefined) {
    errors.push({
      field: '',
      type: 'FieldValueForbidden',
      detail: 'at most one of `sinceTime` or `sinceSeconds` may be specified',
    });
  } else if (options.sinceSeconds !== undefined && options.sinceSeconds < 1) {
    errors.push({
      field: 'sinceSeconds',
      type: 'FieldValueInvalid',
      value: options.sinceSeconds,
      detail: 'must be greater than 0',
    });
  }
  if (errors.length > 0) throw invalid(podLogOptionsInfo, podName, errors);
  return options;
}
