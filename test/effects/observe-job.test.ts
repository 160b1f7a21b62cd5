import { describe, expect, test } from 'vitest';
import { createActor, setup } from 'xstate';
import { observeJobEffect } from '../../src/effects/observe-job.js';
import type { ClusterObservation, PodView, TaskEvent } from '../../src/machines/task/contract.js';
import type { ObservationListener } from '../../src/ports/job-observer.js';
import { waitUntil } from '../helpers/wait.js';

/*
 * `observeJob` alone, over in-memory stand-ins for the ports: the test decides what the watch
 * shows and when the Events and the pods' re-read answer.
 */

/** A promise the test settles. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const pod = (phase: string, container: Partial<PodView['containers'][number]> = {}): PodView => ({
  name: 'p-1',
  uid: 'u-1',
  phase,
  createdAt: '2026-01-01T00:00:00Z',
  containers: [{ name: 'task', restartCount: 0, ...container }],
});

const view = (pods: PodView[], failed = false): ClusterObservation => ({
  job: {
    name: 'j',
    uid: 'j-uid',
    resourceVersion: '1',
    active: 1,
    ready: 0,
    succeeded: 0,
    failed: 0,
    terminating: 0,
    conditions: failed ? [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] : [],
  },
  pods,
  at: 0,
});

/** Runs `observeJob` for job `j` under a parent that records what it sends. */
function start() {
  let listener: ObservationListener | undefined;
  const events = deferred<string[]>();
  const pods = deferred<PodView[]>();
  const calls = { events: 0, pods: 0 };
  const logic = observeJobEffect({
    jobs: {
      listJobPods: () => {
        calls.pods++;
        return pods.promise;
      },
    },
    observer: {
      observe: (_jobName, l) => {
        listener = l;
        return () => (listener = undefined);
      },
      events: () => {
        calls.events++;
        return events.promise;
      },
    },
    eventsTimeoutMs: 60_000,
    report: (error) => {
      throw error;
    },
  });
  const received: TaskEvent[] = [];
  const parent = setup({ actors: { child: logic } }).createMachine({
    invoke: { src: 'child', input: { taskId: 't', jobName: 'j' } },
    on: { '*': { actions: ({ event }) => received.push(event as TaskEvent) } },
  });
  const actor = createActor(parent).start();
  const show = (o: ClusterObservation) => listener?.(o);
  return { actor, received, show, events, pods, calls, subscribed: () => listener !== undefined };
}

const observed = (e: TaskEvent | undefined) => (e?.type === 'CLUSTER.OBSERVED' ? e.observation : undefined);
/** The pods of each view the machine received, `name:phase`. */
const podsSent = (received: TaskEvent[]) =>
  received.map(
    (e) =>
      observed(e)
        ?.pods.map((p) => `${p.name}:${p.phase}`)
        .join(',') ?? e.type,
  );

describe('observeJob over stub ports', () => {
  test('new trouble is held back until its Events are read, then the latest view goes with them', async () => {
    const s = start();
    s.show(view([pod('Pending', { waiting: { reason: 'ContainerCreating' } })]));
    expect(observed(s.received[0])?.events).toBeUndefined();
    s.show(view([pod('Pending', { waiting: { reason: 'ImagePullBackOff' } })]));
    s.show(view([pod('Pending', { waiting: { reason: 'ImagePullBackOff', message: 'back-off 20s' } })]));
    expect(s.received).toHaveLength(1);
    expect(s.calls).toEqual({ events: 1, pods: 0 });
    s.events.resolve(['Failed: pull failed']);
    await waitUntil(() => s.received.length === 2, 'the held view');
    const sent = observed(s.received[1]);
    expect(sent?.pods[0]?.containers[0]?.waiting?.message).toBe('back-off 20s');
    expect(sent?.events).toEqual(['Failed: pull failed']);
    expect(s.calls).toEqual({ events: 1, pods: 0 });
    s.actor.stop();
    expect(s.subscribed()).toBe(false);
  });

  test('a failed Job whose pods look unfinished: they are read again before the view goes', async () => {
    const s = start();
    s.show(view([pod('Running', { running: {} })], true));
    expect(s.calls).toEqual({ events: 1, pods: 1 });
    s.events.resolve([]);
    s.pods.resolve([pod('Failed', { terminated: { exitCode: 3 } })]);
    await waitUntil(() => s.received.length === 1, 'the view with the pods read again');
    const pods = observed(s.received[0])?.pods;
    expect(pods?.[0]).toMatchObject({ phase: 'Failed', containers: [{ terminated: { exitCode: 3 } }] });
    s.actor.stop();
  });

  test('a view that lost a pod does not replace the held one: a disrupted pod deleted meanwhile still goes', async () => {
    const s = start();
    const disrupted = (phase: string): PodView => ({
      ...pod(phase),
      disruption: { reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' },
    });
    s.show(view([disrupted('Running')]));
    // The failed pod is new trouble: its Events are being read while the Job replaces it.
    s.show(view([disrupted('Failed')]));
    expect(s.calls.events).toBe(1);
    s.show(view([{ ...pod('Pending'), name: 'p-2', uid: 'u-2' }]));
    s.show(view([{ ...pod('Running', { running: {} }), name: 'p-2', uid: 'u-2' }]));
    expect(podsSent(s.received)).toEqual(['p-1:Running']);
    s.events.resolve(['Evicted: evicting']);
    // The held failed pod, then the latest view of its replacement (which said all the one before did).
    await waitUntil(() => s.received.length === 3, 'the held views');
    expect(podsSent(s.received)).toEqual(['p-1:Running', 'p-1:Failed', 'p-2:Running']);
    expect(observed(s.received[1])?.pods[0]?.disruption?.reason).toBe('EvictionByEvictionAPI');
    expect(observed(s.received[1])?.events).toEqual(['Evicted: evicting']);
    s.actor.stop();
  });
});
