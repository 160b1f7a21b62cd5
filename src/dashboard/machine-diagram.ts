/**
 * The task machine's diagram as an inline SVG with the task's state highlighted. Drawn from the
 * same machine-derived definition as the README's Mermaid diagram (`toMermaid(taskMachine)`, see
 * `scripts/diagram.ts`): its states and transitions are parsed from that text, so the picture can
 * never disagree with the machine. Laid out in layers (longest path from the initial state, back
 * edges drawn as arcs), computed once.
 */
import { toMermaid } from '../machines/diagram/mermaid.js';
import { taskMachine } from '../machines/task/task-machine.js';
import { html, type Html } from './html.js';

/** The task machine's graph: states in declaration order, one edge per (from, to) with its labels. */
export interface MachineGraph {
  initial: string;
  states: string[];
  edges: Array<{ from: string; to: string; labels: string[] }>;
}

/** Parses the top-level states and transitions of a Mermaid `stateDiagram-v2` (as `toMermaid` writes it). */
export function parseMermaid(text: string): MachineGraph {
  const states: string[] = [];
  const edges = new Map<string, { from: string; to: string; labels: string[] }>();
  let initial = '';
  for (const line of text.split('\n').slice(1)) {
    if (!/^ {2}\S/.test(line)) continue; // nested states are not drawn (the task machine has none)
    const arrow = /^\s+(\S+) --> (\S+)(?: : (.*))?$/.exec(line);
    if (arrow) {
      const [, from = '', to = '', label = ''] = arrow;
      if (from === '[*]') initial = to;
      else if (to !== '[*]') {
        const key = `${from}>${to}`;
        const edge = edges.get(key) ?? { from, to, labels: [] };
        edge.labels.push(label.replace(/#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))));
        edges.set(key, edge);
      }
      continue;
    }
    const bare = /^\s+(\w+)$/.exec(line);
    if (bare?.[1]) states.push(bare[1]);
  }
  return { initial, states, edges: [...edges.values()] };
}

/** Each state's layer: the longest path to it from the initial state, back edges (found by DFS) ignored. */
function layersOf(graph: MachineGraph): Map<string, number> {
  const out = new Map<string, string[]>();
  for (const e of graph.edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  const back = new Set<string>();
  const onPath = new Set<string>();
  const seen = new Set<string>();
  const dfs = (s: string): void => {
    seen.add(s);
    onPath.add(s);
    for (const t of out.get(s) ?? []) {
      if (onPath.has(t)) back.add(`${s}>${t}`);
      else if (!seen.has(t)) dfs(t);
    }
    onPath.delete(s);
  };
  dfs(graph.initial);
  const layer = new Map<string, number>(graph.states.map((s) => [s, 0]));
  // Longest path by relaxation: the forward edges form a DAG, so states-many rounds suffice.
  for (let round = 0; round < graph.states.length; round++) {
    for (const e of graph.edges) {
      if (back.has(`${e.from}>${e.to}`)) continue;
      const next = (layer.get(e.from) ?? 0) + 1;
      if (next > (layer.get(e.to) ?? 0)) layer.set(e.to, next);
    }
  }
  return layer;
}

const nodeW = 92;
const nodeH = 28;
const colGap = 44;
const rowGap = 16;

interface Placed {
  x: number;
  y: number;
}

function layout(graph: MachineGraph): { pos: Map<string, Placed>; width: number; height: number } {
  const layers = layersOf(graph);
  const rows = new Map<number, number>();
  const pos = new Map<string, Placed>();
  for (const state of graph.states) {
    const col = layers.get(state) ?? 0;
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    pos.set(state, { x: 10 + col * (nodeW + colGap), y: 10 + row * (nodeH + rowGap) });
  }
  const cols = Math.max(...layers.values()) + 1;
  const maxRows = Math.max(...rows.values());
  return { pos, width: 20 + cols * (nodeW + colGap) - colGap, height: 20 + maxRows * (nodeH + rowGap) - rowGap };
}

const graph = parseMermaid(toMermaid(taskMachine));
const placed = layout(graph);

/** The task machine's diagram, `current` highlighted (and named for screen readers). */
export function machineDiagram(current: string): Html {
  const { pos, width, height } = placed;
  const edges = graph.edges.map((e) => {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) return '';
    const forward = b.x > a.x;
    const [x1, y1] = forward ? [a.x + nodeW, a.y + nodeH / 2] : [a.x + nodeW / 2, a.y + nodeH];
    const [x2, y2] = forward ? [b.x, b.y + nodeH / 2] : [b.x + nodeW / 2, b.y + nodeH];
    const bend = forward
      ? `C ${x1 + colGap / 2} ${y1}, ${x2 - colGap / 2} ${y2}`
      : `C ${x1} ${y1 + 30}, ${x2} ${y2 + 30}`;
    const active = e.from === current ? ' edge-out' : '';
    return html`<path class="edge${active}" d="M ${x1} ${y1} ${bend}, ${x2} ${y2}" marker-end="url(#arrow)"
      ><title>${e.from} → ${e.to}: ${e.labels.join('; ')}</title></path
    >`;
  });
  const nodes = graph.states.map((state) => {
    const p = pos.get(state) ?? { x: 0, y: 0 };
    const isCurrent = state === current;
    return html`<g class="node${isCurrent ? ' node-current' : ''}" data-state="${state}"
      ><rect x="${p.x}" y="${p.y}" width="${nodeW}" height="${nodeH}" rx="6" /><text
        x="${p.x + nodeW / 2}"
        y="${p.y + nodeH / 2 + 4}"
        text-anchor="middle"
        >${state}</text
      ></g
    >`;
  });
  return html`<svg
    viewBox="0 0 ${width} ${height + 30}"
    class="machine-svg"
    role="img"
    aria-label="The task machine's states and transitions; this task is in ${current}"
  >
    <defs>
      <marker
        id="arrow"
        viewBox="0 0 10 10"
        refX="10"
        refY="5"
        markerWidth="6"
        markerHeight="6"
        orient="auto-start-reverse"
      >
        <path d="M 0 0 L 10 5 L 0 10 z" />
      </marker>
    </defs>
    ${edges} ${nodes}
  </svg>`;
}
