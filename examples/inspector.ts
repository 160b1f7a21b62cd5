/**
 * Watch the runner's state machines (the supervisor, every task, every effect) in the Stately
 * Inspector, with nothing leaving this machine but the page's own UI.
 *
 *   KUBECONFIG=./kubeconfig npx tsx examples/inspector.ts [--no-wait] [--keep-open]
 *
 * It serves a page on http://127.0.0.1:8080 (`INSPECTOR_PORT`; 0 picks a free port), only on the
 * loopback interface. Open it in a browser on this machine: the page frames the inspector UI
 * from https://stately.ai/inspect (the UI's code comes from there), and hands it the events it
 * receives from this process over a local WebSocket with `postMessage` — the events themselves are
 * not sent to stately.ai or anywhere else. The runner redacts env values and log lines from what
 * the inspector sees. The tasks start once the page is connected (`--no-wait`: at once); the
 * process exits when they are done (`--keep-open`: stays until Ctrl+C, so you can look around).
 *
 * `@statelyai/inspect`'s own `createInspectorServer` is not used: it listens on every interface
 * and relays anything any client sends.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { WebSocket, WebSocketServer } from 'ws';
import { createRunner } from '../src/index.js';

const port = Number(process.env.INSPECTOR_PORT ?? 8080);
const waitForPage = !process.argv.includes('--no-wait');
const keepOpen = process.argv.includes('--keep-open');

/** The page: the inspector UI in a frame, fed from our socket (the same bridge `createInspectorServer` serves). */
const page = `<!DOCTYPE html>
<html><head><title>k8s-jobs inspector</title>
<style>* { margin: 0; padding: 0; } html, body, iframe { width: 100%; height: 100%; border: none; }</style></head>
<body><iframe id="inspector" src="https://stately.ai/inspect"></iframe>
<script>
  const frame = document.getElementById('inspector');
  const pending = [];
  let ready = false;
  // Only to the frame (whatever stately.ai serves it from), as @statelyai/inspect's own bridge does.
  const post = (data) => frame.contentWindow.postMessage(data, '*');
  window.addEventListener('message', (e) => {
    if (e.source === frame.contentWindow && e.data && e.data.type === '@statelyai.connected') {
      ready = true;
      pending.splice(0).forEach(post);
    }
  });
  const ws = new WebSocket('ws://' + location.host + '/viewer');
  ws.onmessage = (e) => { const data = JSON.parse(e.data); if (ready) post(data); else pending.push(data); };
</script></body></html>`;

/** An HTTP + WebSocket server on 127.0.0.1: the app sends on `/app`, pages listen on `/viewer`. */
async function startInspectorServer(listenPort: number) {
  const http = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page),
  );
  http.listen(listenPort, '127.0.0.1');
  await once(http, 'listening');
  const { port: actualPort } = http.address() as AddressInfo;
  const origins = new Set([`http://127.0.0.1:${actualPort}`, `http://localhost:${actualPort}`]);
  // A web page from anywhere may open a WebSocket to localhost: only our own page (or a non-browser client) may listen.
  const allowed = (req: IncomingMessage): boolean =>
    req.headers.origin === undefined || origins.has(req.headers.origin);
  const wss = new WebSocketServer({ server: http, verifyClient: ({ req }: { req: IncomingMessage }) => allowed(req) });
  const viewers = new Set<WebSocket>();
  const apps = new Set<WebSocket>();
  // Kept for pages opened late (the runner's early events register the actors the UI draws).
  const history: string[] = [];
  let viewerConnected: () => void = () => undefined;
  const firstViewer = new Promise<void>((resolve) => (viewerConnected = resolve));
  wss.on('connection', (socket, req) => {
    if (req.url === '/app') {
      apps.add(socket);
      socket.on('close', () => apps.delete(socket));
      socket.on('message', (data) => {
        // ws's default binaryType ('nodebuffer'): a message arrives as one Buffer.
        const message = (data as Buffer).toString('utf8');
        history.push(message);
        if (history.length > 5000) history.shift();
        for (const viewer of viewers) if (viewer.readyState === WebSocket.OPEN) viewer.send(message);
      });
    } else if (req.url === '/viewer') {
      viewers.add(socket);
      for (const message of history) socket.send(message);
      socket.on('close', () => viewers.delete(socket));
      viewerConnected();
    } else {
      socket.close(1008, 'unknown path');
    }
  });
  return {
    url: `http://127.0.0.1:${actualPort}/`,
    appUrl: `ws://127.0.0.1:${actualPort}/app`,
    firstViewer,
    /** Once the app closed its socket (every event it sent is relayed), closes the pages' sockets and the server. */
    async close(): Promise<void> {
      await Promise.all(
        [...apps].filter((socket) => socket.readyState !== WebSocket.CLOSED).map((socket) => once(socket, 'close')),
      );
      for (const socket of wss.clients) socket.close(1001, 'inspector closed');
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => http.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

const server = await startInspectorServer(port);
console.log(`Stately Inspector: open ${server.url} in a browser on this machine`);
// Events wait in the adapter until its socket is open: keep all of them, not the last 200.
const inspector = createWebSocketInspector({ url: server.appUrl, maxDeferredEvents: 100_000 });
try {
  if (waitForPage) {
    console.log('waiting for the page to connect (--no-wait to start at once)…');
    await server.firstViewer;
  }
  const runner = await createRunner({ namespace: 'default', store: 'memory://', inspect: inspector.inspect });
  try {
    const tasks = [
      { id: 'inspector-hello', image: 'busybox', command: ['echo', 'Hello from the inspector example'], timeout: 30 },
      { id: 'inspector-exit-3', image: 'busybox', command: ['sh', '-c', 'echo failing; exit 3'], timeout: 30 },
      {
        id: 'inspector-secret',
        image: 'busybox',
        // Succeeds only if the container got a value; the inspector shows "[redacted]" instead of it.
        command: ['sh', '-c', 'test -n "$API_TOKEN" && echo "got a token of ${#API_TOKEN} characters"'],
        env: [{ name: 'API_TOKEN', value: 'example-token-value' }],
        timeout: 30,
      },
    ];
    for (const task of tasks) await runner.addTask(task);
    for (const task of tasks) {
      const done = await runner.waitFor(task.id);
      console.log(
        `task ${done.id}: ${done.outcome}${done.failure ? ` (${done.failure.reason}, exit code ${done.failure.exitCode ?? '-'})` : ''}`,
      );
    }
  } finally {
    await runner.shutdown();
  }
  if (keepOpen) {
    console.log('done; Ctrl+C to exit');
    await once(process, 'SIGINT');
  }
} finally {
  // The inspector hands each event to its socket on a 0 ms timer: this one runs after the last of them.
  await new Promise((resolve) => setTimeout(resolve, 0));
  inspector.stop();
  await server.close();
}
