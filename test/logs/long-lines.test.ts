import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { maxFollowedLineChars } from '../../src/kube/log-follow.js';
import { startEngine, type Engine } from '../engine/harness.js';

/*
 * A line far longer than a log record (the kubelet's are 16 KiB; `timestamps=true` prefixes only
 * the first record of a line) reaches `logs$` whole in content, in pieces of at most
 * `maxFollowedLineChars`: the follower never holds an unbounded line, and no timestamp of a
 * continuation record leaks into the text.
 */
let engine: Engine;
beforeAll(async () => {
  engine = await startEngine({ cluster: { kubelet: { runtime: 'process' } } });
});
afterAll(async () => engine.close());

test('a 600,000-character line comes through logs$ in pieces, with nothing added or lost', async () => {
  const { runner } = engine;
  await runner.addTask({
    id: 'long-line',
    image: 'busybox',
    // Printed after the follow has started, so the live stream (not the stored tail) carries it.
    command: ['sh', '-c', "sleep 1; head -c 600000 /dev/zero | tr '\\0' x; echo; echo after"],
  });
  const lines = await lastValueFrom(runner.logs$('long-line').pipe(toArray()));
  expect(lines.at(-1)).toBe('after');
  const pieces = lines.slice(0, -1);
  expect(pieces.length).toBe(Math.ceil(600_000 / maxFollowedLineChars));
  for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(maxFollowedLineChars);
  expect(pieces.join('')).toBe('x'.repeat(600_000));
  expect((await runner.waitFor('long-line')).outcome).toBe('succeeded');
}, 60_000);
