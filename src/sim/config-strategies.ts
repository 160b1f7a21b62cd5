import { badRequest, type FieldError } from './api-error.js';
import type { ResourceStrategy } from './strategy.js';
import { ageColumn, nameColumn } from './table.js';
import type { KubeObject } from './types.js';
import { validateDns1123Subdomain, validateLabels } from './validation.js';

/**
 * core/v1 ConfigMaps and Secrets: what pods reference from `env`, `envFrom` and volumes. The
 * kubelet reads them from the store; a missing one holds a container in
 * CreateContainerConfigError (env) or its pod in ContainerCreating (volumes).
 */

const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const configKeyPattern = '[-._a-zA-Z0-9]+';
/** MaxSecretSize / the ConfigMap limit: 1 MiB of data in total. */
const maxTotalBytes = 1024 * 1024;

type StringMap = Record<string, string>;

function stringMap(value: unknown): StringMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as StringMap) : {};
}

/** `IsConfigMapKey`: what data keys may be (ConfigMaps and Secrets alike). */
function validateKeys(keys: string[], field: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of keys) {
    const at = `${field}[${key}]`;
    if (key.length > 253)
      errors.push({ field: at, type: 'FieldValueInvalid', value: key, detail: 'must be no more than 253 characters' });
    if (!new RegExp(`^${configKeyPattern}$`).test(key)) {
      errors.push({
        field: at,
        type: 'FieldValueInvalid',
        value: key,
        detail: `a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '${configKeyPattern}')`,
      });
    } else if (key === '.' || key === '..' || key.startsWith('..')) {
      errors.push({
        field: at,
        type: 'FieldValueInvalid',
        value: key,
        detail: key.startsWith('..') && key.length > 2 ? "must not start with '..'" : `must not be '${key}'`,
      });
    }
  }
  return errors;
}

function validateMeta(obj: KubeObject): FieldError[] {
  return [
    ...validateDns1123Subdomain(obj.metadata.name, 'metadata.name'),
    ...validateLabels(obj.metadata.labels, 'metadata.labels'),
  ];
}

/** An `immutable: true` object keeps its data and may not become mutable again. */
function validateImmutable(obj: KubeObject, old: KubeObject, fields: string[]): FieldError[] {
  if (old['immutable'] !== true) return [];
  const errors: FieldError[] = [];
  if (obj['immutable'] !== true)
    errors.push({
      field: 'immutable',
      type: 'FieldValueForbidden',
      detail: 'field is immutable when `immutable` is set',
    });
  for (const field of fields) {
    if (JSON.stringify(obj[field] ?? {}) !== JSON.stringify(old[field] ?? {}))
      errors.push({ field, type: 'FieldValueForbidden', detail: 'field is immutable when `immutable` is set' });
  }
  return errors;
}

function validateConfigMap(obj: KubeObject): FieldError[] {
  const data = stringMap(obj['data']);
  const binary = stringMap(obj['binaryData']);
  const errors = [
    ...validateMeta(obj),
    ...validateKeys(Object.keys(data), 'data'),
    ...validateKeys(Object.keys(binary), 'binaryData'),
  ];
  for (const key of Object.keys(binary)) {
    if (key in data)
      errors.push({
        field: `binaryData[${key}]`,
        type: 'FieldValueInvalid',
        value: key,
        detail: 'duplicate of key present in data',
      });
  }
  const size =
    Object.values(data).reduce((n, v) => n + String(v).length, 0) +
    Object.values(binary).reduce((n, v) => n + Buffer.from(String(v), 'base64').length, 0);
  if (size > maxTotalBytes)
    errors.push({ field: '', type: 'FieldValueTooLong', detail: `may not be more than ${maxTotalBytes} bytes` });
  return errors;
}

const dataColumn = (keys: (obj: KubeObject) => number) =>
  ({
    name: 'Data',
    type: 'integer',
    description: 'Data contains the configuration data.',
    priority: 0,
    cell: keys,
  }) as const;

/** core/v1 ConfigMaps: key validation, the 1 MiB limit, `immutable`. */
export const configMapStrategy: ResourceStrategy = {
  info: {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    singular: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
    verbs,
  },
  selectableFieldKeys: [],
  selectableFields: () => ({}),
  validateCreate: (obj) => validateConfigMap(obj),
  validateUpdate: (obj, old) => [...validateConfigMap(obj), ...validateImmutable(obj, old, ['data', 'binaryData'])],
  defaultPropagation: 'Background',
  tableColumns: [
    nameColumn,
    dataColumn((obj) => Object.keys(stringMap(obj['data'])).length + Object.keys(stringMap(obj['binaryData'])).length),
    ageColumn,
  ],
};

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Secret defaulting and decoding: `type` defaults to Opaque, `stringData` (write-only) is merged
 * into `data` as base64, and `data` values that are not base64 fail to decode (400), as the
 * `[]byte` fields of the typed object do.
 */
function prepareSecret(obj: KubeObject): void {
  obj['type'] ??= 'Opaque';
  const data = { ...stringMap(obj['data']) };
  for (const value of Object.values(data)) {
    if (typeof value !== 'string' || !base64Pattern.test(value)) {
      throw badRequest(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${typeof value === 'string' ? Math.max(0, value.search(/[^A-Za-z0-9+/=]/)) : 0}`,
      );
    }
  }
  for (const [key, value] of Object.entries(stringMap(obj['stringData'])))
    data[key] = Buffer.from(String(value), 'utf8').toString('base64');
  delete obj['stringData'];
  if (Object.keys(data).length > 0) obj['data'] = data;
}

function validateSecret(obj: KubeObject): FieldError[] {
  const data = stringMap(obj['data']);
  const errors = [...validateMeta(obj), ...validateKeys(Object.keys(data), 'data')];
  const size = Object.values(data).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  if (size > maxTotalBytes)
    errors.push({ field: 'data', type: 'FieldValueTooLong', detail: `may not be more than ${maxTotalBytes} bytes` });
  return errors;
}

/** core/v1 Secrets: `type` Opaque by default and immutable, `stringData` folded into base64 `data`. */
export const secretStrategy: ResourceStrategy = {
  info: { group: '', version: 'v1', resource: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, verbs },
  selectableFieldKeys: ['type'],
  selectableFields: (obj) => ({ type: String(obj['type'] ?? '') }),
  prepareForCreate: (obj) => prepareSecret(obj),
  validateCreate: (obj) => validateSecret(obj),
  prepareForUpdate: (obj) => prepareSecret(obj),
  validateUpdate: (obj, old) => [
    ...validateSecret(obj),
    ...(obj['type'] !== old['type']
      ? [{ field: 'type', type: 'FieldValueInvalid' as const, value: obj['type'], detail: 'field is immutable' }]
      : []),
    ...validateImmutable(obj, old, ['data']),
  ],
  defaultPropagation: 'Background',
  tableColumns: [
    nameColumn,
    {
      name: 'Type',
      type: 'string',
      description: 'Used to facilitate programmatic handling of secret data.',
      priority: 0,
      cell: (obj) => String(obj['type'] ?? ''),
    },
    dataColumn((obj) => Object.keys(stringMap(obj['data'])).length),
    ageColumn,
  ],
};
