/**
 * The runner's RxJS streams, on the cluster of your current kubeconfig (`KUBECONFIG` or
 * ~/.kube/config), with an in-memory store: one task printing three lines, followed through
 * `transitions$`, `task$`, `logs$` and `events$`.
 */
import { lastValueFrom } from 'rxjs';
import { createRunner } from '../src/index.js';

const runner = await createRunner({ store: 'memory://' });
try {
  // Every transition of every task: { taskId, from, to, event, at, outcome? }.
  runner.transitions$.subscribe((t) => console.log(`transition: ${t.taskId} ${t.from ?? '∅'} → ${t.to}`));
  // Runner-level events: orphan Jobs found at start, watch reconnects, throttling, API retries.
  runner.events$.subscribe((event) => console.log(`event: ${event.kind}`));

  await runner.addTask({
    id: 'count',
    image: 'busybox',
    command: ['sh', '-c', 'for i in 1 2 3; do echo "line $i"; sleep 0.2; done'],
  });
  // The log, line by line: live while the pod runs (a dropped connection resumes without repeats),
  // then what the stored final snapshot adds; completes once the task is cleaned up.
  const logs = runner.logs$('count').forEach((line) => console.log(`log: ${line}`));
  // The record now, then each change; completes after the `deleted` record.
  const final = await lastValueFrom(runner.task$('count'));
  await logs;
  console.log(`final: ${final.state}, ${final.outcome}`);
} finally {
  await runner.shutdown();
}
