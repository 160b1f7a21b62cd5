import type { V1Job } from '@kubernetes/client-node';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { WatchCache } from '../../src/kube/watch-cache.js';

const job = (name: string): V1Job => ({ metadata: { name, uid: `uid-${name}`, resourceVersion: '1' } });

test('the cache remembers the newest deletions up to its limit, and keeps any still observed', async () => {
  const cache = new WatchCache({
    now: () => 0,
    tombstoneLimit: 3,
    onListenerError: (_, error) => {
      throw error;
    },
  });
  cache.goLive();
  const seen: string[] = [];
  cache.observe('j1', (observation) => seen.push(observation.job === null ? 'j1 gone' : 'j1 there'));
  for (let i = 0; i < 8; i++) cache.applyJob('ADDED', job(`j${i}`));
  for (let i = 0; i < 8; i++) cache.applyJob('DELETED', job(`j${i}`));
  // Observers are told at the end of the turn (and before a removal, of the change it follows).
  await nextTurn();
  // j1 is observed, so kept past the limit; of the rest, the three deleted last.
  const known = Array.from({ length: 8 }, (_, i) => `j${i}`).filter((name) => cache.knows(name));
  expect(known).toEqual(['j1', 'j6', 'j7']);
  expect(seen).toEqual(['j1 there', 'j1 gone']);
  expect(cache.current('j1')?.job).toBeNull();

  // A Job created again under a deleted name is no longer reported gone.
  cache.forgetGone('j7');
  expect(cache.knows('j7')).toBe(false);
  // 10,000 more deletions: still at most the limit remembered, the observed one among them.
  for (let i = 100; i < 10_100; i++) cache.applyJob('DELETED', job(`j${i}`));
  expect(['j1', 'j6', 'j10097', 'j10098', 'j10099'].map((name) => cache.knows(name))).toEqual([
    true,
    false,
    false,
    true,
    true,
  ]);
});
