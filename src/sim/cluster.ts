import { writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { bearerTokenAuthenticator } from './authentication.js';
import { SimClock } from './clock.js';
import { configMapStrategy, secretStrategy } from './config-strategies.js';
import type { SimContext } from './context.js';
import type { Controller } from './controller.js';
import { startCompactor } from './compactor.js';
import { discoveryHandler } from './discovery.js';
import { startEventTtl } from './event-ttl.js';
import { eventStrategy } from './events.js';
import { FaultInjector, type FaultOptions } from './faults.js';
import { startGarbageCollector } from './garbage-collector.js';
import { startJobController, type JobControllerOptions } from './job-controller.js';
import { startNamespaceController } from './namespace-controller.js';
import { startTtlAfterFinishedController } from './ttl-after-finished.js';
import { startKubelet, type KubeletOptions } from './kubelet.js';
import { leaseStrategy } from './leases.js';
import { limitRangeStrategy } from './limit-range.js';
import { accessReviewCreator, selfSubjectAccessReviewStrategy } from './access-review.js';
import { logSubresource } from './logs.js';
import { openApiHandler, unknownFieldValidator } from './openapi.js';
import { rbacHook, type RbacOptions } from './rbac.js';
import { jobStrategy } from './job-strategy.js';
import { namespaceStrategy } from './namespaces.js';
import { ObjectStore } from './object-store.js';
import { podStrategy } from './pod-strategy.js';
import { startQuotaController } from './quota-controller.js';
import { resourceQuotaStrategy } from './resource-quota.js';
import { ApiServer, type RequestHook, type SubresourceHandler } from './server.js';
import { RequestLog, type JobCreationRecord, type RequestRecord, type SimStats } from './stats.js';
import type { ResourceStrategy } from './strategy.js';
import type { KubeObject } from './types.js';

/** How `startSimulatedCluster` sets the cluster up; every field is optional. */
export interface SimulatedClusterOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * Multiplies every duration the cluster chooses (back-offs, pulls, grace periods, bookmarks).
   * 1 = Kubernetes' real durations (default); 0.01 runs them 100× faster for tests.
   * @default 1
   */
  timeScale?: number;
  /**
   * At most this many changes are kept for watches to resume from (the apiserver's watch cache
   * capacity); a resume from before them gets 410 Gone. @default 10000
   */
  watchHistorySize?: number;
  /**
   * Every this many cluster ms (scaled by `timeScale`) the watch history is compacted to the
   * resourceVersion seen at the previous compaction, as kube-apiserver's
   * `--etcd-compaction-interval` does: a watch can resume from one to two intervals back, and
   * gets 410 Gone from older. 0 never compacts (the history is then bounded by
   * `watchHistorySize` alone).
   * @default 300000
   */
  compactionIntervalMs?: number;
  /**
   * How long an Event lives after its last write (create, or an aggregated update), in cluster
   * ms (scaled), as kube-apiserver's `--event-ttl`; then it is deleted. 0 keeps Events forever.
   * @default 3600000
   */
  eventTtlMs?: number;
  /** Interval between watch bookmarks, in cluster ms (scaled). @default 60000 */
  bookmarkIntervalMs?: number;
  /**
   * What `requests()` keeps: a number keeps the latest that many requests (older ones are
   * dropped, so a long-lived cluster's memory stays bounded); `true` keeps every request, for a
   * test that asserts on the whole of a long run; `false` none. `stats()` counts every request
   * whatever this says.
   * @default 10000
   */
  recordRequests?: boolean | number;
  /**
   * What `jobCreations()` keeps: `true` every Job the API server ever accepted (an exactly-once
   * check needs the whole trail), a number the latest that many, `false` none (a long-lived
   * cluster nobody audits). `stats().jobsCreated` counts every creation whatever this says.
   * @default true
   */
  auditJobCreations?: boolean | number;
  /** Bearer token clients must present (else `401 Unauthorized`, on every path); undefined accepts any request. */
  token?: string;
  /** Namespaces that exist at start, besides `default`, `kube-system` and `kube-public`. */
  namespaces?: string[];
  /** The node, scheduler, image pulls and container runtime. */
  kubelet?: KubeletOptions;
  jobController?: JobControllerOptions;
  /** Faults active from the start (change them later through `cluster.faults`). */
  faults?: FaultOptions;
  /** Enforce a Role-like allow-list: requests outside it get 403 Forbidden. */
  rbac?: RbacOptions;
}

