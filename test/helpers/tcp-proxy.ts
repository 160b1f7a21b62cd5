import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
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
  /**
   * From now on the response of each log follow (`GET …/log?…follow=true…`) reaches the client
   * only up to `afterBytes` bytes, then is held (the server sees a reader that stopped reading)
   * until `releaseLogFollows`; `undefined` holds no new ones and leaves those held as they are.
   */
  holdLogFollows(afterBytes: number | undefined): void;
  /** Lets every held follow go on, and holds no more. */
  releaseLogFollows(): void;
  /** Follow responses held at their `afterBytes` right now. */
  heldLogFollows(): number;
  /** Connections accepted so far. */
  connections(): number;
  /** Client connections open right now. */
  openConnections(): number;
  close(): Promise<void>;
}

/** Passes bytes through up to `limit`, then holds the rest (and with it, through backpressure, the sender). */
class Gate extends Transform {
  limit = Infinity;
  passed = 0;
  #held: (() => void) | undefined;

  get holding(): boolean {
    return this.#held !== undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const room = this.limit - this.passed;
    if (chunk.length <= room) {
      this.passed += chunk.length;
      callback(null, chunk);
      return;
    }
    if (room > 0) this.push(chunk.subarray(0, room));
    this.passed = this.limit;
    this.#held = () => callback(null, chunk.subarray(Math.max(room, 0)));
  }

  open(): void {
    this.limit = Infinity;
    const held = this.#held;
    this.#held = undefined;
    held?.();
  }
}

const logFollowRequest = /^GET \S*\/log\?\S*follow=true/m;

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  const silencers = new Set<() => void>();
  let mode: 'pass' | 'refuse' | 'silent' = 'pass';
  let accepted = 0;
  let holdFollowsAfter: number | undefined;
  const gates = new Set<Gate>();
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
    const gate = new Gate();
    gates.add(gate);
    client.on('data', (request: Buffer) => {
      if (holdFollowsAfter !== undefined && logFollowRequest.test(request.toString('latin1')))
        gate.limit = gate.passed + holdFollowsAfter;
    });
    client.pipe(upstream);
    upstream.pipe(gate).pipe(client);
    client.on('close', () => {
      upstream.destroy();
      gates.delete(gate);
    });
    upstream.on('close', () => client.destroy());
    const silence = (): void => {
      upstream.unpipe(gate);
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
    holdLogFollows: (afterBytes) => {
      holdFollowsAfter = afterBytes;
    },
    releaseLogFollows: () => {
      holdFollowsAfter = undefined;
      for (const gate of gates) gate.open();
    },
    heldLogFollows: () => [...gates].filter((gate) => gate.holding).length,
    connections: () => accepted,
    openConnections: () => clients.size,
    close: async () => {
      for (const socket of [...sockets]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
