/**
 * Prometheus metrics: a runner (on the cluster of your current kubeconfig, state in
 * ./k8s-jobs.sqlite) whose `runner.metrics` registry is served on
 * http://127.0.0.1:$PORT/metrics (default port 9464). It runs two tasks, one that succeeds and one
 * that fails, then keeps serving until you press Enter (or stdin closes, or Ctrl-C).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRunner } from '../src/index.js';

const runner = await createRunner({ namespace: 'default' });
const server = createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  runner.metrics.metrics().then(
    (text) => res.writeHead(200, { 'content-type': runner.metrics.contentType }).end(text),
    (err: unknown) => res.writeHead(500).end(String(err)),
  );
});
server.listen(Number(process.env.PORT ?? 9464), '127.0.0.1');
await once(server, 'listening');
console.log(`metrics: http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);

/** Resolves on a line or the end of stdin, or on SIGINT/SIGTERM. */
function untilAskedToStop(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.stdin.off('data', stop).off('end', stop).destroy();
      process.off('SIGINT', stop).off('SIGTERM', stop);
      resolve();
    };
    process.stdin.on('data', stop).on('end', stop).resume();
    process.on('SIGINT', stop).on('SIGTERM', stop);
  });
}

try {
  await runner.addTask({ id: 'metrics-hello', image: 'busybox', command: ['echo', 'hello'], timeout: 60 });
  await runner.addTask({ id: 'metrics-fails', image: 'busybox', command: ['sh', '-c', 'exit 3'], timeout: 60 });
  for (const id of ['metrics-hello', 'metrics-fails']) {
    const done = await runner.waitFor(id);
    console.log(`task ${id}: ${done.outcome}`);
  }
  console.log('tasks done; serving metrics until Enter, end of input or Ctrl-C');
  await untilAskedToStop();
} catch (err) {
  console.error('Failed:', err);
  process.exitCode = 1;
} finally {
  server.close();
  // A scraper's keep-alive connection would hold the process open for seconds.
  server.closeAllConnections();
  await runner.shutdown();
}
