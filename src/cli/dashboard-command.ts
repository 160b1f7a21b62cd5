import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, Option } from 'commander';
import { reportErrors } from './fail.js';
import { parsePort, untilSignal } from './options.js';
import { openStoreForReading, storeOption } from './store-option.js';

/** Options of `k8s-jobs dashboard`. */
export interface DashboardCommandOptions {
  store: string;
  port: number;
  host: string;
}

/** The URL a browser opens for a server bound to `host:port` (an IPv6 address in brackets). */
export function dashboardUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

/**
 * Serves the dashboard over the store at `options.store`, opened read-only (it works while a runner
 * uses the store, and changes nothing), until SIGINT/SIGTERM; prints its URL first. A store that
 * cannot be opened fails at once, before anything listens.
 */
export async function runDashboard(options: DashboardCommandOptions): Promise<void> {
  const store = await openStoreForReading(options.store);
  const { createDashboard } = await import('../dashboard/index.js');
  const dashboard = createDashboard({ store }, { title: `k8s-jobs · ${options.store}` });
  const server = createServer(dashboard);
  try {
    server.listen(options.port, options.host);
    await once(server, 'listening');
  } catch (err) {
    await store.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  console.log(`k8s-jobs dashboard (read-only) of ${options.store}: ${dashboardUrl(options.host, port)}`);
  console.log('Press Ctrl+C to stop.');
  await untilSignal();
  await dashboard.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await store.close();
}

/** `k8s-jobs dashboard [--store URL] [--port N] [--host H]`. */
export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description("serve a read-only web dashboard of a store's tasks (works while a runner uses it)")
    .addOption(storeOption())
    .addOption(new Option('--port <n>', 'TCP port; 0 picks a free one').argParser(parsePort).default(0))
    .addOption(
      new Option('--host <host>', 'the address to listen on (0.0.0.0: every interface, reachable by others)').default(
        '127.0.0.1',
      ),
    )
    .addHelpText(
      'after',
      [
        '',
        'Read-only: no actions, no live updates (reload to refresh). For a live dashboard with actions, mount',
        'createDashboard({ runner }) from k8s-jobs/dashboard in your application (docs/dashboard.md).',
        '',
        'Exit codes: 0 stopped by SIGINT/SIGTERM, 1 the store cannot be read or the port is taken.',
      ].join('\n'),
    )
    .action(reportErrors((options: DashboardCommandOptions) => runDashboard(options)));
}
