import { createHash } from 'node:crypto';
import type { SimContext } from './context.js';
import { simulatedVersion } from './discovery.js';
import {
  definitionName,
  dropUnknownFields,
  modelClosure,
  modelDocs,
  modelFields,
  modelForKind,
  type FieldType,
} from './model-schema.js';
import { sendJson, type FieldValidator, type NonResourceHandler } from './server.js';
import type { ResourceStrategy } from './strategy.js';

/*
 * OpenAPI v3 as the apiserver publishes it: `/openapi/v3` lists one document per group-version,
 * each with the paths of its resources and the component schemas they reach. `kubectl create -f`
 * reads it to learn that the server validates fields itself: a PATCH operation carrying
 * `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter (client-go
 * `supportsQueryParamV3`). Schemas come from client-node's models, so they cover every field.
 */

type Json = Record<string, unknown>;

const ref = (model: string): Json => ({ $ref: `#/components/schemas/${definitionName(model)}` });

function schemaOf(type: FieldType): Json {
  switch (type.kind) {
    case 'primitive': {
      if (type.type !== 'number') return { type: type.type, ...(type.format ? { format: type.format } : {}) };
      return type.format === 'double'
        ? { type: 'number', format: 'double' }
        : { type: 'integer', ...(type.format ? { format: type.format } : {}) };
    }
    case 'intOrString':
      return { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' };
    case 'any':
      return { type: 'object' };
    case 'array':
      return { type: 'array', items: schemaOf(type.items) };
    case 'map':
      return { type: 'object', additionalProperties: schemaOf(type.values) };
    case 'model':
      return ref(type.name);
  }
}

const queryParam = (name: string, type: 'string' | 'boolean' | 'integer', description: string): Json => ({
  name,
  in: 'query',
  description,
  schema: { type, uniqueItems: true },
});

const params = {
  dryRun: queryParam(
    'dryRun',
    'string',
    'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed',
  ),
  fieldManager: queryParam(
    'fieldManager',
    'string',
    'fieldManager is a name associated with the actor or entity that is making these changes.',
  ),
  fieldValidation: queryParam(
    'fieldValidation',
    'string',
    'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict: this will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present.',
  ),
  force: queryParam(
    'force',
    'boolean',
    'Force is going to "force" Apply requests. It must be unset for non-apply patch requests.',
  ),
  list: [
    queryParam('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
    queryParam('continue', 'string', 'The continue option should be set when retrieving more results from the server.'),
    queryParam(
      'fieldSelector',
      'string',
      'A selector to restrict the list of returned objects by their fields. Defaults to everything.',
    ),
    queryParam(
      'labelSelector',
      'string',
      'A selector to restrict the list of returned objects by their labels. Defaults to everything.',
    ),
    queryParam('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
    queryParam(
      'resourceVersion',
      'string',
      'resourceVersion sets a constraint on what resource versions a request may be served from.',
    ),
    queryParam(
      'resourceVersionMatch',
      'string',
      'resourceVersionMatch determines how resourceVersion is applied to list calls.',
    ),
    queryParam('sendInitialEvents', 'boolean', '`sendInitialEvents=true` may be set together with `watch=true`.'),
    queryParam('timeoutSeconds', 'integer', 'Timeout for the list/watch call.'),
    queryParam(
      'watch',
      'boolean',
      'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.',
    ),
  ],
  delete: [
    queryParam('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted.'),
    queryParam(
      'orphanDependents',
      'boolean',
      'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.',
    ),
    queryParam(
      'propagationPolicy',
      'string',
      "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
    ),
  ],
  pathParam: (name: string, description: string): Json => ({
    name,
    in: 'path',
    description,
    required: true,
    schema: { type: 'string', uniqueItems: true },
  }),
  pretty: queryParam('pretty', 'string', "If 'true', then the output is pretty printed."),
};

const jsonBody = (schema: Json): Json => ({ content: { 'application/json': { schema } }, required: true });
const ok = (schema: Json, ...codes: string[]): Json =>
  Object.fromEntries([
    ...codes.map((code) => [
      code,
      {
        description: code === '201' ? 'Created' : code === '202' ? 'Accepted' : 'OK',
        content: { 'application/json': { schema } },
      },
    ]),
    ['401', { description: 'Unauthorized' }],
  ]);

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** The paths of one served resource, named and shaped like the apiserver's (`readBatchV1NamespacedJob`...). */
function resourcePaths(strategy: ResourceStrategy): Record<string, Json> {
  const { group, version, resource, kind, namespaced, verbs, subresources = [] } = strategy.info;
  const model = modelForKind(strategy.info);
  if (!model) return {};
  const object = ref(model);
  const list = modelFields(`${model}List`) ? ref(`${model}List`) : { type: 'object' };
  const status = ref('V1Status');
  const gvName = `${pascal((group || 'core').split('.')[0]!)}${pascal(version)}`;
  const gvk = { group, version, kind };
  const scoped = namespaced ? 'Namespaced' : '';
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const collection = namespaced ? `${prefix}/namespaces/{namespace}/${resource}` : `${prefix}/${resource}`;
  const item = `${collection}/{name}`;
  const common = (...extra: Json[]) => [
    ...(namespaced
      ? [params.pathParam('namespace', 'object name and auth scope, such as for teams and projects')]
      : []),
    ...extra,
    params.pretty,
  ];
  const op = (operationId: string, action: string, description: string, responses: Json, extra: Json = {}): Json => ({
    description,
    operationId,
    ...extra,
    responses,
    tags: [`${group || 'core'}_${version}`],
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
  });
  const writeParams = [params.dryRun, params.fieldManager, params.fieldValidation];
  const patchBody = {
    content: Object.fromEntries(
      [
        'application/apply-patch+yaml',
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/strategic-merge-patch+json',
      ].map((t) => [t, { schema: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch' } }]),
    ),
    required: true,
  };
  const itemOps = (suffix: string, allowed: readonly string[]): Json => ({
    ...(allowed.includes('get')
      ? { get: op(`read${gvName}${scoped}${kind}${suffix}`, 'get', `read the specified ${kind}`, ok(object, '200')) }
      : {}),
    ...(allowed.includes('update')
      ? {
          put: op(
            `replace${gvName}${scoped}${kind}${suffix}`,
            'put',
            `replace the specified ${kind}`,
            ok(object, '200', '201'),
            { parameters: writeParams, requestBody: jsonBody(object) },
          ),
        }
      : {}),
    ...(allowed.includes('patch')
      ? {
          patch: op(
            `patch${gvName}${scoped}${kind}${suffix}`,
            'patch',
            `partially update the specified ${kind}`,
            ok(object, '200', '201'),
            { parameters: [...writeParams, params.force], requestBody: patchBody },
          ),
        }
      : {}),
  });

  const paths: Record<string, Json> = {
    [collection]: {
      ...(verbs.includes('list')
        ? {
            get: op(`list${gvName}${scoped}${kind}`, 'list', `list or watch objects of kind ${kind}`, ok(list, '200'), {
              parameters: params.list,
            }),
          }
        : {}),
      ...(verbs.includes('create')
        ? {
            post: op(`create${gvName}${scoped}${kind}`, 'post', `create a ${kind}`, ok(object, '200', '201', '202'), {
              parameters: writeParams,
              requestBody: jsonBody(object),
            }),
          }
        : {}),
      ...(verbs.includes('deletecollection')
        ? {
            delete: op(
              `delete${gvName}Collection${scoped}${kind}`,
              'deletecollection',
              `delete collection of ${kind}`,
              ok(status, '200'),
              {
                parameters: [...params.list, ...params.delete, params.dryRun],
                requestBody: { content: { 'application/json': { schema: ref('V1DeleteOptions') } } },
              },
            ),
          }
        : {}),
      parameters: common(),
    },
    [item]: {
      ...itemOps('', verbs),
      ...(verbs.includes('delete')
        ? {
            delete: op(
              `delete${gvName}${scoped}${kind}`,
              'delete',
              `delete a ${kind}`,
              ok(strategy.returnDeletedObject ? object : status, '200', '202'),
              {
                parameters: [params.dryRun, ...params.delete],
                requestBody: { content: { 'application/json': { schema: ref('V1DeleteOptions') } } },
              },
            ),
          }
        : {}),
      parameters: common(params.pathParam('name', `name of the ${kind}`)),
    },
  };
  for (const sub of subresources) {
    const path = `${item}/${sub.name}`;
    paths[path] =
      sub.name === 'status'
        ? { ...itemOps('Status', sub.verbs), parameters: common(params.pathParam('name', `name of the ${kind}`)) }
        : {
            get: op(
              `read${gvName}${scoped}${kind}${pascal(sub.name)}`,
              'get',
              `read ${sub.name} of the specified ${kind}`,
              {
                '200': { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } },
                '401': { description: 'Unauthorized' },
              },
            ),
            parameters: common(params.pathParam('name', `name of the ${kind}`)),
          };
  }
  if (namespaced && verbs.includes('list')) {
    paths[`${prefix}/${resource}`] = {
      get: op(`list${gvName}${kind}ForAllNamespaces`, 'list', `list or watch objects of kind ${kind}`, ok(list, '200')),
      parameters: [...params.list, params.pretty],
    };
  }
  return paths;
}

/** The component schemas reachable from `roots`, with the GVK extension on served kinds. */
function schemas(roots: string[], kinds: Map<string, Json>): Record<string, Json> {
  const components: Record<string, Json> = {
    'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { type: 'string', format: 'int-or-string' },
    'io.k8s.apimachinery.pkg.apis.meta.v1.Patch': {
      type: 'object',
      description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
    },
  };
  for (const model of modelClosure(roots)) {
    const docs = modelDocs(model);
    const fields = [...(modelFields(model) ?? new Map<string, FieldType>())];
    const properties = Object.fromEntries(
      fields.map(([name, type]) => {
        const description = docs?.fields.get(name)?.description;
        const schema = schemaOf(type);
        if (!description) return [name, schema];
        // A $ref's siblings are ignored in OpenAPI 3.0, so the apiserver wraps described refs in allOf.
        return [name, schema['$ref'] ? { description, allOf: [schema] } : { ...schema, description }];
      }),
    );
    const required = fields.map(([name]) => name).filter((name) => docs?.fields.get(name)?.required);
    const gvk = kinds.get(model);
    components[definitionName(model)] = {
      ...(docs?.description ? { description: docs.description } : {}),
      type: 'object',
      ...(required.length > 0 ? { required } : {}),
      properties,
      ...(gvk ? { 'x-kubernetes-group-version-kind': [gvk] } : {}),
    };
  }
  return components;
}

/** One `/openapi/v3/<gv>` document per served group-version. */
export function buildOpenApiDocuments(ctx: SimContext): Map<string, Json> {
  const byGroupVersion = new Map<string, ResourceStrategy[]>();
  for (const strategy of ctx.strategies.values()) {
    const { group, version } = strategy.info;
    const key = group ? `apis/${group}/${version}` : `api/${version}`;
    byGroupVersion.set(key, [...(byGroupVersion.get(key) ?? []), strategy]);
  }
  const documents = new Map<string, Json>();
  for (const [key, strategies] of byGroupVersion) {
    const kinds = new Map<string, Json>();
    for (const { info } of strategies) {
      const model = modelForKind(info);
      if (!model) continue;
      kinds.set(model, { group: info.group, kind: info.kind, version: info.version });
      if (modelFields(`${model}List`))
        kinds.set(`${model}List`, { group: info.group, kind: `${info.kind}List`, version: info.version });
    }
    documents.set(key, {
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: simulatedVersion.gitVersion },
      paths: Object.assign({}, ...strategies.map(resourcePaths)) as Json,
      components: {
        schemas: schemas([...kinds.keys(), 'V1Status', 'V1DeleteOptions', 'V1WatchEvent'], kinds),
        securitySchemes: {
          BearerToken: {
            type: 'apiKey',
            description: 'Bearer Token authentication',
            name: 'authorization',
            in: 'header',
          },
        },
      },
    });
  }
  return documents;
}

/** `/openapi/v3` (the index, with content hashes as the apiserver gives them) and `/openapi/v3/<gv>`. */
export function openApiHandler(ctx: SimContext): NonResourceHandler {
  // Built on first use: every strategy is registered by the time a client asks.
  let served: { index: Json; documents: Map<string, string> } | undefined;
  const build = () => {
    const documents = new Map([...buildOpenApiDocuments(ctx)].map(([key, doc]) => [key, JSON.stringify(doc)]));
    const paths = Object.fromEntries(
      [...documents].map(([key, text]) => [
        key,
        {
          serverRelativeURL: `/openapi/v3/${key}?hash=${createHash('sha512').update(text).digest('hex').toUpperCase()}`,
        },
      ]),
    );
    return { index: { paths }, documents };
  };
  return (path, _req, res) => {
    if (path !== '/openapi/v3' && !path.startsWith('/openapi/v3/')) return false;
    served ??= build();
    if (path === '/openapi/v3') {
      sendJson(res, 200, served.index);
      return true;
    }
    const text = served.documents.get(path.slice('/openapi/v3/'.length));
    if (text === undefined) return false;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
    return true;
  };
}

/**
 * Unknown fields in a create/update body, as the apiserver's strict decoder names them
 * (`unknown field "spec.foo"`); they are dropped from the body, as decoding into the typed
 * object drops them whatever `fieldValidation` says.
 */
export const unknownFieldValidator: FieldValidator = (strategy, body) => {
  const model = modelForKind(strategy.info);
  return model ? dropUnknownFields(body, { kind: 'model', name: model }) : [];
};
