import { afterEach, expect, test } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { redactedValue, type InspectedActorRef } from '../../src/runner/inspection-redaction.js';
import type { ContainerScript, KubeObject } from '../../src/sim/index.js';
import { startEngine, type Engine } from './harness.js';

const envSecret = 's3cr3t-value';
const patchSecret = 'p4tch-s3cr3t';
const secrets = [envSecret, patchSecret];

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** A task whose env and podTemplate patch both carry a secret value; its container prints one (see `script`). */
function secretTask(id: string, exitCode: number) {
  return {
    id,
    image: 'busybox:1.36',
    command: ['sh', '-c', 'echo "token is $TOKEN"'],
    annotations: { 'test.k8s-jobs.io/exit-code': String(exitCode) },
    env: [
      { name: 'TOKEN', value: envSecret },
      { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
    ],
    podTemplate: {
      spec: {
        initContainers: [{ name: 'init', image: 'busybox:1.36', env: [{ name: 'API_KEY', value: patchSecret }] }],
        containers: [
          {
            name: 'task',
            image: 'busybox:1.36',
            command: ['sh', '-c', 'echo "token is $TOKEN"'],
            env: [
              { name: 'TOKEN', value: envSecret },
              { name: 'API_KEY', value: patchSecret },
            ],
          },
        ],
      },
    },
  };
}

/** The sim's containers: `task` prints its TOKEN (as the command says) and exits with the annotated code. */
const script: ContainerScript = (pod, container) => {
  if (container.name !== 'task') return {};
  const token =
    (container.env as { name: string; value?: string }[] | undefined)?.find((e) => e.name === 'TOKEN')?.value ?? '';
  return {
    exitCode: Number(pod.metadata.annotations?.['test.k8s-jobs.io/exit-code'] ?? 0),
    logs: [`token is ${token}`],
  };
};

/**
 * Every string reachable from a value (own properties, getters included, and what `getSnapshot()`
 * of any actor-like object returns). `seen` is shared across calls: definitions reached from many
 * events are walked once.
 */
function reachableStrings(root: unknown, seen: Set<object>, out: string[]): void {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      out.push(value);
      continue;
    }
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
    seen.add(value);
    if (typeof value === 'function') continue;
    if (value instanceof Map || value instanceof Set) pending.push(...value.entries());
    const getSnapshot = (value as { getSnapshot?: unknown }).getSnapshot;
    if (typeof getSnapshot === 'function' && typeof (value as { sessionId?: unknown }).sessionId === 'string') {
      try {
        pending.push((getSnapshot as () => unknown).call(value));
      } catch {
        // XState refuses while the actor is being constructed (its `@xstate.actor` event): nothing to read.
      }
    }
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (!descriptor) continue;
      pending.push('value' in descriptor ? descriptor.value : descriptor.get?.call(value));
    }
  }
}

