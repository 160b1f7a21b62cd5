/** Plain Kubernetes object shapes as the simulated API server stores and serves them (JSON, no classes). */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The `metadata` of a stored object, as the API serves it (fields the sim does not model are kept as they came). */
export interface ObjectMeta {
  name: string;
  generateName?: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [field: string]: unknown;
}

/** Any stored object: `metadata` is typed, the rest is resource-specific JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
  [field: string]: unknown;
}

/** Describes one served resource, the way discovery and the REST layer both need it. */
export interface ResourceInfo {
  /** API group, '' for core. */
  group: string;
  version: string;
  /** Plural resource name as in URLs (`jobs`). */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs: string[];
  subresources?: { name: string; verbs: string[] }[];
}

export type StoredEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change the object store made, in resourceVersion order. */
export interface StoreEvent {
  type: StoredEventType;
  resource: string;
  /** The object after the change (for DELETED: its last state, carrying the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  previous?: KubeObject;
  resourceVersion: number;
}

export type WatchEventType = StoredEventType | 'BOOKMARK' | 'ERROR';
