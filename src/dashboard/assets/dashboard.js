// @ts-nocheck -- a browser module (the project's type-check has no DOM library); kept small and plain.
/* global document, window, location, fetch, EventSource, URL */
/*
 * k8s-jobs dashboard, progressive enhancement: the pages are complete without this script. With it,
 * a page that names an event stream (`<main data-events>`) listens to it: on a task's transition it
 * fetches the page's live region again (`?fragment=live`) and swaps it in; on a task page it also
 * tails the log. Served from the package; no library, no build step.
 */
const main = document.querySelector('main[data-events]');
if (main && 'EventSource' in window) {
  const live = document.getElementById('live');
  const health = document.getElementById('health');
  const log = document.getElementById('log');
  let pending = false;
  let again = false;

  // One fetch at a time; transitions arriving meanwhile cause one more fetch, not one each.
  const refresh = async () => {
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    try {
      const url = new URL(location.href);
      url.searchParams.set('fragment', 'live');
      const res = await fetch(url, { headers: { accept: 'text/html' } });
      if (res.ok) {
        const box = document.createElement('div');
        box.innerHTML = await res.text();
        const next = box.querySelector('#health-next');
        if (next && health) {
          health.replaceChildren(next.content.cloneNode(true));
          next.remove();
        }
        live.replaceChildren(...box.childNodes);
      }
    } finally {
      pending = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  };

  const atBottom = () => log && log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  const appendLog = (text) => {
    if (!log) return;
    const follow = atBottom();
    log.append(text);
    if (follow) log.scrollTop = log.scrollHeight;
  };

  const events = new EventSource(main.dataset.events);
  // Once listening (and after each reconnect), catch up on what changed since the page was drawn.
  events.addEventListener('open', () => void refresh());
  events.addEventListener('transition', () => void refresh());
  events.addEventListener('log-all', (e) => {
    if (log) log.textContent = JSON.parse(e.data);
  });
  events.addEventListener('log', (e) => appendLog(`${JSON.parse(e.data)}\n`));
  events.addEventListener('end', () => events.close());
  window.addEventListener('pagehide', () => events.close());
  document.documentElement.dataset.live = 'on';
}
