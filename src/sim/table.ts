import type { ResourceStrategy, TableColumn } from './strategy.js';
import type { KubeObject } from './types.js';

/** kubectl's `translateTimestampSince` / `duration.HumanDuration`: 5s, 3m20s, 4h, 2d5h, 3y. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (days < 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

const nameColumn: TableColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description:
    'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  priority: 0,
  cell: (obj) => obj.metadata.name,
};

export const ageColumn: TableColumn = {
  name: 'Age',
  type: 'string',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
  priority: 0,
  cell: (obj, now) => humanDuration(now - Date.parse(obj.metadata.creationTimestamp)),
};

/**
 * A `meta.k8s.io/v1 Table`, what kubectl asks for with `Accept: …;as=Table;…`. `noHeaders` leaves
 * `columnDefinitions` null, as the apiserver does for every watch event after the first.
 */
export function toTable(
  strategy: ResourceStrategy,
  objects: KubeObject[],
  listMeta: Record<string, unknown>,
  now: number,
  includeObject: string | null,
  noHeaders = false,
): unknown {
  const columns = strategy.tableColumns ?? [nameColumn, ageColumn];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: noHeaders
      ? null
      : columns.map(({ name, type, format, description, priority }) => ({
          name,
          type,
          format: format ?? '',
          description,
          priority,
        })),
    rows: objects.map((obj) => ({
      cells: columns.map((c) => c.cell(obj, now)),
      object:
        includeObject === 'Object'
          ? {
              apiVersion: strategy.info.group
                ? `${strategy.info.group}/${strategy.info.version}`
                : strategy.info.version,
              kind: strategy.info.kind,
              ...obj,
            }
          : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata },
    })),
  };
}

export { nameColumn };
