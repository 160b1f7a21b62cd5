/**
 * A task's timeline drawn to scale: one band per state it passed through (queued → creating →
 * running → … → deleted), as long as it stayed there, from its transitions' times; a task not yet
 * `deleted` runs up to now. A step that stays in its state (a retry inside `running`: the Job
 * replaced a disrupted pod) is no new band but a tick on the band it falls in. The exact times are
 * in the table beside it (`task-page.ts`).
 */
import type { Transition } from '../types.js';
import { formatDuration } from './format.js';
import { html, type Html } from './html.js';

const width = 720;
const height = 64;
const pad = 8;

/** One stretch of the timeline. */
interface Band {
  state: string;
  from: number;
  to: number;
}

/** A step that did not change the state (from === to), drawn as a tick. */
interface Tick {
  at: number;
  label: string;
}

const staysPut = (t: Transition): boolean => t.from !== undefined && t.from === t.to;

function bandsOf(transitions: readonly Transition[], now: number): Band[] {
  // Only steps that change the state start a band; a band lasts until the next such step.
  const changes = transitions.filter((t) => !staysPut(t));
  return changes.map((t, i) => {
    const from = Date.parse(t.at);
    const next = changes[i + 1];
    const to = next ? Date.parse(next.at) : t.to === 'deleted' ? from : Math.max(from, now);
    return { state: t.to, from, to };
  });
}

function ticksOf(transitions: readonly Transition[]): Tick[] {
  return transitions
    .filter(staysPut)
    .map((t) => ({ at: Date.parse(t.at), label: t.retry ? `retry (${t.retry.reason})` : t.event }));
}

/** The timeline of `transitions` (oldest first), to `now` while the task is not deleted. */
export function timelineSvg(transitions: readonly Transition[], now: number): Html {
  const bands = bandsOf(transitions, now);
  const ticks = ticksOf(transitions);
  const start = bands[0]?.from ?? now;
  const end = Math.max(start + 1, ...bands.map((b) => b.to));
  const scale = (width - 2 * pad) / (end - start);
  const x = (t: number): number => pad + (t - start) * scale;
  const total = formatDuration(end - start);
  const rects = bands.map((band, i) => {
    const w = Math.max(2, (band.to - band.from) * scale);
    // Labels alternate above and below the band so short neighbours do not overwrite each other.
    const labelY = i % 2 === 0 ? 14 : height - 4;
    // Near the right edge a label ends where its band starts, so it is not cut off.
    const nearEnd = x(band.from) > width * 0.85;
    const labelX = nearEnd ? Math.min(width - pad, x(band.from) + w) : x(band.from);
    const anchor = nearEnd ? 'end' : 'start';
    return html`<g class="band state-${band.state}"
      ><title>${band.state}: ${formatDuration(band.to - band.from)} (from ${new Date(band.from).toISOString()})</title
      ><rect x="${x(band.from).toFixed(1)}" y="20" width="${w.toFixed(1)}" height="24" rx="2" /><text
        x="${labelX.toFixed(1)}"
        y="${labelY}"
        text-anchor="${anchor}"
        >${band.state}</text
      ></g
    >`;
  });
  const marks = ticks.map(
    (tick) =>
      html`<g class="tick"
        ><title>${tick.label} at ${new Date(tick.at).toISOString()}</title
        ><line x1="${x(tick.at).toFixed(1)}" x2="${x(tick.at).toFixed(1)}" y1="16" y2="48"
      /></g>`,
  );
  const tickText = ticks.length ? `; ${ticks.map((t) => t.label).join(', ')}` : '';
  return html`<svg
    viewBox="0 0 ${width} ${height}"
    class="timeline-svg"
    role="img"
    aria-label="Timeline to scale, ${total} in all: ${bands.map((b) => `${b.state} ${formatDuration(b.to - b.from)}`).join(', ')}${tickText}"
  >
    ${rects} ${marks}
  </svg>`;
}
