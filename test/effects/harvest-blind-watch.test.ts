import { afterAll, beforeAll, expect, test } from 'vitest';
import { createActor, toPromise } from 'xstate';
import { createTaskEffects } from '../../src/effects/task-effects.js';
import { createKubeAdapter, type KubeAdapter } from '../../src/kube/kube-adapter.js';
import type { JobObserver } from '../../src/ports/job-observer.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import type { KeyvTaskStore } from '../../src/store/keyv-task-store.js';
import { openTaskStore } from '../../src/store/open-store.js';
import { jobFinished, runJob } from '../helpers/job-inputs.js';

/*
 * Found by the fault soak (docs/fault-soak.md): a Job that completes while the runner's pod watch
 * is down (dropped, or relisting after a 410) is seen complete through the Job watch, with no pod
 * yet. The final harvest must not take that for "no pod left": it lists the pods itself.
 */

let cluster: SimulatedCluster;
let kube: KubeAdapter;
let store: KeyvTaskStore;
beforeAll(async () => {
  cluster = await startSimulatedCluster({
    timeScale: 0.01,
    kubelet: { runtime: 'scripted', script: () => ({ logs: ['first line', 'last line'] }) },
  });
  kube = createKubeAdapter({
    kubeConfig: cluster.kubeConfig,
    namespace: 'default',
    retry: { baseMs: 5, maxMs: 50 },
    rateLimit: { qps: 1000, burst: 1000 },
  });
  await kube.watcher.start();
  store = await openTaskStore('memory://');
});
afterAll(async () => {
  await kube.watcher.stop();
  await store.close();
  await cluster.close();
});

/** The shared watch as it is while its pod stream is down: the Job's view, without its pods. */
function blindToPods(observer: JobObserver): JobObserver {
  return {
    observe: (jobName, listener) => observer.observe(jobName, (o) => listener({ ...o, pods: [] })),
    current: (jobName) => {
      const o = observer.current(jobName);
      return o && { ...o, pods: [] };
    },
    events: (jobName, signal) => observer.events(jobName, signal),
    ready: () => observer.ready(),
    created: (jobName) => observer.created(jobName),
  };
}

test('harvestLogs reads the final log when the watch shows the Job complete but none of its pods', async () => {
  const input = await runJob(kube, 'blind-harvest', jobFinished);
  const effects = createTaskEffects({ jobs: kube.jobs, observer: blindToPods(kube.watcher), store });
  const out = await toPromise(
    createActor(effects.harvestLogs, { input: { taskId: input.taskId, jobName: input.jobName } }).start(),
  );
  const snapshot = await store.getLogSnapshot(input.taskId);
  expect(snapshot).toMatchObject({ final: true, text: 'first line\nlast line\n' });
  expect(snapshot?.unavailable).toBeUndefined();
  expect(out).toEqual({ lastLines: ['first line', 'last line'] });
});