test('a user inspector sees the supervisor, every task and its effects, with env values, patch secrets and log lines redacted, while the Job ran with them', async () => {
  const received: { event: InspectionEvent; json: string }[] = [];
  const seen = new Set<object>();
  const reachable: string[] = [];
  engine = await startEngine({
    cluster: { kubelet: { script } },
    runner: {
      cleanup: { keepJobs: true },
      inspect: (event) => {
        // Serialized on arrival, as an inspector sending it elsewhere would.
        received.push({ event, json: JSON.stringify(event) });
        reachableStrings(event, seen, reachable);
      },
    },
  });
  const { runner, cluster } = engine;
  await runner.addTask(secretTask('ok', 0));
  await runner.addTask(secretTask('bad', 3));
  const [ok, bad] = await Promise.all([runner.waitFor('ok'), runner.waitFor('bad')]);
  expect(ok.outcome).toBe('succeeded');
  expect(bad.outcome).toBe('failed');

  // The task really ran with the values: they are in the Jobs' pod templates and the records.
  const containerEnv = (job: KubeObject | undefined, container: 'containers' | 'initContainers') =>
    (
      (job?.spec as { template: { spec: Record<string, { env?: { value?: string }[] }[]> } } | undefined)?.template
        .spec[container]?.[0]?.env ?? []
    ).map((e) => e.value);
  const job = cluster.objects('jobs').find((j) => j.metadata.name === 'ok');
  expect(containerEnv(job, 'containers')).toEqual([envSecret, patchSecret]);
  expect(containerEnv(job, 'initContainers')).toEqual([patchSecret]);
  expect(bad.failure?.lastLogLines?.join('\n')).toContain(envSecret);
  expect(await runner.getLogs('ok')).toContain(envSecret);

  // …and none of them reached the inspector, serialized or by walking the objects it was given.
  expect(received.length).toBeGreaterThan(50);
  for (const { json } of received) for (const secret of secrets) expect(json).not.toContain(secret);
  for (const secret of secrets) expect(reachable.filter((s) => s.includes(secret))).toEqual([]);
  const all = received.map((r) => r.json).join('\n');
  expect(all).toContain(redactedValue);
  // References to a Secret are names, not values: they stay.
  expect(all).toContain('"secretKeyRef":{"name":"db","key":"password"}');

  // Events of the supervisor, of both task actors and of their invoked effects all arrived.
  const actors = received
    .filter((r) => r.event.type === '@xstate.actor')
    .map((r) => r.event.actorRef as InspectedActorRef);
  const root = actors.find((a) => a._parent === undefined);
  expect(root?.id).toBe(root?.sessionId);
  const tasks = actors.filter((a) => a.systemId?.startsWith('task:'));
  expect(tasks.map((a) => a.systemId).sort()).toEqual(['task:bad', 'task:ok']);
  for (const task of tasks) {
    expect(task._parent?.sessionId).toBe(root?.sessionId);
    const effects = actors.filter((a) => a._parent?.sessionId === task.sessionId).map((a) => a.id);
    expect(effects).toEqual(expect.arrayContaining(['createJob', 'observeJob', 'harvestLogs', 'deleteJob']));
  }
  const sessions = new Set(received.map((r) => r.event.actorRef.sessionId));
  for (const actor of actors) expect(sessions.has(actor.sessionId)).toBe(true);
  expect(received.every((r) => r.event.rootId === root?.sessionId)).toBe(true);

  // The task's snapshots show its states in lifecycle order.
  const statesOf = (systemId: string): unknown[] => {
    const values = received
      .filter(
        (r) => r.event.type === '@xstate.snapshot' && (r.event.actorRef as InspectedActorRef).systemId === systemId,
      )
      .map((r) => (r.event as unknown as { snapshot: { value: unknown } }).snapshot.value);
    return values.filter((v, i) => v !== values[i - 1]);
  };
  // (`keepJobs`: the Job is left for the assertions above, so no `deleting`.)
  expect(statesOf('task:ok')).toEqual(['queued', 'creating', 'running', 'succeeded', 'deleted']);
  expect(statesOf('task:bad')).toEqual(['queued', 'creating', 'running', 'failed', 'deleted']);
});

test('without a user inspector the runner works as before', async () => {
  engine = await startEngine({ cluster: { kubelet: { script } } });
  await engine.runner.addTask(secretTask('plain', 0));
  expect((await engine.runner.waitFor('plain')).outcome).toBe('succeeded');
});

test('an inspector that throws does not disturb the runner: tasks run to the end and the throw is logged', async () => {
  const errors: { fields: Record<string, unknown>; message?: string }[] = [];
  const discard = (): void => undefined;
  engine = await startEngine({
    cluster: { kubelet: { script } },
    runner: {
      inspect: () => {
        throw new Error('inspector bug');
      },
      logger: {
        debug: discard,
        info: discard,
        warn: discard,
        error: (fields, message) => errors.push({ fields, ...(message !== undefined ? { message } : {}) }),
      },
    },
  });
  await engine.runner.addTask(secretTask('survives', 0));
  expect((await engine.runner.waitFor('survives')).outcome).toBe('succeeded');
  expect(errors.length).toBeGreaterThan(0);
  expect(errors[0]?.message).toBe('the inspect observer threw; the event was not shown to it');
  expect(String(errors[0]?.fields.err)).toContain('inspector bug');
});
