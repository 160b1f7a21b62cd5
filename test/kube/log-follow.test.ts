import { expect, test } from 'vitest';
import { LogCursor, parseTimestampedLine } from '../../src/kube/log-follow.js';
import { CappedLogCollector } from '../../src/logs/capped-log.js';
import { streamCutMarker, unstreamedLines } from '../../src/runner/task-streams.js';
import type { LogSnapshot } from '../../src/store/contract.js';

/*
 * The pure parts of following a log: reading the kubelet's timestamps, resuming from a
 * whole-second `sinceTime` without repeating a line, and the stored tail after a stream.
 */

test('a timestamped line gives its time in nanoseconds and its text, whatever the fraction length and offset', () => {
  expect(parseTimestampedLine('2026-01-02T03:04:05.123456789Z hello world\n')).toEqual({
    ns: 1767323045123456789n,
    text: 'hello world\n',
  });
  expect(parseTimestampedLine('2026-01-02T03:04:05.5Z x')).toEqual({ ns: 1767323045500000000n, text: 'x' });
  expect(parseTimestampedLine('2026-01-02T04:04:05+01:00 y')?.ns).toBe(1767323045000000000n);
  expect(parseTimestampedLine('no timestamp here')).toBeUndefined();
});

test('a resumed stream repeats nothing: earlier lines of the second are skipped, and lines of the last time only as often as they were emitted', () => {
  const cursor = new LogCursor();
  cursor.forPod('uid-1');
  cursor.connect();
  const second = 1767323045n * 1_000_000_000n;
  // Three lines printed at once share one time; then one line later in the same second.
  const lines = [second + 100n, second + 100n, second + 100n, second + 900n];
  // The stream drops after the second of the three.
  expect([cursor.accept(lines[0]!), cursor.accept(lines[1]!)]).toEqual([true, true]);
  expect(cursor.sinceTime()).toBe('2026-01-02T03:04:05Z');
  // Resumed from the whole second: the kubelet sends all four again.
  cursor.connect();
  expect(lines.map((ns) => cursor.accept(ns))).toEqual([false, false, true, true]);
  // Dropped again after the last one: the replay is all old.
  cursor.connect();
  expect(lines.map((ns) => cursor.accept(ns))).toEqual([false, false, false, false]);
  expect(cursor.accept(second + 901n)).toBe(true);
  // Another pod's log starts over.
  cursor.forPod('uid-2');
  expect(cursor.sinceTime()).toBeUndefined();
  expect(cursor.accept(second)).toBe(true);
});

const snapshotOf = (text: string, pod = 'pod-a'): LogSnapshot => {
  const collector = new CappedLogCollector(200);
  collector.push(Buffer.from(text));
  const log = collector.result();
  return { taskId: 't', ...log, final: true, capturedAt: '2026-01-01T00:00:00Z', pod, container: 'task' };
};

test('the stored tail is what the snapshot holds past what was streamed from the same pod', () => {
  const log = 'one\ntwo\nthree\n';
  expect(unstreamedLines(snapshotOf(log), undefined)).toEqual(['one', 'two', 'three']);
  expect(unstreamedLines(snapshotOf(log), { pod: 'pod-a', offset: 'one\n'.length, drained: false })).toEqual([
    'two',
    'three',
  ]);
  expect(unstreamedLines(snapshotOf(log), { pod: 'pod-a', offset: log.length, drained: false })).toEqual([]);
  // Streamed from another pod (a retry): the snapshot's pod is new to the subscriber.
  expect(unstreamedLines(snapshotOf(log), { pod: 'pod-b', offset: 4, drained: true })).toEqual(['one', 'two', 'three']);
});

test('past a capped snapshot, the tail continues the stream, or says how much is missing before it', () => {
  const lines = Array.from({ length: 40 }, (_, i) => `line ${String(i).padStart(2, '0')}`);
  const log = `${lines.join('\n')}\n`;
  const snapshot = snapshotOf(log);
  expect(snapshot.truncated).toBe(true);
  // Streamed up to the last 3 lines, which the capped tail still holds.
  const upTo37 = Buffer.byteLength(`${lines.slice(0, 37).join('\n')}\n`);
  expect(unstreamedLines(snapshot, { pod: 'pod-a', offset: upTo37, drained: false })).toEqual(lines.slice(37));
  // Streamed only the first line: the gap is shown as a marker, then the kept tail.
  const tail = unstreamedLines(snapshot, { pod: 'pod-a', offset: 'line 00\n'.length, drained: false });
  expect(tail[0]).toMatch(/^… \[\d+ bytes truncated\] …$/);
  expect(tail.at(-1)).toBe('line 39');
});

test('after a stream read to its end nothing is added; after one cut in a rotated log, the stored tail follows a marker', () => {
  const lines = Array.from({ length: 40 }, (_, i) => `line ${String(i).padStart(2, '0')}`);
  const snapshot = snapshotOf(`${lines.join('\n')}\n`);
  // Read to its end: even a position the snapshot cannot place (the log rotated) adds nothing.
  expect(unstreamedLines(snapshot, { pod: 'pod-a', offset: 10, drained: true })).toEqual([]);
  expect(unstreamedLines(snapshot, { pod: 'pod-a', offset: 1_000_000, drained: true })).toEqual([]);
  // Cut after more bytes than the stored log holds: they came from files rotated away since, so
  // the kept tail is given whole, after a marker, rather than nothing.
  const cut = unstreamedLines(snapshot, { pod: 'pod-a', offset: 1_000_000, drained: false });
  expect(cut[0]).toBe(streamCutMarker);
  expect(cut.length).toBeGreaterThan(2);
  expect(cut.at(-1)).toBe('line 39');
});
