import { ApiError } from './api-error.js';
import { Backoff } from './backoff.js';
import type { ContainerLog } from './container-logs.js';
import { strategyFor, type SimContext } from './context.js';
import { ImagePuller, type ImagePattern } from './image-puller.js';
import type { NodeServices } from './node-services.js';
import { PodWorker } from './pod-worker.js';
import { deleteObject } from './rest.js';
import type { ContainerRuntime } from './runtime.js';
import type { KubeObject, StoreEvent } from './types.js';
import { WorkQueue } from './work-queue.js';

/** kubelet's container restart back-off: 10 s doubling to MaxContainerBackOff (300 s). */
const restartBackoffInitialMs = 10_000;
const restartBackoffMaxMs = 300_000;

/** The node's identity, runtime and image rules, resolved from `KubeletOptions`. */
export interface NodeAgentOptions {
  nodeName: string;
  hostIP: string;
  runtime: ContainerRuntime;
  unpullableImages: readonly ImagePattern[];
  throttledImages: readonly ImagePattern[];
  pullLatencyMs: number;
  startLatencyMs: number;
  containerLogMaxSize: number;
  containerLogMaxFiles: number;
  allocatable: NodeServices['allocatable'];
}

/** Pod IPs from 10.244.0.0/16, handed out round-robin (as host-local IPAM) and reused once free. */
class PodIpAllocator {
  readonly #inUse = new Set<number>();
  #next = 2;

  allocate(): string {
    for (let tries = 0; tries < 65_533; tries++) {
      const n = this.#next;
      this.#next = n >= 65_534 ? 2 : n + 1;
      if (n % 256 === 0 || n % 256 === 255 || this.#inUse.has(n)) continue;
      this.#inUse.add(n);
      return `10.244.${n >> 8}.${n & 255}`;
    }
    throw new Error('pod IP range 10.244.0.0/16 exhausted');
  }

  release(ip: string): void {
    const [, , hi = '0', lo = '0'] = ip.split('.');
    this.#inUse.delete(Number(hi) * 256 + Number(lo));
  }
}

/**
 * The kubelet's pod manager and status manager: a {@link PodWorker} per pod bound to the node
 * (found from store events, never by scanning), status writes coalesced per turn of the event
 * loop, and the pods' logs until their objects are gone.
 */
export class NodeAgent {
  readonly #ctx: SimContext;
  readonly #workers = new Map<string, PodWorker>();
  readonly #dirty = new Set<string>();
  #flushScheduled = false;
  readonly #syncs: WorkQueue;
  readonly #services: NodeServices;
  readonly #runtime: ContainerRuntime;
  readonly #unsubscribe: () => void;
  #stopped = false;

  constructor(ctx: SimContext, options: NodeAgentOptions) {
    this.#ctx = ctx;
    this.#runtime = options.runtime;
    const clusterNow = () => ctx.clock.now() / ctx.clock.timeScale;
    const sleep = (clusterMs: number) =>
      clusterMs <= 0 ? Promise.resolve() : new Promise<void>((resolve) => ctx.clock.afterScaled(clusterMs, resolve));
    const ips = new PodIpAllocator();
    this.#syncs = new WorkQueue({
      clock: ctx.clock,
      handle: (uid) => {
        const worker = this.#workers.get(uid);
        if (worker) worker.sync().catch((err: unknown) => this.#report(uid, err));
      },
      onError: (uid, err) => this.#report(uid, err),
    });
    this.#services = {
      ctx,
      nodeName: options.nodeName,
      hostIP: options.hostIP,
      runtime: options.runtime,
      images: new ImagePuller({
        unpullable: options.unpullableImages,
        throttled: options.throttledImages,
        pullLatencyMs: options.pullLatencyMs,
        clusterNow,
        sleep,
      }),
      restarts: new Backoff(restartBackoffInitialMs, restartBackoffMaxMs),
      startLatencyMs: options.startLatencyMs,
      containerLogMaxSize: options.containerLogMaxSize,
      containerLogMaxFiles: options.containerLogMaxFiles,
      allocatable: options.allocatable,
      clusterNow,
      sleep,
      allocatePodIP: () => ips.allocate(),
      releasePodIP: (ip) => ips.release(ip),
      statusChanged: (uid) => this.#markDirty(uid),
      flushStatus: (uid) => {
        this.#dirty.delete(uid);
        this.#writeStatus(uid);
      },
      deleteWithoutGrace: (pod) => this.#deleteWithoutGrace(pod),
      requestSync: (uid) => this.#syncs.add(uid),
    };
    for (const pod of ctx.store.list('pods')) this.#observe(pod);
    this.#unsubscribe = ctx.store.subscribe((event) => this.#onEvent(event));
  }

  /** The log of container instance `containerID` of pod `uid`, while the pod exists. */
  log(uid: string, containerID: string): ContainerLog | undefined {
    return this.#workers.get(uid)?.log(containerID);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe();
    this.#syncs.stop();
    for (const worker of this.#workers.values()) worker.dispose();
    this.#workers.clear();
    await this.#runtime.close();
  }

  #report(uid: string, err: unknown): void {
    process.emitWarning(`kubelet: syncing pod ${uid} failed: ${err instanceof Error ? err.stack : String(err)}`);
  }

  #onEvent(event: StoreEvent): void {
    if (event.resource !== 'pods') return;
    if (event.type === 'DELETED') {
      const worker = this.#workers.get(event.object.metadata.uid);
      worker?.dispose();
      this.#workers.delete(event.object.metadata.uid);
      this.#dirty.delete(event.object.metadata.uid);
      return;
    }
    this.#observe(event.object);
  }

  #observe(pod: KubeObject): void {
    const existing = this.#workers.get(pod.metadata.uid);
    if (existing) {
      existing.update(pod);
      return;
    }
    if (pod.spec?.nodeName !== this.#services.nodeName) return;
    // A pod that finished before this kubelet saw it has nothing left to run.
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const worker = new PodWorker(this.#services, pod);
    this.#workers.set(pod.metadata.uid, worker);
    this.#markDirty(pod.metadata.uid);
    worker.update(pod);
    this.#syncs.add(pod.metadata.uid);
  }

  #markDirty(uid: string): void {
    this.#dirty.add(uid);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#ctx.clock.afterReal(0, () => {
      this.#flushScheduled = false;
      if (this.#stopped) return;
      const uids = [...this.#dirty];
      this.#dirty.clear();
      for (const uid of uids) this.#writeStatus(uid);
    });
  }

  #writeStatus(uid: string): void {
    const worker = this.#workers.get(uid);
    if (!worker) return;
    const { namespace, name } = worker.pod.metadata;
    // Only the status is replaced: no need to copy the rest of the pod.
    this.#ctx.store.mutate(
      'pods',
      namespace,
      name,
      (pod) => {
        if (pod.metadata.uid !== uid) return false;
        pod.status = worker.status(pod);
      },
      { shallow: true },
    );
  }

  #deleteWithoutGrace(pod: KubeObject): void {
    try {
      deleteObject(this.#ctx, strategyFor(this.#ctx, 'pods'), pod.metadata.namespace, pod.metadata.name, {
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      });
    } catch (err) {
      // Already gone, or replaced by a pod of the same name: nothing of ours is left to delete.
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
      throw err;
    }
  }
}
