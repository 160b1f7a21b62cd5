import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { createRunner } from '../../src/runner/create-runner.js';
import type { Runner } from '../../src/runner/runner-api.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { storeNamespace } from '../../src/store/layout.js';
import { openTaskStore } from '../../src/store/open-store.js';
import type { RunnerOptions } from '../../src/runner/options.js';
import { dropSchemas, postgresStoreUrl, randomSchema } from '../store/harnesses.js';
import { kubeConfigWithToken, rbacFromEnv } from './rbac-mode.js';
import {
  behaviourAnnotation,
  startSimulatedCluster,
  type ContainerBehaviour,
  type KubeObject,
  type SimulatedCluster,
  type SimulatedClusterOptions,
} from '../../src/sim/index.js';

/*
 * Shared harness of the engine tests: a simulated cluster (scripted runtime, 100× faster cluster
 * durations) and a real runner on it (SQLite store in a temp dir, small stuck graces so stuck
 * reasons resolve in about a second, a high client rate limit). Every test closes what it starts
 * with `close()`.
 */

/**
 * Stuck policy of the harness runner: short, but over one second, because graces run from the
 * pod's creationTimestamp, which has one-second resolution: only a grace longer than that
 * rounding is certain to end after the pod really appeared. The pending budget is the longest,
 * so each reason's own grace decides first.
 */
export const testStuckPolicy = {
  pendingBudgetMs: 2500,
  imagePullGraceMs: 1200,
  createContainerConfigGraceMs: 1200,
  crashLoopBackOffGraceMs: 1200,
} as const;

/** A running engine: the sim, a runner on it, and the store directory. */
export interface Engine {
  cluster: SimulatedCluster;
  runner: Runner;
  /** Temp directory holding the SQLite store (`store.sqlite`), removed by `close()`. */
  dir: string;
  /** The runner's store URL (`sqlite://<dir>/store.sqlite`; `memory://` or `postgres://…` by K8S_JOBS_TEST_STORE). */
  storeUrl: string;
  /** Opens the runner's store again (its file, or the same Map), e.g. to check it after shutdown. */
  openStore(): Promise<KeyvTaskStore>;
  /** The `store` option for another runner on the same store (after this one has shut down). */
  runnerStore(): string | Keyv;
  /** Shuts the runner down (`detach`, idempotent), closes the cluster, removes the temp dir. */
  close(): Promise<void>;
}

/** What `startEngine` accepts: overrides merged over the harness defaults. */
export interface EngineOptions {
  cluster?: SimulatedClusterOptions;
  /** Runner options; `kubeConfig`, `namespace` and `store` default to the sim's and a temp SQLite file. */
  runner?: RunnerOptions;
}

/** Starts a simulated cluster (scripted runtime, `timeScale: 0.01`) and a runner on it. */
export async function startEngine(options: EngineOptions = {}): Promise<Engine> {
  // K8S_JOBS_TEST_RBAC=deploy/rbac.yaml runs the runner as that Role's service account (rbac-mode.ts).
  const rbac = options.cluster?.rbac ?? (await rbacFromEnv());
  const cluster = await startSimulatedCluster({
    timeScale: 0.01,
    ...options.cluster,
    ...(rbac ? { rbac } : {}),
    kubelet: { runtime: 'scripted', ...options.cluster?.kubelet },
  });
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-engine-'));
  // K8S_JOBS_TEST_STORE=memory runs the suite on Keyv over a Map (the second adapter of issue 4).
  const memory = process.env.K8S_JOBS_TEST_STORE === 'memory' ? new Map<string, unknown>() : undefined;
  // K8S_JOBS_TEST_STORE=postgres runs it on the test PostgreSQL server, a schema per engine (dropped by close()).
  const schema = process.env.K8S_JOBS_TEST_STORE === 'postgres' ? randomSchema('k8s_jobs_engine') : undefined;
  const storeUrl = memory ? 'memory://' : schema ? postgresStoreUrl(schema) : `sqlite://${join(dir, 'store.sqlite')}`;
  const openStore = (): Promise<KeyvTaskStore> =>
    memory ? openTaskStore(new Keyv({ store: memory, namespace: storeNamespace })) : openTaskStore(storeUrl);
  const runnerStore = (): string | Keyv =>
    memory ? new Keyv({ store: memory, namespace: storeNamespace, throwOnErrors: true }) : storeUrl;
  let runner: Runner;
  try {
    runner = await createRunner({
      kubeConfig: rbac?.token ? kubeConfigWithToken(cluster, rbac.token) : cluster.kubeConfig,
      namespace: 'default',
      store: runnerStore(),
      // Start times have one-second resolution too: a second's grace lets Kubernetes' own
      // DeadlineExceeded reach the runner before its timer fires, as the default 2 s does.
      clientTimeoutGraceMs: 1000,
      // The default 20 QPS would make the runner's own limiter the slowest part of every test.
      rateLimit: { qps: 1000, burst: 100 },
      ...options.runner,
      stuck: { ...testStuckPolicy, ...options.runner?.stuck },
    });
  } catch (err) {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
    if (schema) await dropSchemas([schema]);
    throw err;
  }
  return {
    cluster,
    runner,
    dir,
    storeUrl,
    openStore,
    runnerStore,
    async close() {
      try {
        await runner.shutdown();
      } finally {
        await cluster.close();
        await rm(dir, { recursive: true, force: true });
        if (schema) await dropSchemas([schema]);
      }
    },
  };
}

/**
 * The `podTemplate` of a task whose container behaves as scripted (see `ContainerBehaviour`;
 * `durationMs: -1` runs until killed). Spread into a task: `{ id, image, ...behaviour({ exitCode: 3 }) }`.
 */
export function behaviour(
  script: ContainerBehaviour,
  podTemplate: Record<string, unknown> = {},
): { podTemplate: Record<string, unknown> } {
  const metadata = (podTemplate.metadata ?? {}) as { annotations?: Record<string, string> };
  return {
    podTemplate: {
      ...podTemplate,
      metadata: {
        ...metadata,
        annotations: { ...metadata.annotations, [behaviourAnnotation]: JSON.stringify(script) },
      },
    },
  };
}

/** Jobs in the sim created by a runner (label `app.kubernetes.io/managed-by=k8s-jobs`). */
export function ourJobs(cluster: SimulatedCluster): KubeObject[] {
  return cluster.objects('jobs').filter((job) => job.metadata.labels?.['app.kubernetes.io/managed-by'] === 'k8s-jobs');
}

/** How many times the sim accepted a Job with each name (the exactly-once audit). */
export function creationsByName(cluster: SimulatedCluster): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { name } of cluster.jobCreations()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}
