import type { AccessQuery } from '../kube/preflight-api.js';

/** One permission the runner needs, and what for (the report says it when it is missing). */
export interface RequiredAccess extends AccessQuery {
  /** What the runner does with it. */
  why: string;
}

/** The Lease of leader election, when it is on. */
export interface LeaseTarget {
  name: string;
  namespace: string;
}

/**
 * Every (verb, resource) the runner calls, in `namespace`: exactly the rules of
 * `deploy/rbac.yaml`'s Role (a test compares the two), which `test/deploy/rbac-least.test.ts`
 * shows are each needed. The Lease's verbs only with leader election: `create` on any Lease
 * (RBAC cannot name an object before it exists), `get` and `update` on the named one.
 */
export function requiredAccess(namespace: string, lease?: LeaseTarget): RequiredAccess[] {
  const jobs = (verb: string, why: string): RequiredAccess => ({
    verb,
    group: 'batch',
    resource: 'jobs',
    namespace,
    why,
  });
  const core = (verb: string, resource: string, why: string, subresource?: string): RequiredAccess => ({
    verb,
    group: '',
    resource,
    ...(subresource ? { subresource } : {}),
    namespace,
    why,
  });
  const access: RequiredAccess[] = [
    jobs('create', 'one Job per task'),
    jobs('get', 'adopt a Job already under a task’s name, confirm a deleted Job is gone'),
    jobs('list', 'the shared watch’s LIST and the orphan check'),
    jobs('watch', 'the shared watch of the runner’s Jobs'),
    jobs('delete', 'cleanup after every outcome, and cancel'),
    core('list', 'pods', 'the shared watch’s LIST of the Jobs’ pods, and finding a Job’s pods to read logs'),
    core('watch', 'pods', 'the shared watch of the Jobs’ pods'),
    core('get', 'pods', 'reading a container’s log', 'log'),
    core('list', 'events', 'the recent Events about a failing Job and its pods'),
  ];
  if (lease) {
    const leases = (verb: string, why: string, name?: string): RequiredAccess => ({
      verb,
      group: 'coordination.k8s.io',
      resource: 'leases',
      ...(name ? { name } : {}),
      namespace: lease.namespace,
      why,
    });
    access.push(
      leases('create', 'leader election: making the Lease the first time'),
      leases('get', 'leader election: reading the Lease at every try', lease.name),
      leases('update', 'leader election: acquiring, renewing and releasing the Lease', lease.name),
    );
  }
  return access;
}

/** `create jobs.batch`, `get pods/log`, `update leases.coordination.k8s.io "k8s-jobs"`: how a report names one. */
export function describeAccess(access: AccessQuery): string {
  const resource = access.subresource ? `${access.resource}/${access.subresource}` : access.resource;
  const qualified = access.group ? `${resource}.${access.group}` : resource;
  return `${access.verb} ${qualified}${access.name ? ` "${access.name}"` : ''}`;
}
