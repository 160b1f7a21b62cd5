import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createKubeAdapter } from '../../src/kube/kube-adapter.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';

let cluster: SimulatedCluster;
let proxy: Server;
/** TCP connections the client opened to the API server (through the counting proxy). */
let connections = 0;
let kubeConfig: KubeConfig;
const open = new Set<Socket>();

beforeAll(async () => {
  cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  const target = new URL(cluster.url);
  // A plain TCP relay in front of the sim: every connection the client opens passes here once.
  proxy = createServer((socket) => {
    connections += 1;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    open.add(socket).add(upstream);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(cluster.kubeConfig.exportConfig());
  kubeConfig.clusters = kubeConfig.clusters.map((c) => ({ ...c, server: `http://127.0.0.1:${String(address.port)}` }));
});
afterAll(async () => {
  // The client keeps its idle connection open (that is the point): end it so both servers can close.
  for (const socket of open) socket.destroy();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await cluster.close();
});

test('every API call of a runner reuses one keep-alive connection instead of opening its own', async () => {
  const kube = createKubeAdapter({ kubeConfig, namespace: 'default' });
  const before = connections;
  // One after the other: each call finds the previous one's socket free.
  for (let i = 0; i < 10; i++) {
    await kube.api.listJobs();
    expect(await kube.api.getJob(`missing-${String(i)}`)).toBeUndefined();
  }
  expect(connections - before).toBe(1);
  // The user's KubeConfig is read, not changed: the shared agent lives on a view of it.
  expect(Object.hasOwn(kubeConfig, 'createAgent')).toBe(false);
});
