/**
 * The last hour as a small inline SVG: started, finished and failed tasks per minute as bars, the
 * queue depth as a line. Server-rendered (no chart library, nothing to load), with a text summary
 * for screen readers and the numbers of each minute in its tooltip.
 */
import { html, type Html } from './html.js';
import type { MinuteBucket } from './queue-stats.js';

const width = 720;
const height = 160;
const pad = { left: 36, right: 36, top: 10, bottom: 22 };

function niceMax(n: number): number {
  if (n <= 5) return 5;
  const step = 10 ** Math.floor(Math.log10(n));
  return Math.ceil(n / step) * step;
}

/** The chart of `buckets` (60 minutes, oldest first). */
export function lastHourChart(buckets: readonly MinuteBucket[]): Html {
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const barMax = niceMax(Math.max(0, ...buckets.map((b) => Math.max(b.started, b.finished + b.failed))));
  const depthMax = niceMax(Math.max(0, ...buckets.map((b) => b.queued)));
  const slot = plotW / Math.max(1, buckets.length);
  const y = (n: number, max: number): number => pad.top + plotH - (n / max) * plotH;
  const totals = buckets.reduce(
    (t, b) => ({ started: t.started + b.started, finished: t.finished + b.finished, failed: t.failed + b.failed }),
    { started: 0, finished: 0, failed: 0 },
  );
  const bars = buckets.map((b, i) => {
    const x = pad.left + i * slot;
    const w = Math.max(1, slot / 2 - 1);
    const time = new Date(b.start).toISOString().slice(11, 16);
    return html`<g
      ><title>${time} UTC: ${b.started} started, ${b.finished} finished, ${b.failed} failed, ${b.queued} queued</title
      ><rect
        class="bar-started"
        x="${x.toFixed(1)}"
        y="${y(b.started, barMax).toFixed(1)}"
        width="${w.toFixed(1)}"
        height="${(pad.top + plotH - y(b.started, barMax)).toFixed(1)}" /><rect
        class="bar-finished"
        x="${(x + w + 1).toFixed(1)}"
        y="${y(b.finished, barMax).toFixed(1)}"
        width="${w.toFixed(1)}"
        height="${(pad.top + plotH - y(b.finished, barMax)).toFixed(1)}" /><rect
        class="bar-failed"
        x="${(x + w + 1).toFixed(1)}"
        y="${y(b.finished + b.failed, barMax).toFixed(1)}"
        width="${w.toFixed(1)}"
        height="${(y(b.finished, barMax) - y(b.finished + b.failed, barMax)).toFixed(1)}"
    /></g>`;
  });
  const depth = buckets
    .map((b, i) => `${(pad.left + (i + 0.5) * slot).toFixed(1)},${y(b.queued, depthMax).toFixed(1)}`)
    .join(' ');
  const first = buckets[0]?.start ?? 0;
  const label = `Last hour: ${totals.started} started, ${totals.finished} finished, ${totals.failed} failed; queue depth now ${buckets.at(-1)?.queued ?? 0}`;
  return html`<figure class="chart">
    <svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}" class="chart-svg">
      <line class="axis" x1="${pad.left}" y1="${pad.top + plotH}" x2="${width - pad.right}" y2="${pad.top + plotH}" />
      <text class="tick" x="${pad.left - 4}" y="${pad.top + 8}" text-anchor="end">${barMax}</text>
      <text class="tick" x="${pad.left - 4}" y="${pad.top + plotH}" text-anchor="end">0</text>
      <text class="tick depth-tick" x="${width - pad.right + 4}" y="${pad.top + 8}">${depthMax}</text>
      <text class="tick" x="${pad.left}" y="${height - 6}">${new Date(first).toISOString().slice(11, 16)}</text>
      <text class="tick" x="${width - pad.right}" y="${height - 6}" text-anchor="end">now</text>
      ${bars}
      <polyline class="depth" points="${depth}" />
    </svg>
    <figcaption>
      ${label}. <span class="key key-started">started</span> <span class="key key-finished">finished</span>
      <span class="key key-failed">failed or timed out</span> <span class="key key-depth">queue depth</span> (per
      minute, UTC)
    </figcaption>
  </figure>`;
}
