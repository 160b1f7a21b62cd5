import { expect, test } from 'vitest';
import { assign, createActor, fromPromise, setup, type InspectionEvent } from 'xstate';
import { KubernetesApiError } from '../../src/errors.js';
import {
  createInspectionRedactor,
  redactedValue,
  type InspectedActorRef,
} from '../../src/runner/inspection-redaction.js';
import { TaskQueue } from '../../src/machines/supervisor/task-queue.js';

const spec = {
  id: 't',
  image: 'busybox',
  env: [
    { name: 'TOKEN', value: 'env-secret' },
    { name: 'DB', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
  ],
  podTemplate: {
    spec: {
      containers: [
        { name: 'task', env: [{ name: 'K', value: 'patch-secret' }], envFrom: [{ secretRef: { name: 'all' } }] },
      ],
    },
  },
};

/** A machine holding a spec in its context and passing it to an invoked promise actor's input. */
const machine = setup({
  types: { context: {} as { spec: typeof spec; lastLogLines?: string[] }, input: {} as { spec: typeof spec } },
  actors: { create: fromPromise<{ uid: string }, { spec: typeof spec }>(async () => ({ uid: 'u1' })) },
}).createMachine({
  id: 'm',
  context: ({ input }) => ({ spec: input.spec }),
  initial: 'creating',
  states: {
    creating: {
      invoke: {
        src: 'create',
        input: ({ context }) => ({ spec: context.spec }),
        onDone: { target: 'done', actions: assign({ lastLogLines: () => ['printed env-secret'] }) },
      },
    },
    done: {},
  },
});

function run(): Promise<{ raw: InspectionEvent[]; shown: InspectionEvent[]; rawJson: string[] }> {
  const redact = createInspectionRedactor();
  const raw: InspectionEvent[] = [];
  const rawJson: string[] = [];
  const shown: InspectionEvent[] = [];
  return new Promise((resolve) => {
    const actor = createActor(machine, {
      input: { spec },
      inspect: (event) => {
        raw.push(event);
        rawJson.push(JSON.stringify({ ...event, actorRef: undefined, sourceRef: undefined }));
        shown.push(redact(event));
      },
    });
    actor.subscribe((s) => s.matches('done') && setTimeout(() => resolve({ raw, shown, rawJson })));
    actor.start();
  });
}

test('redacted events carry no env value or log line, keep secret references, and leave the live events as they were', async () => {
  const { raw, shown, rawJson } = await run();
  const json = JSON.stringify(shown);
  for (const secret of ['env-secret', 'patch-secret']) expect(json).not.toContain(secret);
  expect(json).toContain('"secretKeyRef":{"name":"db","key":"password"}');
  expect(json).toContain('"envFrom":[{"secretRef":{"name":"all"}}]');
  expect(json).toContain(`"lastLogLines":["${redactedValue}"]`);
  // The promise actor's snapshot keeps its input: redacted there too.
  expect(json).toContain(
    `"input":{"spec":{"id":"t","image":"busybox","env":[{"name":"TOKEN","value":"${redactedValue}"}`,
  );
  // Nothing was mutated: the live events serialize as before, secrets included.
  raw.forEach((event, i) =>
    expect(JSON.stringify({ ...event, actorRef: undefined, sourceRef: undefined })).toBe(rawJson[i]),
  );
  expect(rawJson.join('')).toContain('env-secret');
});

test('actor refs become one read-only view per actor: identity, parent and a redacted snapshot, never the actor', async () => {
  const { raw, shown } = await run();
  const views = new Map<string, InspectedActorRef>();
  shown.forEach((event, i) => {
    const view = event.actorRef as InspectedActorRef;
    expect(view).not.toBe(raw[i]?.actorRef);
    expect(view).not.toHaveProperty('options');
    expect(view).not.toHaveProperty('system');
    const known = views.get(view.sessionId);
    if (known) expect(view).toBe(known);
    views.set(view.sessionId, view);
  });
  const child = [...views.values()].find((v) => v._parent !== undefined);
  const root = [...views.values()].find((v) => v._parent === undefined);
  expect(views.size).toBe(2);
  expect(child?._parent).toBe(root);
  expect(JSON.stringify(child)).toBe(JSON.stringify({ xstate$$type: 1, id: child?.id }));
  const snapshot = JSON.stringify(root?.getSnapshot());
  expect(snapshot).toContain('"value":"done"');
  expect(snapshot).not.toContain('env-secret');
});

test('unchanged parts are shared, errors lose their cause, other classes show as their JSON form', () => {
  const redact = createInspectionRedactor();
  const observation = { job: { name: 'j', conditions: [] }, pods: [] };
  const queue = new TaskQueue();
  queue.enqueue(
    {
      taskId: 'q',
      spec,
      jobName: 'q',
      fingerprint: 'f',
      createdAt: '',
      config: {
        stuck: { pendingBudgetMs: 1, imagePullGraceMs: 1, createContainerConfigGraceMs: 1, crashLoopBackOffGraceMs: 1 },
        clientTimeoutGraceMs: 1,
        keepJobs: false,
      },
    },
    0,
  );
  const error = new KubernetesApiError('create', 'jobs', 422, 'Invalid', 'invalid', false, {
    cause: new Error('body with env-secret'),
  });
  const event = {
    type: '@xstate.event',
    rootId: 'x:0',
    actorRef: undefined,
    sourceRef: undefined,
    event: {
      type: 'MIXED',
      observation,
      queue,
      error,
      when: new Date(0),
      tags: new Set(['a']),
      odd: new (class Odd {})(),
    },
  } as unknown as InspectionEvent;
  const shown = redact(event) as unknown as { event: Record<string, unknown> };
  expect(shown.event.observation).toBe(observation);
  expect(shown.event.queue).toEqual({ size: 1, priorities: [{ priority: 0, size: 1 }], next: ['q'] });
  expect(shown.event.error).toMatchObject({ name: 'KubernetesApiError', code: 'KUBERNETES_API', statusCode: 422 });
  expect(JSON.stringify(shown)).not.toContain('env-secret');
  expect(shown.event.when).toBe('1970-01-01T00:00:00.000Z');
  expect(shown.event.tags).toEqual(['a']);
  expect(shown.event.odd).toBe('[Odd]');
  // The live queue is untouched.
  expect([...queue].map((t) => t.spec.env?.[0])).toEqual([{ name: 'TOKEN', value: 'env-secret' }]);
});
