import type { RequestHook } from './server.js';

/** One rule of a Role: which verbs on which resources of which API groups. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface RbacOptions {
  rules: PolicyRule[];
  /** The user named in 403 messages. @default 'system:serviceaccount:default:k8s-jobs' */
  user?: string;
}

/** Denies requests outside the allow-list with 403 Forbidden. TODO(faults helper). */
export function rbacHook(_options: RbacOptions): RequestHook {
  return () => false;
}
