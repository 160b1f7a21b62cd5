import type { IncomingMessage } from 'node:http';
import { ApiError, type StatusBody } from './api-error.js';
import type { RequestAttributes, RequestHook } from './server.js';
import { sendError } from './server.js';

/**
 * One rule of a Role, as `rbac.authorization.k8s.io/v1` PolicyRule: which verbs on which
 * resources of which API groups, optionally only on some object names. `*` is a wildcard in
 * every list; `*\/log` matches that subresource of any resource.
 *
 * @example
 * ```ts
 * { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create', 'delete'] }
 * { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] }
 * ```
 */
export interface PolicyRule {
  /** `''` is the core group (pods, events, namespaces); `batch` holds Jobs. */
  apiGroups: string[];
  /** Plural resources, with subresources as `pods/log`, `jobs/status`. */
  resources: string[];
  /** `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`. */
  verbs: string[];
  /** Only these object names. A rule with names never allows `create` or an unfiltered `list`. */
  resourceNames?: string[];
}

/** RBAC mode: the allow-list and who is asking. */
export interface RbacOptions {
  rules: PolicyRule[];
  /** The user named in 403 messages. @default 'system:serviceaccount:default:k8s-jobs' */
  user?: string;
  /**
   * The rules hold in this namespace only, as a Role with a RoleBinding there; requests in other
   * namespaces, across all namespaces, or on cluster-scoped objects are denied. Left out, they
   * hold everywhere, as a ClusterRole with a ClusterRoleBinding.
   */
  namespace?: string;
  /**
   * The bearer token of the restricted user. Given, only requests presenting it are held to the
   * rules and every other request keeps full access (a cluster admin beside a service account:
   * a test sets things up as admin while the code under test runs as the service account); the
   * cluster then also accepts this token when its own `token` is set. Left out, every request is
   * held to the rules.
   */
  token?: string;
}

/** The default user: a service account, as a runner deployed in-cluster would be. */
export const defaultRbacUser = 'system:serviceaccount:default:k8s-jobs';

/** What the authorizer decides on, as the apiserver's RequestInfo resolves it. */
export interface Authorization {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace: string;
  name: string;
}

/**
 * The name a request is about. A list or watch filtered by `fieldSelector=metadata.name=x` is
 * authorized as a request for `x` (RequestInfoFactory does this so a Role with resourceNames can
 * watch its objects); a selector that does not parse is simply not used, as there.
 */
function requestedName(attrs: RequestAttributes, req: IncomingMessage): string {
  if (attrs.name !== undefined) return attrs.name;
  if (attrs.verb !== 'list' && attrs.verb !== 'watch') return '';
  const selector = new URL(req.url ?? '/', 'http://localhost').searchParams.get('fieldSelector') ?? '';
  for (const term of selector.split(',')) {
    const match = /^\s*metadata\.name\s*==?\s*([^\s/%]+)\s*$/.exec(term);
    if (match?.[1] && match[1] !== '.' && match[1] !== '..') return match[1];
  }
  return '';
}

function authorization(attrs: RequestAttributes, req: IncomingMessage): Authorization {
  const name = requestedName(attrs, req);
  // `/api/v1/namespaces/x` is a request in namespace x about namespace x (RequestInfoFactory).
  const namespace = attrs.namespace ?? (attrs.resource === 'namespaces' && attrs.name ? attrs.name : '');
  return {
    verb: attrs.verb,
    group: attrs.group,
    resource: attrs.resource,
    subresource: attrs.subresource,
    namespace,
    name,
  };
}

/** rbac/v1 `ResourceMatches`: exact `resource/subresource`, `*`, or `*\/subresource`. */
function resourceMatches(rule: PolicyRule, request: Authorization): boolean {
  const combined = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  return rule.resources.some(
    (r) => r === '*' || r === combined || (request.subresource !== undefined && r === `*/${request.subresource}`),
  );
}

function allows(rule: PolicyRule, request: Authorization): boolean {
  return (
    (rule.verbs.includes('*') || rule.verbs.includes(request.verb)) &&
    (rule.apiGroups.includes('*') || rule.apiGroups.includes(request.group)) &&
    resourceMatches(rule, request) &&
    (!rule.resourceNames?.length || rule.resourceNames.includes(request.name))
  );
}

/**
 * The apiserver's 403 (`responsewriters.Forbidden` + `NewForbidden`): the GroupResource without
 * the subresource, the name if any, then `User "u" cannot VERB resource "r[/sub]" in API group "g"`
 * and the scope.
 */
function forbiddenError(request: Authorization, user: string): ApiError {
  const groupResource = request.group ? `${request.resource}.${request.group}` : request.resource;
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const scope = request.namespace ? `in the namespace "${request.namespace}"` : 'at the cluster scope';
  const reason = `User "${user}" cannot ${request.verb} resource "${resource}" in API group "${request.group}" ${scope}`;
  const subject = request.name ? `${groupResource} "${request.name}"` : groupResource;
  const details: NonNullable<StatusBody['details']> = {};
  if (request.name) details.name = request.name;
  if (request.group) details.group = request.group;
  details.kind = request.resource;
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${reason}`, details, {
    'X-Content-Type-Options': 'nosniff',
  });
}

/**
 * RBAC mode: answers every resource request outside the allow-list with `403 Forbidden`, with
 * the Status body and message the apiserver's RBAC authorizer produces. Non-resource paths
 * (discovery, OpenAPI, `/version`) stay open, as the default `system:discovery` role keeps them.
 *
 * @example
 * ```ts
 * const cluster = await startSimulatedCluster({
 *   rbac: { rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create'] }] },
 * });
 * // deleting a Job now fails:
 * // 403 jobs.batch "x" is forbidden: User "system:serviceaccount:default:k8s-jobs"
 * //   cannot delete resource "jobs" in API group "batch" in the namespace "default"
 * ```
 */
export function rbacHook({ rules, user = defaultRbacUser, namespace, token }: RbacOptions): RequestHook {
  return (attrs, req, res) => {
    if (token !== undefined && attrs.token !== token) return false;
    if (isBasicUserRequest(attrs)) return false;
    const request = authorization(attrs, req);
    if (rbacAllows({ rules, namespace }, request)) return false;
    sendError(res, forbiddenError(request, user));
    return true;
  };
}

/**
 * What the default `system:basic-user` ClusterRole grants every authenticated user whatever their
 * Role: creating a SelfSubjectAccessReview (asking what one may do).
 */
function isBasicUserRequest(attrs: RequestAttributes): boolean {
  return (
    attrs.verb === 'create' && attrs.group === 'authorization.k8s.io' && attrs.resource === 'selfsubjectaccessreviews'
  );
}

/** One request as RBAC decides on it (`authorizer.Attributes`): `namespace: ''` is cluster-wide or all namespaces. */
export type RbacRequest = Authorization;

/** Whether the rules (held in `namespace`, or everywhere when it is undefined) allow the request. */
export function rbacAllows(
  { rules, namespace }: Pick<RbacOptions, 'rules' | 'namespace'>,
  request: RbacRequest,
): boolean {
  const inScope = namespace === undefined || request.namespace === namespace;
  return inScope && rules.some((rule) => allows(rule, request));
}
