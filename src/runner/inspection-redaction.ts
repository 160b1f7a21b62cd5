import type { ActorRefLike, AnyActor, AnyEventObject, InspectionEvent } from 'xstate';

/** What a redacted value is replaced with in what a user's inspector sees. */
export const redactedValue = '[redacted]';

/**
 * Keys whose arrays hold a container's own output (log lines): a container may print what it
 * read from a Secret, so the inspector never sees them (the record and `getLogs` still have them).
 */
const containerOutputKeys = new Set(['lastLines', 'lastLogLines']);

/** XState's marker in an actor's JSON form (`Actor.toJSON`). */
const actorJsonType = 1;

/**
 * A read-only view of an actor for a user's inspector: identity, definition and a redacted
 * snapshot, but not the actor itself, whose `options.input`, `system` and private state would
 * hand out the task's spec unredacted.
 */
export interface InspectedActorRef extends ActorRefLike {
  readonly id: string;
  readonly sessionId: string;
  readonly systemId: string | undefined;
  /** The actor's logic (a definition: no task data). */
  readonly logic: unknown;
  readonly src: unknown;
  /** The parent's view (`@statelyai/inspect` reads `_parent.sessionId`). */
  readonly _parent: InspectedActorRef | undefined;
  /** The actor's current snapshot, redacted. */
  getSnapshot(): unknown;
  /** Forwards to the actor (sending reveals nothing). */
  send(event: AnyEventObject): void;
  /** What XState's own actors serialize to (a reference by id). */
  toJSON(): { xstate$$type: number; id: string };
}

/**
 * Makes the redacted copy of an inspection event that a user's inspector sees; the live event,
 * snapshots and actors are not touched.
 *
 * Redacted: every `value` of an `env` list (a task's `spec.env`, env lists inside a `podTemplate`
 * patch or a Job manifest, wherever they are); log lines (`lastLines`, `lastLogLines`); `cause`
 * of errors. Secret references (`valueFrom.secretKeyRef`, `envFrom`) stay: they are names, not
 * values. Actor refs (the event's `actorRef`/`sourceRef`, a snapshot's `children`, an actor's
 * parent) become {@link InspectedActorRef} views, one per actor, so identity comparisons still
 * work; a view's `id` is the actor's system id when it has one (a task actor: `task:<task id>`).
 * Objects of other classes become their `toJSON()` (the supervisor's queue is a summary of ids),
 * or a `[ClassName]` placeholder. Unchanged subtrees are shared, not copied.
 *
 * A redactor keeps a view per actor (weakly); make one per runner.
 */
export function createInspectionRedactor(): (event: InspectionEvent) => InspectionEvent {
  const views = new WeakMap<object, InspectedActorRef>();

  const viewOf = (ref: AnyActor): InspectedActorRef => {
    const known = views.get(ref);
    if (known) return known;
    // A task actor shows as its system id (`task:<task id>`): its id in the supervisor's children is
    // one of a reused few (`src/machines/supervisor/child-ids.ts`), which would say nothing here.
    const shownId = (): string => ref.systemId ?? ref.id;
    const view: InspectedActorRef = {
      get id() {
        return shownId();
      },
      get sessionId() {
        return ref.sessionId;
      },
      get systemId() {
        return ref.systemId;
      },
      get logic(): unknown {
        return ref.logic as unknown;
      },
      get src(): unknown {
        return ref.src;
      },
      get _parent() {
        return ref._parent ? viewOf(ref._parent as AnyActor) : undefined;
      },
      getSnapshot: () => redact(ref.getSnapshot(), undefined, new Set()),
      send: (event) => ref.send(event),
      toJSON: () => ({ xstate$$type: actorJsonType, id: shownId() }),
    };
    views.set(ref, view);
    return view;
  };

  /** `stack` holds the objects being copied, so a cycle ends in a marker instead of a stack overflow. */
  const redact = (value: unknown, key: string | undefined, stack: Set<object>): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    if (stack.has(value)) return '[circular]';
    stack.add(value);
    try {
      if (Array.isArray(value)) return redactArray(value, key, stack);
      if (isActorRef(value)) return viewOf(value);
      if (isMachineSnapshot(value)) return redactMachineSnapshot(value, stack);
      if (value instanceof Error) return redactError(value, stack);
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) return redactRecord(value as Record<string, unknown>, stack);
      if (value instanceof Map) return redactRecord(Object.fromEntries(value as Map<string, unknown>), stack);
      if (value instanceof Set) return redactArray([...value], key, stack);
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return redact((toJSON as () => unknown).call(value), key, stack);
      return `[${value.constructor.name}]`;
    } finally {
      stack.delete(value);
    }
  };

  const redactArray = (items: readonly unknown[], key: string | undefined, stack: Set<object>): unknown[] => {
    if (key !== undefined && containerOutputKeys.has(key)) return items.map(() => redactedValue);
    const envList = key === 'env';
    let changed = false;
    const copy = items.map((item) => {
      const next =
        envList && isRecord(item) && 'value' in item
          ? { ...redactRecord(item, stack), value: redactedValue }
          : redact(item, undefined, stack);
      if (next !== item) changed = true;
      return next;
    });
    return changed ? copy : (items as unknown[]);
  };

  const redactRecord = (record: Record<string, unknown>, stack: Set<object>): Record<string, unknown> => {
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(record)) {
      const next = redact(v, k, stack);
      if (next === v) continue;
      copy ??= { ...record };
      copy[k] = next;
    }
    return copy ?? record;
  };

  /**
   * The definition parts (`machine`, `_nodes`, `historyValue`, `tags`) and methods are shared: they hold no task data.
   */
  const redactMachineSnapshot = (snapshot: MachineSnapshotLike, stack: Set<object>): MachineSnapshotLike => ({
    ...snapshot,
    context: redact(snapshot.context, 'context', stack),
    children: redact(snapshot.children, 'children', stack),
    output: redact(snapshot.output, 'output', stack),
    error: redact(snapshot.error, 'error', stack),
  });

  const redactError = (error: Error, stack: Set<object>): Record<string, unknown> => {
    // Own enumerable fields are the structured ones (`code`, `statusCode`...); `cause` is not enumerable and is
    // dropped.
    const fields = redactRecord({ ...error }, stack);
    return { ...fields, name: error.name, message: error.message };
  };

  return (event) => {
    // `_transitions` (microsteps) are the machine's transition definitions: static, shared as they are.
    const { _transitions: transitions, ...rest } = event as InspectionEvent & { _transitions?: unknown };
    const copy = redactRecord(rest, new Set());
    return (transitions === undefined ? copy : { ...copy, _transitions: transitions }) as unknown as InspectionEvent;
  };
}

interface MachineSnapshotLike {
  context: unknown;
  children: unknown;
  output: unknown;
  error: unknown;
  machine: unknown;
  _nodes: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isActorRef(value: object): value is AnyActor {
  const candidate = value as Partial<AnyActor>;
  return (
    typeof candidate.sessionId === 'string' &&
    typeof candidate.getSnapshot === 'function' &&
    typeof candidate.send === 'function'
  );
}

function isMachineSnapshot(value: object): value is MachineSnapshotLike {
  return 'machine' in value && '_nodes' in value && 'context' in value;
}
