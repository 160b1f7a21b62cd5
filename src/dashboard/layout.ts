/**
 * The page shell every dashboard page shares: head (our own stylesheet and script, nothing from
 * elsewhere), the header with the runner's health, and the `#live` region the client script
 * replaces when the page's data changes.
 */
import type { RunnerHealth } from '../runner/health.js';
import { html, type Html } from './html.js';

/** What every page knows besides its own content. */
export interface PageContext {
  /** The dashboard's base path, without a trailing slash (`''` at the root). */
  base: string;
  title: string;
  /** Where the data comes from (for the header). */
  sourceLabel: string;
  health: RunnerHealth | undefined;
  /** The page's event stream (live dashboards only). */
  eventsUrl?: string;
}

function healthBar(health: RunnerHealth | undefined, sourceLabel: string): Html {
  if (!health) {
    return html`<p class="health health-readonly">
      Read-only view of <code>${sourceLabel}</code>: no runner here, so no health and no live updates (reload to
      refresh).
    </p>`;
  }
  const leader = health.leader
    ? html`<li>leader: ${health.leader.leading ? 'this replica' : health.leader.holder || 'none'}</li>`
    : '';
  return html`<ul class="health health-${health.status}" aria-label="Runner health">
    <li><strong>health: ${health.status}</strong></li>
    <li>watch: ${health.watch.state} since ${health.watch.since.slice(11, 19)}</li>
    <li>store: ${health.store.writable ? 'writable' : `failing (${health.store.lastError ?? 'write failed'})`}</li>
    <li>queue: ${health.queue.depth}/${health.queue.capacity}</li>
    <li>active: ${health.active}/${health.maxConcurrentJobs}</li>
    ${leader}
  </ul>`;
}

/** The whole HTML document of a page whose `#live` region is `live` (`before` above it, `after` below). */
export function page(
  ctx: PageContext,
  heading: string,
  live: Html,
  parts: { before?: Html; after?: Html } = {},
): string {
  return `<!doctype html>${
    html`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${heading} · ${ctx.title}</title>
        <link rel="stylesheet" href="${ctx.base}/assets/dashboard.css" />
        <script type="module" src="${ctx.base}/assets/dashboard.js"></script>
      </head>
      <body>
        <header>
          <p class="brand"><a href="${ctx.base}/">${ctx.title}</a></p>
          <div id="health" role="status">${healthBar(ctx.health, ctx.sourceLabel)}</div>
        </header>
        <main ${ctx.eventsUrl ? html`data-events="${ctx.eventsUrl}"` : ''}>
          <h1>${heading}</h1>
          ${parts.before}
          <div id="live">${live}</div>
          ${parts.after}
        </main>
      </body>
    </html>`.text
  }`;
}

/** The `#live` region alone (what the client script fetches with `?fragment=live`), health included. */
export function fragment(ctx: PageContext, live: Html): string {
  return html`<template id="health-next">${healthBar(ctx.health, ctx.sourceLabel)}</template>${live}`.text;
}
