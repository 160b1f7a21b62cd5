import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobNameFor } from '../../src/jobs/job-name.js';
import { createRunner } from '../../src/runner/create-runner.js';
import type { Runner } from '../../src/runner/runner-api.js';
import type { RunnerOptions } from '../../src/runner/options.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { openTaskStore } from '../../src/store/open-store.js';
import type { TaskRecord, TaskState, Transition } from '../../src/types.js';
import { parseTaskSpec } from '../../src/validation/parse.js';
import type { TaskInput } from '../../src/validation/task-spec.js';
import { testStuckPolicy } from '../engine/harness.js';

/*
 * Recovery tests: one simulated cluster and one SQLite file per test, and any number of runners
 * started on that file one after the other (the previous one shut down with `detach`, as a
 * process that stops without cleaning up leaves things). `close()` shuts down whatever is still
 * running, closes the cluster and removes the file.
 */

/** A cluster, a store file, and the runners started on it. */
export interface Recovery {
  cluster: SimulatedCluster;
  storeUrl: string;
  /** Starts a runner on the store file (harness defaults under `options`). */
  start(options?: RunnerOptions): Promise<Runner>;
  /** Writes a task straight into the store (no runner may be running): the state a crashed runner left. */
  seed(
    task: TaskInput,
    state: TaskState,
    extra?: Partial<TaskRecord> & { context?: Record<string, unknown>; seq?: number },
  ): Promise<TaskRecord>;
  close(): Promise<void>;
}

/** Starts the sim (scripted runtime, `timeScale: 0.01`) and makes a temp store file. */
export async function startRecovery(): Promise<Recovery> {
  const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-recovery-'));
  const storeUrl = `sqlite://${join(dir, 'store.sqlite')}`;
  const runners: Runner[] = [];
  return {
    cluster,
    storeUrl,
    async start(options = {}) {
      const runner = await createRunner({
        kubeConfig: cluster.kubeConfig,
        namespace: 'default',
        store: storeUrl,
        clientTimeoutGraceMs: 1000,
        rateLimit: { qps: 1000, burst: 100 },
        ...options,
        stuck: { ...testStuckPolicy, ...options.stuck },
      });
      runners.push(runner);
      return runner;
    },
    async seed(task, state, { context, seq = 0, ...fields } = {}) {
      const spec = parseTaskSpec(task);
      const record: TaskRecord = {
        id: spec.id,
        spec,
        state,
        jobName: jobNameFor(spec.id),
        createdAt: new Date().toISOString(),
        ...fields,
      };
      const store = await openTaskStore(storeUrl);
      try {
        const added: Transition = { taskId: spec.id, from: null, to: 'queued', event: 'ADD', at: record.createdAt };
        await store.saveTask({ ...record, state: 'queued' }, added, { queue: { priority: spec.priority ?? 0, seq } });
        if (state !== 'queued') {
          const moved: Transition = {
            taskId: spec.id,
            from: 'queued',
            to: state,
            event: 'SEED',
            at: new Date().toISOString(),
          };
          await store.saveTask(record, moved, context ? { context } : {});
        }
      } finally {
        await store.close();
      }
      return record;
    },
    async close() {
      try {
        for (const runner of runners) await runner.shutdown();
      } finally {
        await cluster.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
