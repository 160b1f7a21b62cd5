import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join as joinPath } from 'node:path';
import * as clientNode from '@kubernetes/client-node';
import type { ResourceInfo } from './types.js';

/**
 * The shapes of Kubernetes objects, read from `@kubernetes/client-node`'s generated models (each
 * `V1Job`, `V1PodSpec`... class lists its fields in `attributeTypeMap`). Both the OpenAPI
 * documents and strict field validation are derived from them, so they never disagree.
 */

interface Attribute {
  /** JSON field name. */
  baseName: string;
  /** `string`, `number`, `Date`, `Array<V1Container>`, `{ [key: string]: string; }`, `V1PodSpec`... */
  type: string;
  format: string;
}

/** A field's type, parsed from client-node's type strings. */
export type FieldType =
  | { kind: 'primitive'; type: 'string' | 'number' | 'boolean'; format: string }
  | { kind: 'intOrString' }
  /** Free-form JSON (`fieldsV1`, `RawExtension`): never checked. */
  | { kind: 'any' }
  | { kind: 'array'; items: FieldType }
  | { kind: 'map'; values: FieldType }
  | { kind: 'model'; name: string };

const registry = clientNode as unknown as Record<string, { getAttributeTypeMap?: () => Attribute[] } | undefined>;

const fieldCache = new Map<string, Map<string, FieldType> | undefined>();

/** The fields of a model class by JSON name, or undefined when client-node has no such model. */
export function modelFields(model: string): Map<string, FieldType> | undefined {
  if (fieldCache.has(model)) return fieldCache.get(model);
  const attributes = registry[model]?.getAttributeTypeMap?.();
  const fields = attributes ? new Map(attributes.map((a) => [a.baseName, parseType(a.type, a.format)])) : undefined;
  fieldCache.set(model, fields);
  return fields;
}