/** A running simulated cluster. */
export interface SimulatedCluster {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** A client-node KubeConfig pointing at this cluster (context `k8s-jobs-sim`, namespace `default`). */
  kubeConfig: KubeConfig;
  /** Writes a kubeconfig file usable by `kubectl --kubeconfig FILE`. */
  writeKubeconfig(path: string): Promise<void>;
  /** Request counts by verb and resource, open watches, object counts. */
  stats(): SimStats;
  /** The requests so far, in arrival order: the latest `recordRequests` of them (10,000 by default). */
  requests(): readonly RequestRecord[];
  /** Every Job the API server ever accepted, for exactly-once checks (as `auditJobCreations` bounds it). */
  jobCreations(): readonly JobCreationRecord[];
  /** Fault injection, changeable at run time. */
  faults: FaultInjector;
  /** Direct, read-only access to stored objects (copies), for assertions. */
  objects(
    resource: 'jobs' | 'pods' | 'events' | 'namespaces' | 'leases' | 'resourcequotas' | 'limitranges',
    namespace?: string,
  ): KubeObject[];
  /**
   * Calls `listener` synchronously with every change the API server stores, in resourceVersion
   * order (what etcd would see) — for assertions that must not depend on a client's watch, e.g.
   * "at no instant were more than 5 Jobs unfinished". Returns the unsubscribe function.
   */
  onChange(listener: (change: ClusterChange) => void): () => void;
  /**
   * Stops every controller and the kubelet (and its containers), drops open watches and closes the server. Idempotent.
   */
  close(): Promise<void>;
}

/** One stored change, as `onChange` reports it (objects are the stored copies: do not mutate). */
export interface ClusterChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: string;
  object: KubeObject;
  /** ms since epoch when the change was stored. */
  at: number;
}

const kubeconfigUser = 'k8s-jobs-sim';

/** A kubeconfig document (as YAML-ready JSON) for a cluster at `url`. */
export function kubeconfigDocument(url: string, token: string, namespace = 'default'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'k8s-jobs-sim', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: kubeconfigUser, user: { token } }],
    contexts: [{ name: 'k8s-jobs-sim', context: { cluster: 'k8s-jobs-sim', user: kubeconfigUser, namespace } }],
    'current-context': 'k8s-jobs-sim',
    preferences: {},
  };
}

/** Wiring shared by `startSimulatedCluster` and the parts that plug into it. */
export interface ClusterParts {
  ctx: SimContext;
  log: RequestLog;
  hooks: RequestHook[];
  subresources: Map<string, SubresourceHandler>;
  controllers: Controller[];
}

