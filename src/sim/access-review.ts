import { invalid, type FieldError } from './api-error.js';
import { rbacAllows, type RbacOptions } from './rbac.js';
import type { VirtualCreate } from './server.js';
import type { ResourceStrategy } from './strategy.js';

/*
 * authorization.k8s.io/v1 SelfSubjectAccessReviews, as kube-apiserver's
 * `pkg/registry/authorization/selfsubjectaccessreview` serves them: create only, cluster-scoped,
 * never stored; the answer is the request with `status` filled in by the authorizer. Here the
 * authorizer is the cluster's RBAC mode (`rbac.ts`): without it every request is allowed.
 */

/** Discovery, OpenAPI and routing see this resource; its one verb is answered by {@link accessReviewCreator}. */
export const selfSubjectAccessReviewStrategy: ResourceStrategy = {
  info: {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectaccessreviews',
    singular: 'selfsubjectaccessreview',
    kind: 'SelfSubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
  },
  selectableFieldKeys: [],
  selectableFields: () => ({}),
  defaultPropagation: 'Background',
};

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** `ValidateSelfSubjectAccessReviewSpec`: exactly one of resourceAttributes and nonResourceAttributes. */
function specErrors(spec: Record<string, unknown>): FieldError[] {
  const resource = spec['resourceAttributes'];
  const nonResource = spec['nonResourceAttributes'];
  if (resource !== undefined && resource !== null && nonResource !== undefined && nonResource !== null)
    return [
      {
        field: 'spec.nonResourceAttributes',
        type: 'FieldValueInvalid',
        value: nonResource,
        detail: 'cannot be specified in combination with resourceAttributes',
      },
    ];
  if ((resource === undefined || resource === null) && (nonResource === undefined || nonResource === null))
    return [
      {
        field: 'spec.resourceAttributes',
        type: 'FieldValueRequired',
        detail: 'exactly one of nonResourceAttributes or resourceAttributes must be specified',
      },
    ];
  return [];
}

/**
 * The decision for the user presenting `token`: the RBAC mode's user is held to its rules
 * (as the RBAC authorizer: a refusal is `allowed: false` with no reason, never `denied`);
 * everyone else, and everyone when RBAC is off, is allowed. Non-resource paths are allowed, as
 * the simulated cluster keeps them open.
 */
function decide(
  rbac: RbacOptions | undefined,
  token: string | undefined,
  attributes: ResourceAttributes | undefined,
): Record<string, unknown> {
  if (!rbac || (rbac.token !== undefined && token !== rbac.token))
    return { allowed: true, reason: 'the simulated cluster grants this user everything' };
  if (!attributes) return { allowed: true, reason: 'non-resource paths are open to every user' };
  const request = {
    verb: text(attributes.verb),
    group: text(attributes.group),
    resource: text(attributes.resource),
    subresource: text(attributes.subresource) || undefined,
    namespace: text(attributes.namespace),
    name: text(attributes.name),
  };
  return rbacAllows(rbac, request)
    ? { allowed: true, reason: 'RBAC: allowed by the Role of RBAC mode' }
    : { allowed: false };
}

/**
 * The create handler of SelfSubjectAccessReviews: validates the spec (422 as the apiserver
 * words it), then answers 201 with the spec echoed and the decision in `status`. Nothing is
 * stored, so a dry run is answered the same.
 */
export function accessReviewCreator(rbac: RbacOptions | undefined): VirtualCreate {
  const { info } = selfSubjectAccessReviewStrategy;
  return (attrs, body) => {
    const review = isRecord(body) ? body : {};
    const spec = isRecord(review['spec']) ? review['spec'] : {};
    const errors = specErrors(spec);
    if (errors.length > 0) throw invalid(info, '', errors);
    const attributes = isRecord(spec['resourceAttributes'])
      ? (spec['resourceAttributes'] as ResourceAttributes)
      : undefined;
    const metadata = isRecord(review['metadata']) ? review['metadata'] : {};
    return {
      status: 201,
      body: {
        kind: info.kind,
        apiVersion: `${info.group}/${info.version}`,
        metadata: { ...metadata, creationTimestamp: null },
        spec,
        status: decide(rbac, attrs.token, attributes),
      },
    };
  };
}
