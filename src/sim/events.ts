import type { SimContext } from './context.js';
import type { ResourceStrategy } from './strategy.js';
import { ageColumn } from './table.js';
import type { KubeObject } from './types.js';
import { randomHex } from './random-hex.js';

/** The name of the object an Event is about (`involvedObject.name`). */
const involvedName = (obj: KubeObject): string => (obj['involvedObject'] as { name?: string } | undefined)?.name ?? '';

/** core/v1 Events, with the field selectors `kubectl describe` sends. */
export const eventStrategy: ResourceStrategy = {
  info: {
    group: '',
    version: 'v1',
    resource: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  },
  selectableFieldKeys: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  selectableFields(obj) {
    const involved = (obj['involvedObject'] ?? {}) as Record<string, string | undefined>;
    const source = (obj['source'] ?? {}) as { component?: string };
    return {
      'involvedObject.kind': involved['kind'] ?? '',
      'involvedObject.namespace': involved['namespace'] ?? '',
      'involvedObject.name': involvedName(obj),
      'involvedObject.uid': involved['uid'] ?? '',
      'involvedObject.apiVersion': involved['apiVersion'] ?? '',
      'involvedObject.resourceVersion': involved['resourceVersion'] ?? '',
      'involvedObject.fieldPath': involved['fieldPath'] ?? '',
      reason: String(obj['reason'] ?? ''),
      reportingComponent: String(obj['reportingComponent'] ?? ''),
      source: source.component ?? '',
      type: String(obj['type'] ?? ''),
    };
  },
  // The runner's LIST of a troubled task's Events and `kubectl describe` select by it: without
  // the index each such LIST read every Event of the cluster (thousands at a cap of 1,000 tasks,
  // where hundreds of pods wait unschedulable and each has its Events listed).
  fieldIndexes: { 'involvedObject.name': involvedName },
  defaultPropagation: 'Background',
  tableColumns: [
    {
      name: 'Last Seen',
      type: 'string',
      description: 'Time of the last occurrence.',
      priority: 0,
      cell: (obj, now) =>
        ageColumn.cell(
          {
            ...obj,
            metadata: {
              ...obj.metadata,
              creationTimestamp: String(obj['lastTimestamp'] ?? obj.metadata.creationTimestamp),
            },
          },
          now,
        ),
    },
    {
      name: 'Type',
      type: 'string',
      description: 'Type of this event (Normal, Warning).',
      priority: 0,
      cell: (obj) => String(obj['type'] ?? ''),
    },
    {
      name: 'Reason',
      type: 'string',
      description: 'Short, machine understandable string that gives the reason for the transition.',
      priority: 0,
      cell: (obj) => String(obj['reason'] ?? ''),
    },
    {
      name: 'Object',
      type: 'string',
      description: 'The object this event is about.',
      priority: 0,
      cell: (obj) => {
        const i = obj['involvedObject'] as { kind?: string; name?: string } | undefined;
        return `${(i?.kind ?? '').toLowerCase()}/${i?.name ?? ''}`;
      },
    },
    {
      name: 'Message',
      type: 'string',
      description: 'A human-readable description of the status of this operation.',
      priority: 0,
      cell: (obj) => String(obj['message'] ?? ''),
    },
  ],
};

/** Event names by (object uid, reason, message, fieldPath), for aggregation without a scan. */
interface AggregationIndex {
  names: Map<string, string>;
  /** The other way round, to forget an Event's key when it goes (expired, deleted by a client). */
  keys: Map<string, string>;
}

const aggregation = new WeakMap<SimContext, AggregationIndex>();

function aggregationIndex(ctx: SimContext): AggregationIndex {
  const index = aggregation.get(ctx);
  if (index) return index;
  const created: AggregationIndex = { names: new Map(), keys: new Map() };
  ctx.store.subscribe(({ resource, type, object }) => {
    if (resource !== 'events' || type !== 'DELETED') return;
    const eventKey = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const aggregateKey = created.keys.get(eventKey);
    if (aggregateKey === undefined) return;
    created.keys.delete(eventKey);
    if (created.names.get(aggregateKey) === object.metadata.name) created.names.delete(aggregateKey);
  });
  aggregation.set(ctx, created);
  return created;
}

export interface EventSource {
  /** `job-controller`, `kubelet`, `default-scheduler`. */
  component: string;
  host?: string;
}

/**
 * Records an Event the way client-go's recorder does, including its aggregation: the same
 * reason and message about the same object bumps `count` and `lastTimestamp` instead of
 * creating a new Event.
 */
export function recordEvent(
  ctx: SimContext,
  involved: KubeObject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  source: EventSource,
  fieldPath?: string,
): void {
  const namespace = involved.metadata.namespace ?? 'default';
  const now = ctx.clock.now();
  const index = aggregationIndex(ctx);
  const aggregateKey = JSON.stringify([involved.metadata.uid, reason, message, fieldPath ?? '']);
  const existingName = index.names.get(aggregateKey);
  if (existingName) {
    const updated = ctx.store.mutate('events', namespace, existingName, (e) => {
      e['count'] = Number(e['count'] ?? 1) + 1;
      e['lastTimestamp'] = ctx.clock.timestamp(now);
    });
    if (updated) return;
    index.names.delete(aggregateKey);
  }
  const involvedObject: Record<string, string> = {
    kind: String(involved.kind ?? ''),
    namespace,
    name: involved.metadata.name,
    uid: involved.metadata.uid,
    apiVersion: String(involved.apiVersion ?? ''),
    resourceVersion: involved.metadata.resourceVersion,
  };
  if (fieldPath) involvedObject['fieldPath'] = fieldPath;
  const name = `${involved.metadata.name}.${randomHex(8)}`;
  index.names.set(aggregateKey, name);
  index.keys.set(`${namespace}/${name}`, aggregateKey);
  // Expiry (--event-ttl) is the apiserver's, for every Event: see event-ttl.ts.
  ctx.store.create(
    'events',
    {
      metadata: { name, namespace, uid: '', resourceVersion: '', creationTimestamp: '' },
      involvedObject,
      reason,
      message,
      source: source.host ? { component: source.component, host: source.host } : { component: source.component },
      firstTimestamp: ctx.clock.timestamp(now),
      lastTimestamp: ctx.clock.timestamp(now),
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    },
    { adopt: true },
  );
}