export function createContext(options: SimulatedClusterOptions): SimContext {
  const clock = new SimClock(options.timeScale ?? 1);
  const store = new ObjectStore(clock, { historySize: options.watchHistorySize });
  const strategies = new Map<string, ResourceStrategy>(
    [
      namespaceStrategy,
      eventStrategy,
      jobStrategy,
      podStrategy,
      configMapStrategy,
      secretStrategy,
      leaseStrategy,
      resourceQuotaStrategy,
      limitRangeStrategy,
      selfSubjectAccessReviewStrategy,
    ].map((s) => [s.info.resource, s]),
  );
  for (const strategy of strategies.values()) {
    for (const [field, valueOf] of Object.entries(strategy.fieldIndexes ?? {})) {
      store.addIndex(strategy.info.resource, field, valueOf);
    }
  }
  const ctx: SimContext = {
    store,
    clock,
    strategies,
    openWatches: new Set(),
    openLogStreams: new Set(),
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
  };
  for (const ns of ['default', 'kube-system', 'kube-public', ...(options.namespaces ?? [])]) {
    store.create('namespaces', {
      metadata: {
        name: ns,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        labels: { 'kubernetes.io/metadata.name': ns },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }
  return ctx;
}

/** The cluster's token, and the restricted user's token of RBAC mode beside it; undefined accepts any request. */
function authenticator(options: SimulatedClusterOptions): ((req: IncomingMessage) => boolean) | undefined {
  if (options.token === undefined) return undefined;
  const accepts = [options.token, options.rbac?.token].filter((t) => t !== undefined).map(bearerTokenAuthenticator);
  return (req) => accepts.some((accept) => accept(req));
}

/**
 * Starts a simulated Kubernetes API server on 127.0.0.1 that the real `@kubernetes/client-node`
 * and the real `kubectl` talk to unchanged.
 *
 * @example
 * ```ts
 * import { startSimulatedCluster } from 'k8s-jobs/sim';
 * const cluster = await startSimulatedCluster({ timeScale: 0.01 });
 * const batch = cluster.kubeConfig.makeApiClient(BatchV1Api);
 * // ... run your code against it ...
 * await cluster.close();
 * ```
 */
export async function startSimulatedCluster(options: SimulatedClusterOptions = {}): Promise<SimulatedCluster> {
  const ctx = createContext(options);
  const log = new RequestLog({ requests: options.recordRequests, jobCreations: options.auditJobCreations });
  const parts: ClusterParts = { ctx, log, hooks: [], subresources: new Map(), controllers: [] };
  const faults = new FaultInjector(ctx, options.faults);
  // Pods come from the job controller as much as from clients: count them where they are stored.
  const countPods = ctx.store.subscribe((change) => {
    if (change.resource === 'pods' && change.type === 'ADDED') log.podsCreated++;
  });
  if (options.rbac) parts.hooks.push(rbacHook(options.rbac));
  parts.hooks.push(faults.hook);
  const kubelet = startKubelet(ctx, options.kubelet);
  parts.controllers.push(
    startJobController(ctx, options.jobController),
    startTtlAfterFinishedController(ctx),
    startGarbageCollector(ctx),
    startNamespaceController(ctx),
    startQuotaController(ctx),
    startCompactor(ctx, options.compactionIntervalMs),
    startEventTtl(ctx, options.eventTtlMs),
    kubelet,
    faults,
  );
  parts.subresources.set('pods/log', logSubresource(ctx, kubelet));
  const api = new ApiServer({
    ctx,
    log,
    hooks: parts.hooks,
    subresources: parts.subresources,
    nonResource: [discoveryHandler(ctx), openApiHandler(ctx)],
    fieldValidator: unknownFieldValidator,
    virtualCreates: new Map([['selfsubjectaccessreviews', accessReviewCreator(options.rbac)]]),
    authenticate: authenticator(options),
    onCreated: (resource, obj) => {
      if (resource !== 'jobs') return;
      log.jobCreated({
        at: Date.now(),
        namespace: obj.metadata.namespace ?? '',
        name: obj.metadata.name,
        uid: obj.metadata.uid,
        labels: { ...(obj.metadata.labels ?? {}) },
        annotations: { ...(obj.metadata.annotations ?? {}) },
      });
    },
  });
  const url = await api.listen(options.port ?? 0);
  const token = options.token ?? 'k8s-jobs-sim-token';
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(JSON.stringify(kubeconfigDocument(url, token)));

  let closed = false;
  return {
    url,
    kubeConfig,
    faults,
    async writeKubeconfig(path) {
      await writeFile(path, toYaml(kubeconfigDocument(url, token)), { mode: 0o600 });
    },
    stats() {
      const requests = Object.fromEntries(log.counts);
      return {
        requests,
        totalRequests: [...log.counts.values()].reduce((a, b) => a + b, 0),
        openWatches: ctx.openWatches.size,
        openLogStreams: ctx.openLogStreams.size,
        jobsCreated: log.jobsCreated,
        podsCreated: log.podsCreated,
        objects: { jobs: ctx.store.count('jobs'), pods: ctx.store.count('pods'), events: ctx.store.count('events') },
      };
    },
    requests: () => log.records.toArray(),
    jobCreations: () => log.jobCreations.toArray(),
    objects: (resource, namespace) => ctx.store.list(resource, namespace),
    onChange: (listener) =>
      ctx.store.subscribe((event) =>
        listener({ type: event.type, resource: event.resource, object: event.object, at: Date.now() }),
      ),
    async close() {
      if (closed) return;
      closed = true;
      countPods();
      for (const controller of parts.controllers) await controller.stop();
      for (const watch of [...ctx.openWatches]) watch.drop();
      for (const follow of [...ctx.openLogStreams]) follow.drop();
      ctx.clock.stopAll();
      await api.close();
    },
  };
}
