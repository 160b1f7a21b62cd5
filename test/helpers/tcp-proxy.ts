import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigDocument } from '../../src/sim/cluster.js';

/**
 * A TCP proxy between the client and the simulated API server, for the faults a network makes
 * and a server cannot: connections cut mid-stream, refused, or left open in silence (a
 * half-open TCP connection: the client waits forever for bytes that never come).
 */
export interface TcpProxy {
  url: string;
  /** A kubeconfig pointing at the proxy. */
  kubeConfig: KubeConfig;
  /** Cuts every open connection (both sides). */
  dropAll(): void;
  /** `pass` forwards; `refuse` cuts new connections at once; `silent` accepts them and never answers. */
  setMode(mode: 'pass' | 'refuse' | 'silent'): void;
  /** From now on nothing the server sends on the open connections reaches the client, and they stay open. */
  silenceOpen(): void;
  /** Connections accepted so far. */
  connections(): number;
  /** Client connections open right now. */
  openConnections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  const silencers = new Set<() => void>();
  let mode: 'pass' | 'refuse' | 'silent' = 'pass';
  let accepted = 0;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    accepted += 1;
    track(client);
    clients.add(client);
    client.on('close', () => clients.delete(client));
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    if (mode === 'silent') {
      client.resume();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    const silence = (): void => {
      upstream.unpipe(client);
      upstream.removeAllListeners('close');
      upstream.resume();
    };
    silencers.add(silence);
    client.on('close', () => silencers.delete(silence));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(JSON.stringify(kubeconfigDocument(url, 'proxy-token')));
  return {
    url,
    kubeConfig,
    dropAll: () => {
      for (const socket of [...sockets]) socket.destroy();
    },
    setMode: (next) => {
      mode = next;
    },
    silenceOpen: () => {
      for (const silence of [...silencers]) silence();
      silencers.clear();
    },
    connections: () => accepted,
    openConnections: () => clients.size,
    close: async () => {
      for (const socket of [...sockets]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
