import { Subject } from 'rxjs';
import { describe, expect, test } from 'vitest';
import { bufferLogLines, droppedLinesMarker } from '../../src/logs/line-buffer.js';

/* A slow reader of a pushed log stream gets a bounded buffer: oldest lines dropped, the gap announced. */

const line = (n: number): string => `line ${n}`;

describe('bufferLogLines', () => {
  test('a reader that keeps up gets every line in order, then the end', async () => {
    const source = new Subject<string>();
    const buffer = bufferLogLines(source, { maxLines: 2 });
    const read: string[] = [];
    const reading = (async () => {
      for await (const text of buffer) read.push(text);
    })();
    for (let n = 0; n < 100; n++) {
      source.next(line(n));
      // The reader takes each line before the next arrives.
      await Promise.resolve();
      await Promise.resolve();
    }
    source.complete();
    await reading;
    expect(read).toEqual(Array.from({ length: 100 }, (_, n) => line(n)));
    expect(buffer.dropped).toBe(0);
  });

  test('a reader that falls behind: at most maxLines held, older lines dropped and counted where the gap is', async () => {
    const source = new Subject<string>();
    const buffer = bufferLogLines(source, { maxLines: 3 });
    for (let n = 0; n < 10; n++) source.next(line(n));
    expect(buffer.held).toBe(3);
    expect(buffer.dropped).toBe(7);
    const first = await buffer.next();
    expect(first.value).toBe(droppedLinesMarker(7));
    expect(first.value).toBe('[k8s-jobs: 7 lines dropped]');
    expect((await buffer.next()).value).toBe(line(7));
    // More arrives while 2 are held: one more dropped, announced before what follows it.
    for (let n = 10; n < 12; n++) source.next(line(n));
    expect(buffer.held).toBe(3);
    source.complete();
    const rest: string[] = [];
    for await (const text of buffer) rest.push(text);
    expect(rest).toEqual([droppedLinesMarker(1), line(9), line(10), line(11)]);
    expect(buffer.dropped).toBe(8);
  });

  test('maxChars bounds the characters held; a longer line is held alone', async () => {
    const source = new Subject<string>();
    const buffer = bufferLogLines(source, { maxLines: 1000, maxChars: 10 });
    source.next('aaaa');
    source.next('bbbb');
    source.next('cccc'); // 12 characters: `aaaa` goes
    expect(buffer.heldChars).toBe(8);
    source.next('x'.repeat(50));
    expect(buffer.held).toBe(1);
    source.complete();
    const read: string[] = [];
    for await (const text of buffer) read.push(text);
    expect(read).toEqual([droppedLinesMarker(3), 'x'.repeat(50)]);
  });

  test("the stream's error comes after the lines held before it", async () => {
    const source = new Subject<string>();
    const buffer = bufferLogLines(source);
    source.next('one');
    source.error(new Error('log request failed'));
    expect((await buffer.next()).value).toBe('one');
    await expect(buffer.next()).rejects.toThrow('log request failed');
    expect((await buffer.next()).done).toBe(true);
  });

  test('a reader waiting for a line gets the error or the end when it comes', async () => {
    const failing = new Subject<string>();
    const waiting = bufferLogLines(failing).next();
    failing.error(new Error('cut'));
    await expect(waiting).rejects.toThrow('cut');
    const ending = new Subject<string>();
    const done = bufferLogLines(ending).next();
    ending.complete();
    expect((await done).done).toBe(true);
  });

  test('leaving the loop unsubscribes and drops what is held', async () => {
    const source = new Subject<string>();
    const buffer = bufferLogLines(source);
    source.next('one');
    source.next('two');
    for await (const text of buffer) {
      expect(text).toBe('one');
      break;
    }
    expect(source.observed).toBe(false);
    expect(buffer.held).toBe(0);
  });

  test('bounds are checked', () => {
    expect(() => bufferLogLines(new Subject<string>(), { maxLines: 0 })).toThrow(RangeError);
    expect(() => bufferLogLines(new Subject<string>(), { maxChars: 0 })).toThrow(RangeError);
  });
});
