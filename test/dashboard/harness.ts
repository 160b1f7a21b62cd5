import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboard, type DashboardHandler } from '../../src/dashboard/index.js';
import type { DashboardOptions, DashboardTarget } from '../../src/dashboard/options.js';

/*
 * The dashboard on real HTTP: a node:http server on a free port, closed (streams first) by `close()`.
 */

export interface Served {
  url: string;
  dashboard: DashboardHandler;
  server: Server;
  close(): Promise<void>;
}

/** Serves `createDashboard(target, options)` on 127.0.0.1; `url` is its base URL with a trailing slash. */
export async function serveDashboard(target: DashboardTarget, options: DashboardOptions = {}): Promise<Served> {
  const dashboard = createDashboard(target, options);
  const server = createServer(dashboard);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${options.basePath ?? ''}/`,
    dashboard,
    server,
    async close() {
      await dashboard.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
