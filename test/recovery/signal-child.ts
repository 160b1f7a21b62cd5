/**
 * A runner process for the signal tests (`signals.test.ts`): a real runner on a SQLite file,
 * against the simulated cluster living in the test process, with `shutdownOnSignals` installed.
 * Run bundled (`test/helpers/test-entries.ts`) as `node <bundle> <config.json>`.
 * It adds the configured tasks, prints `{"event":"running"}` once every one is `running`, then
 * waits: the parent's signal shuts it down (and the helper's default exits the process). It
 * prints one JSON line per signal received and per `shutdownDetached` event.
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createRunner } from '../../src/runner/create-runner.js';
import { shutdownOnSignals } from '../../src/runner/shutdown-on-signals.js';
import { behaviourAnnotation } from '../../src/sim/runtime-scripted.js';
import { testStuckPolicy } from '../engine/harness.js';

/** The child's configuration (a JSON file, its only argument). */
export interface SignalChildConfig {
  kubeconfigPath: string;
  storeUrl: string;
  /** The drain's bound. */
  timeoutMs: number;
  /** Tasks to add, each running `durationMs` real ms. */
  tasks: { id: string; durationMs: number }[];
}

/** A line the child prints. */
export type SignalChildMessage =
  | { event: 'running' }
  | { event: 'signal'; signal: string }
  | { event: 'shutdownDetached'; reason: string; remaining: string[] }
  | { event: 'error'; message: string };

function say(message: SignalChildMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) throw new Error('usage: signal-child.ts <config.json>');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as SignalChildConfig;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(config.kubeconfigPath);
  const runner = await createRunner({
    kubeConfig,
    namespace: 'default',
    store: config.storeUrl,
    maxConcurrentJobs: config.tasks.length,
    clientTimeoutGraceMs: 1000,
    rateLimit: { qps: 1000, burst: 100 },
    stuck: testStuckPolicy,
  });
  runner.events$.subscribe((e) => {
    if (e.kind === 'shutdownDetached') say({ event: 'shutdownDetached', reason: e.reason, remaining: e.remaining });
  });
  // Installed first, so each signal is reported before the helper acts on it.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => say({ event: 'signal', signal }));
  shutdownOnSignals(runner, { mode: 'drain', timeoutMs: config.timeoutMs });
  const running = new Set<string>();
  const allRunning = new Promise<void>((resolve) => {
    runner.transitions$.subscribe((t) => {
      if (t.to === 'running') running.add(t.taskId);
      if (running.size === config.tasks.length) resolve();
    });
  });
  for (const task of config.tasks) {
    await runner.addTask({
      id: task.id,
      image: 'busybox',
      podTemplate: {
        metadata: { annotations: { [behaviourAnnotation]: JSON.stringify({ durationMs: task.durationMs }) } },
      },
    });
  }
  await allRunning;
  say({ event: 'running' });
}

main().catch((err: unknown) => {
  say({ event: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  process.exit(1);
});
