import { CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SimClock } from '../../src/sim/clock.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { ObjectStore } from '../../src/sim/object-store.js';
import type { KubeObject } from '../../src/sim/types.js';
import { seededInts } from '../helpers/seeded-ints.js';

/*
 * The sim indexes Events by `involvedObject.name`: a LIST selecting one name reads only its
 * Events instead of every Event of the cluster. The index must answer exactly what a scan
 * answers, through creates, updates that move an object to another value, and deletions.
 */

const ownerOf = (obj: KubeObject): string => (typeof obj['owner'] === 'string' ? obj['owner'] : '');

describe('ObjectStore.readIndexed', () => {
  test('answers what readAll filtered on the value answers, over 3,000 random writes', () => {
    const store = new ObjectStore(new SimClock());
    const random = seededInts(13);
    const names = Array.from({ length: 40 }, (_, i) => `obj-${String(i)}`);
    const owners = ['a', 'b', 'c', 'd', ''];
    const namespaces = ['default', 'other'];
    const write = (): void => {
      const name = names[random(names.length)]!;
      const namespace = namespaces[random(namespaces.length)]!;
      const owner = owners[random(owners.length)]!;
      const stored = store.read('widgets', namespace, name);
      if (!stored) {
        store.create('widgets', {
          metadata: { name, namespace, uid: '', resourceVersion: '', creationTimestamp: '' },
          owner,
        });
      } else if (random(3) === 0) {
        store.remove('widgets', namespace, name);
      } else {
        store.mutate('widgets', namespace, name, (obj) => {
          obj['owner'] = owner;
        });
      }
    };
    // Some objects are stored before the index exists: it starts from them.
    for (let i = 0; i < 100; i++) write();
    store.addIndex('widgets', 'owner', ownerOf);
    const scanned = (owner: string, namespace?: string): string[] =>
      store.readAll('widgets', namespace, (obj) => ownerOf(obj) === owner).map((o) => o.metadata.name);
    const indexed = (owner: string, namespace?: string): string[] | undefined =>
      store.readIndexed('widgets', 'owner', owner, namespace)?.map((o) => o.metadata.name);
    let nonEmpty = 0;
    for (let i = 0; i < 3000; i++) {
      write();
      for (const owner of owners) {
        expect(indexed(owner)).toEqual(scanned(owner));
        expect(indexed(owner, 'other')).toEqual(scanned(owner, 'other'));
        if (scanned(owner).length > 0) nonEmpty++;
      }
    }
    // The comparison compared something: most values held objects most of the time.
    expect(nonEmpty).toBeGreaterThan(3000 * 3);
    expect(store.readIndexed('widgets', 'no-such-index', 'a')).toBeUndefined();
    expect(() => store.addIndex('widgets', 'owner', ownerOf)).toThrow(/already indexes widgets by owner/);
  });
});

describe('a LIST of Events by involvedObject.name over HTTP', () => {
  let cluster: SimulatedCluster;
  let core: CoreV1Api;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({ kubelet: { enabled: false }, namespaces: ['other'] });
    core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  });
  afterAll(async () => cluster.close());

  const event = (name: string, about: string, reason = 'Seen'): CoreV1Event => ({
    metadata: { name },
    involvedObject: { kind: 'Pod', name: about },
    reason,
    message: `${reason} ${about}`,
  });
  const names = (events: CoreV1Event[]): string[] => events.map((e) => e.metadata?.name ?? '');
  const listed = async (fieldSelector: string, namespace = 'default'): Promise<string[]> =>
    names((await core.listNamespacedEvent({ namespace, fieldSelector })).items);

  test('finds each Event under the name it is about now, in name order, with the other requirements and pages', async () => {
    for (const [name, about, reason] of [
      ['e3', 'pod-a', 'Pulled'],
      ['e1', 'pod-a', 'Scheduled'],
      ['e2', 'pod-b', 'Scheduled'],
      ['e4', 'pod-a', 'Started'],
    ] as const) {
      await core.createNamespacedEvent({ namespace: 'default', body: event(name, about, reason) });
    }
    await core.createNamespacedEvent({ namespace: 'other', body: event('e5', 'pod-a') });

    expect(await listed('involvedObject.name=pod-a')).toEqual(['e1', 'e3', 'e4']);
    expect(await listed('involvedObject.name==pod-b')).toEqual(['e2']);
    expect(await listed('involvedObject.name=pod-c')).toEqual([]);
    expect(await listed('involvedObject.name=pod-a', 'other')).toEqual(['e5']);
    expect(await listed('involvedObject.name=pod-a,reason=Scheduled')).toEqual(['e1']);
    expect(await listed('reason=Scheduled,involvedObject.name=pod-a')).toEqual(['e1']);
    // `!=` is answered by a scan.
    expect(await listed('involvedObject.name!=pod-a')).toEqual(['e2']);
    const all = await core.listEventForAllNamespaces({ fieldSelector: 'involvedObject.name=pod-a' });
    expect(names(all.items)).toEqual(['e1', 'e3', 'e4', 'e5']);

    const first = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'involvedObject.name=pod-a',
      limit: 2,
    });
    expect(names(first.items)).toEqual(['e1', 'e3']);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const rest = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'involvedObject.name=pod-a',
      limit: 2,
      _continue: first.metadata?._continue ?? '',
    });
    expect(names(rest.items)).toEqual(['e4']);

    // An update that names another object moves the Event; a deleted one is gone from the answer.
    const e3 = await core.readNamespacedEvent({ namespace: 'default', name: 'e3' });
    await core.replaceNamespacedEvent({
      namespace: 'default',
      name: 'e3',
      body: { ...e3, involvedObject: { ...e3.involvedObject, name: 'pod-b' } },
    });
    await core.deleteNamespacedEvent({ namespace: 'default', name: 'e4' });
    expect(await listed('involvedObject.name=pod-a')).toEqual(['e1']);
    expect(await listed('involvedObject.name=pod-b')).toEqual(['e2', 'e3']);
  });
});
