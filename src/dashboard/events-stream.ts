/**
 * Server-Sent Events for one page: `transition` events from the runner's `transitions$` (only the
 * task's, on a task page), and on a task page its log — `log-all` (the log so far) once, then one
 * `log` per live line from `logs$`. Every subscription ends when the request closes; the open
 * streams are counted so a test (and `close()`) can see none is left behind.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { filter, type Subscription } from 'rxjs';
import type { DashboardSource } from './source.js';

/** Seconds between two keep-alive comments (proxies close idle connections). */
const keepAliveMs = 15_000;

/** The open streams of one dashboard. */
export class EventStreams {
  readonly #open = new Set<() => void>();

  /** How many streams are open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Serves one stream of `source`'s live events, for task `taskId` or for every task. */
  serve(source: DashboardSource, req: IncomingMessage, res: ServerResponse, taskId: string | undefined): void {
    const live = source.live;
    if (!live) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const subscriptions: Subscription[] = [];
    const transitions = taskId ? live.transitions$.pipe(filter((t) => t.taskId === taskId)) : live.transitions$;
    subscriptions.push(
      transitions.subscribe({ next: (t) => send('transition', t), complete: () => send('end', 'runner closed') }),
    );
    if (taskId) this.#tailLog(source, taskId, send, subscriptions);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    res.write(': open\n\n');
    const end = (): void => {
      if (!this.#open.delete(end)) return;
      clearInterval(keepAlive);
      for (const s of subscriptions) s.unsubscribe();
      res.end();
    };
    this.#open.add(end);
    req.on('close', end);
    res.on('close', end);
  }

  /** The log so far, then live lines; lines that arrived before the log so far was read are in it. */
  #tailLog(
    source: DashboardSource,
    taskId: string,
    send: (event: string, data: unknown) => void,
    subscriptions: Subscription[],
  ): void {
    const live = source.live;
    if (!live) return;
    let ready = false;
    subscriptions.push(
      live.logs$(taskId).subscribe({
        next: (line) => {
          if (ready) send('log', line);
        },
        // A log that cannot be followed (the task is gone, the API refuses) leaves the stored log shown.
        error: () => send('log-end', 'unavailable'),
        complete: () => send('log-end', 'complete'),
      }),
    );
    source.getLog(taskId).then(
      (text) => {
        ready = true;
        send('log-all', text);
      },
      () => {
        ready = true;
      },
    );
  }

  /** Ends every open stream (so a server's `close()` is not held by them). */
  closeAll(): void {
    for (const end of [...this.#open]) end();
  }
}