/** Parses one of client-node's attribute type strings (`Array<V1Container>`, `{ [key: string]: string; }`...). */
export function parseType(type: string, format = ''): FieldType {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return { kind: 'array', items: parseType(array[1]!, format) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return { kind: 'map', values: parseType(map[1]!, format) };
  switch (type) {
    case 'string':
    case 'number':
    case 'boolean':
      return { kind: 'primitive', type, format };
    case 'Date':
      return { kind: 'primitive', type: 'string', format: format || 'date-time' };
    case 'IntOrString':
      return { kind: 'intOrString' };
    case 'any':
      return { kind: 'any' };
    default:
      // Classes without a field list (V1MicroTime extends Date) are serialized as strings.
      return registry[type]?.getAttributeTypeMap
        ? { kind: 'model', name: type }
        : { kind: 'primitive', type: 'string', format };
  }
}

/** A model's documentation: its description and, per JSON field, description and whether it is required. */
export interface ModelDocs {
  description?: string;
  fields: Map<string, { description?: string; required: boolean }>;
}

const modelsDir = joinPath(dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node')), 'gen', 'models');
const docsCache = new Map<string, ModelDocs | undefined>();

/** `* line` comment bodies, joined, with the generator's `\'` escapes undone. */
function commentText(body: string): string {
  return body
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim()
    .replace(/\\(['"\\])/g, '$1');
}

/**
 * Descriptions and required fields, read from the model's `.d.ts` (the generator keeps the
 * Kubernetes doc comments there, and leaves `?` off required properties).
 */
export function modelDocs(model: string): ModelDocs | undefined {
  if (docsCache.has(model)) return docsCache.get(model);
  let text: string | undefined;
  try {
    text = readFileSync(joinPath(modelsDir, `${model}.d.ts`), 'utf8');
  } catch (err) {
    // Models without a declaration file of their own (V1MicroTime) simply have no docs.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const docs = text === undefined ? undefined : parseDocs(text);
  docsCache.set(model, docs);
  return docs;
}

function parseDocs(text: string): ModelDocs {
  const classAt = text.indexOf('export declare class');
  const head = text.slice(0, classAt);
  const opening = head.lastIndexOf('/**');
  const closing = head.lastIndexOf('*/');
  // The class doc is the comment right before the class, not the file header.
  const classDoc =
    opening >= 0 && closing > opening && head.slice(closing + 2).trim() === ''
      ? head.slice(opening + 3, closing)
      : undefined;
  const body = text.slice(classAt);
  const fields = new Map<string, { description?: string; required: boolean }>();
  for (const match of body.matchAll(/(?:\/\*\*\n([^]*?)\*\/\n)?\s*'([^']+)'(\?)?:/g)) {
    fields.set(match[2]!, {
      description: match[1] ? commentText(match[1]) : undefined,
      required: match[3] === undefined,
    });
  }
  return { description: classDoc ? commentText(classDoc) : undefined, fields };
}

/** client-node's model for a served resource: `V1Job`, `V1Pod`, `CoreV1Event` (core Events are prefixed). */
export function modelForKind(info: Pick<ResourceInfo, 'group' | 'version' | 'kind'>): string | undefined {
  const version = info.version.charAt(0).toUpperCase() + info.version.slice(1);
  const groupPrefix = (info.group || 'core').split('.')[0]!;
  const candidates = [
    `${version}${info.kind}`,
    `${groupPrefix.charAt(0).toUpperCase()}${groupPrefix.slice(1)}${version}${info.kind}`,
  ];
  return candidates.find((name) => modelFields(name)?.has('apiVersion'));
}

const metaTypes = new Set([
  'ObjectMeta',
  'ListMeta',
  'LabelSelector',
  'LabelSelectorRequirement',
  'ManagedFieldsEntry',
  'OwnerReference',
  'Status',
  'StatusCause',
  'StatusDetails',
  'DeleteOptions',
  'Preconditions',
  'WatchEvent',
  'Condition',
  'APIResource',
  'APIResourceList',
  'APIGroup',
  'APIGroupList',
  'APIVersions',
  'GroupVersionForDiscovery',
  'ServerAddressByClientCIDR',
]);
const batchTypes = /^(CronJob|Job|PodFailurePolicy|SuccessPolicy|UncountedTerminatedPods)/;
const coordinationTypes = /^Lease(List|Spec)?$/;

/**
 * The name Kubernetes' OpenAPI gives a model: `V1Job` → `io.k8s.api.batch.v1.Job`,
 * `V1ObjectMeta` → `io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`, `CoreV1Event` →
 * `io.k8s.api.core.v1.Event`. Only core, batch, coordination and meta models are served, so those are the rules.
 */
export function definitionName(model: string): string {
  const match = /^(?:[A-Z][a-z]+)?(V\d+(?:(?:alpha|beta)\d+)?)(.+)$/.exec(model);
  const version = match?.[1]?.toLowerCase() ?? 'v1';
  const name = match?.[2] ?? model;
  if (metaTypes.has(name)) return `io.k8s.apimachinery.pkg.apis.meta.${version}.${name}`;
  if (batchTypes.test(name)) return `io.k8s.api.batch.${version}.${name}`;
  if (coordinationTypes.test(name)) return `io.k8s.api.coordination.${version}.${name}`;
  return `io.k8s.api.core.${version}.${name}`;
}

/** Every model reachable from `roots`, roots first. */
export function modelClosure(roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (type: FieldType): void => {
    if (type.kind === 'array') visit(type.items);
    else if (type.kind === 'map') visit(type.values);
    else if (type.kind === 'model' && !seen.has(type.name)) {
      seen.add(type.name);
      for (const field of modelFields(type.name)?.values() ?? []) visit(field);
    }
  };
  for (const root of roots) visit({ kind: 'model', name: root });
  return [...seen];
}

/**
 * What a typed strict decoder (sigs.k8s.io/json with DisallowUnknownFields) reports for `value`
 * read as `type`: `unknown field "spec.template.spec.containers[0].foo"`, in document order.
 * Unknown fields are also removed from `value`, as decoding into Go structs drops them.
 * Values of the wrong JSON type are left alone (not this check's concern).
 */
export function dropUnknownFields(value: unknown, type: FieldType, path = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const problems: string[] = [];
  if (type.kind === 'array' && Array.isArray(value)) {
    value.forEach((item, i) => problems.push(...dropUnknownFields(item, type.items, `${path}[${i}]`)));
  } else if (type.kind === 'map' && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value))
      problems.push(...dropUnknownFields(item, type.values, join(path, key)));
  } else if (type.kind === 'model' && !Array.isArray(value)) {
    const fields = modelFields(type.name);
    if (!fields) return [];
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const field = fields.get(key);
      if (field) {
        problems.push(...dropUnknownFields(record[key], field, join(path, key)));
      } else {
        problems.push(`unknown field "${join(path, key)}"`);
        delete record[key];
      }
    }
  }
  return problems;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
