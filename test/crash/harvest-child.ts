/**
 * The process the harvest-retry crash test kills: a real runner on a SQLite file, against the
 * simulated cluster living in the test process, whose final log reads fail. Run bundled
 * (`test/helpers/test-entries.ts`) as `node <bundle> <config.json>`; prints
 * JSON lines (`HarvestChildMessage`): its transitions, its `logsLost` events, the final record.
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createRunner } from '../../src/runner/create-runner.js';
import { behaviourAnnotation } from '../../src/sim/runtime-scripted.js';
import type { RunnerEvent } from '../../src/runner/runner-events.js';
import type { TaskRecord, TaskState } from '../../src/types.js';

/** What the parent passes (a JSON file). */
export interface HarvestChildConfig {
  kubeconfigPath: string;
  storePath: string;
  taskId: string;
  /** Add the task (first run), else only wait for it (a restart). */
  add: boolean;
  logLines: string[];
  harvestRetryLimitMs: number;
}

/** The JSON lines the child prints. */
export type HarvestChildMessage =
  | { event: 'ready'; pid: number }
  | { event: 'transition'; id: string; from: TaskState | null; to: TaskState; at: string }
  | { event: 'runnerEvent'; runnerEvent: RunnerEvent }
  | { event: 'record'; record: TaskRecord }
  | { event: 'error'; message: string };

function say(message: HarvestChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) throw new Error('usage: harvest-child.ts <config.json>');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as HarvestChildConfig;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(config.kubeconfigPath);
  const runner = await createRunner({
    kubeConfig,
    namespace: 'default',
    store: `sqlite://${config.storePath}`,
    rateLimit: { qps: 1000, burst: 100 },
    // One attempt per read: every failed read is the harvest's own to retry.
    retry: { maxAttempts: 1, baseDelayMs: 50, maxDelayMs: 300 },
    logs: { harvestRetryLimitMs: config.harvestRetryLimitMs, snapshotIntervalMs: 600_000 },
  });
  runner.transitions$.subscribe((t) => say({ event: 'transition', id: t.taskId, from: t.from, to: t.to, at: t.at }));
  runner.events$.subscribe((e) => {
    if (e.kind === 'logsLost') say({ event: 'runnerEvent', runnerEvent: e });
  });
  say({ event: 'ready', pid: process.pid });
  if (config.add) {
    const script = { durationMs: 50, logs: config.logLines };
    await runner.addTask({
      id: config.taskId,
      image: 'busybox',
      podTemplate: { metadata: { annotations: { [behaviourAnnotation]: JSON.stringify(script) } } },
    });
  }
  const stored = await runner.getTask(config.taskId);
  const record = stored.state === 'deleted' ? stored : await runner.waitFor(config.taskId);
  say({ event: 'record', record });
  await runner.shutdown();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say({ event: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    process.exit(1);
  },
);
