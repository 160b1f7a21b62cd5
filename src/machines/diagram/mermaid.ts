import type { AnyStateMachine, AnyStateNode } from 'xstate';

/*
 * Renders an XState v5 machine's definition (its state nodes, not a copy of its config) as a
 * Mermaid `stateDiagram-v2`. Pure and deterministic: the same machine always gives the same
 * text, so a README can embed it and a test can compare.
 */

/** Mermaid statement keywords a bare state id must not be mistaken for. */
const reservedIds = new Set([
  'state',
  'note',
  'direction',
  'end',
  'class',
  'classDef',
  'style',
  'click',
  'as',
  'left',
  'right',
  'of',
]);

/**
 * A Mermaid state id for a node: its path joined with `_`, anything but word characters replaced,
 * so ids stay unique across nested states and never contain the dots of XState ids.
 */
function mermaidId(node: AnyStateNode): string {
  const id = node.path.map((part) => part.replace(/\W/g, '_')).join('__') || 'root';
  return reservedIds.has(id) ? `${id}_` : id;
}

/**
 * Escapes a label for Mermaid: its grammar ends a transition label at `:` or `;`, `#` starts an
 * entity code, `"` ends a quoted name, and a label must stay on one line. Entity codes (`#58;`)
 * are decoded when Mermaid renders.
 */
function escapeLabel(text: string): string {
  return text.replace(/[#;:"]/g, (c) => `#${c.charCodeAt(0)};`).replace(/\s+/g, ' ');
}

/** A guard as written: its name, its params' values, and/or/not spelled out. */
function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const fn = guard as { name: string; guards?: unknown[]; stateValue?: unknown };
    if (fn.name === 'not' && fn.guards?.length === 1) return `!${guardLabel(fn.guards[0])}`;
    if ((fn.name === 'and' || fn.name === 'or') && fn.guards)
      return `(${fn.guards.map(guardLabel).join(` ${fn.name === 'and' ? '&&' : '||'} `)})`;
    if (fn.name === 'stateIn') return `in(${JSON.stringify(fn.stateValue)})`;
    return fn.name || 'guard';
  }
  if (typeof guard === 'object' && guard !== null && 'type' in guard) {
    const { type, params } = guard as { type: unknown; params?: unknown };
    const values =
      typeof params === 'object' && params !== null
        ? Object.values(params).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
        : [];
    return values.length > 0 ? `${String(type)}(${values.join(', ')})` : String(type);
  }
  return 'guard';
}

/**
 * XState's generated event types, in words: a delay, an invoke's done/error (named by its `src`,
 * as generated invoke ids like `0.door.open` say nothing), a child state's done.
 */
function eventLabel(
  eventType: string,
  delays: ReadonlyMap<string, string>,
  invokes: ReadonlyMap<string, string>,
): string {
  const delay = delays.get(eventType);
  if (delay !== undefined) return `after ${delay}`;
  const generated = /^xstate\.(done|error)\.(actor|state)\.(.+)$/.exec(eventType);
  if (generated?.[3])
    return `${(generated[2] === 'actor' && invokes.get(generated[3])) || generated[3]} ${generated[1]}`;
  if (eventType === '*') return 'any event';
  return eventType;
}

/** One transition per target (targetless transitions change no state and are left out). */
interface Edge {
  from: AnyStateNode;
  to: AnyStateNode;
  label: string;
}

function edgesOf(node: AnyStateNode): Edge[] {
  const delays = new Map<string, string>(
    node.after.map((t) => [
      t.eventType,
      typeof t.delay === 'number' ? `${t.delay}ms` : typeof t.delay === 'string' ? t.delay : 'delay',
    ]),
  );
  const invokes = new Map<string, string>(node.invoke.map((i) => [i.id, typeof i.src === 'string' ? i.src : i.id]));
  const labelled = [
    ...[...node.transitions.entries()].flatMap(([eventType, list]) =>
      list.map((t) => ({ t, event: eventLabel(eventType, delays, invokes) })),
    ),
    ...(node.always ?? []).map((t) => ({ t, event: 'always' })),
  ];
  return labelled.flatMap(({ t, event }) => {
    const label = t.guard === undefined ? event : `${event} [${guardLabel(t.guard)}]`;
    return (t.target ?? []).map((to) => ({ from: node, to, label }));
  });
}

function childrenOf(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states);
}

/**
 * The lines for the children of `node` (its scope): declarations, nested composites, the initial
 * arrow, transitions out of each child, and the arrows into `[*]` from final children.
 */
function scopeLines(node: AnyStateNode, indent: string): string[] {
  const lines: string[] = [];
  const children = childrenOf(node);
  if (node.type === 'parallel') {
    // Regions of a parallel state are separated by `--`; each region is its own composite.
    children.forEach((region, i) => {
      if (i > 0) lines.push(`${indent}--`);
      lines.push(...stateLines(region, indent));
    });
    return lines;
  }
  const initial = node.initial?.target ?? [];
  for (const target of initial) lines.push(`${indent}[*] --> ${mermaidId(target)}`);
  for (const child of children) lines.push(...stateLines(child, indent));
  for (const child of children) {
    for (const edge of edgesOf(child))
      lines.push(`${indent}${mermaidId(edge.from)} --> ${mermaidId(edge.to)} : ${escapeLabel(edge.label)}`);
    if (child.type === 'final') lines.push(`${indent}${mermaidId(child)} --> [*]`);
  }
  return lines;
}

/** A state's own lines: a display name when its id differs from its key, a composite block when it has children. */
function stateLines(node: AnyStateNode, indent: string): string[] {
  const id = mermaidId(node);
  const lines: string[] = [];
  if (id !== node.key || node.type === 'history') {
    const name = node.type === 'history' ? `${node.key} (history)` : node.key;
    lines.push(`${indent}state "${escapeLabel(name)}" as ${id}`);
  }
  if (childrenOf(node).length > 0) {
    lines.push(`${indent}state ${id} {`, ...scopeLines(node, `${indent}  `), `${indent}}`);
  } else if (lines.length === 0) {
    lines.push(`${indent}${id}`);
  }
  return lines;
}

/**
 * Renders a machine as a Mermaid `stateDiagram-v2`, walking `machine.root`: every state (nested
 * ones as composite states, parallel regions separated by `--`), each compound state's initial
 * state (`[*] -->`), final states (`--> [*]`), and every transition that has a target, labelled
 * with its event — `always` for eventless ones, `createJob done` / `createJob error` for an
 * invoke's done and error (named by its `src`), `after 500ms` for a delay — and `[guard]` when guarded. Ids are the
 * state paths joined with `__` (Mermaid ids cannot hold XState's dots); labels are escaped.
 *
 * @example
 * ```ts
 * import { createMachine } from 'xstate';
 * const light = createMachine({
 *   id: 'light',
 *   initial: 'green',
 *   states: { green: { on: { TIMER: 'red' } }, red: { type: 'final' } },
 * });
 * toMermaid(light);
 * // stateDiagram-v2
 * //   [*] --> green
 * //   green
 * //   red
 * //   green --> red : TIMER
 * //   red --> [*]
 * ```
 */
export function toMermaid(machine: AnyStateMachine): string {
  return ['stateDiagram-v2', ...scopeLines(machine.root, '  ')].join('\n') + '\n';
}
