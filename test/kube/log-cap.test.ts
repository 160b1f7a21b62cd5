import { describe, expect, test } from 'vitest';
import { latestPod } from '../../src/kube/logs.js';
import { CappedLogCollector, lastLines, truncationMarker } from '../../src/logs/capped-log.js';
import type { PodView } from '../../src/machines/task/contract.js';

function collect(maxBytes: number, chunks: (string | Buffer)[]) {
  const collector = new CappedLogCollector(maxBytes);
  for (const chunk of chunks) collector.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return collector.result();
}

describe('CappedLogCollector', () => {
  test('a log within the cap is kept whole', () => {
    const text = 'line 1\nline 2\n';
    expect(collect(1024, [text.slice(0, 3), text.slice(3)])).toEqual({
      text,
      totalBytes: text.length,
      truncated: false,
    });
    expect(collect(1024, ['x'.repeat(1024)])).toMatchObject({ truncated: false, totalBytes: 1024 });
  });

  test('a longer log keeps head + marker + tail, within the cap', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${String(i).padStart(4, '0')}\n`);
    const text = lines.join('');
    const capped = collect(4096, lines);
    expect(capped.truncated).toBe(true);
    expect(capped.totalBytes).toBe(text.length);
    expect(Buffer.byteLength(capped.text)).toBeLessThanOrEqual(4096);
    const [head, tail] = capped.text.split(/\n… \[\d+ bytes truncated\] …\n/);
    expect(text.startsWith(head ?? '')).toBe(true);
    expect(text.endsWith(tail ?? '')).toBe(true);
    const omitted = text.length - (head ?? '').length - (tail ?? '').length;
    expect(capped.text).toContain(truncationMarker(omitted));
    expect(head?.length).toBeGreaterThan(1500);
    expect(tail?.length).toBeGreaterThan(1500);
  });

  test('chunk boundaries do not matter', () => {
    const text = Array.from({ length: 500 }, (_, i) => `${i}:${'abc'.repeat(i % 7)}\n`).join('');
    const whole = collect(1000, [text]);
    const bytes = Buffer.from(text);
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 37) pieces.push(bytes.subarray(i, i + 37));
    expect(collect(1000, pieces)).toEqual(whole);
  });

  test('never cuts a UTF-8 character in half', () => {
    const text = 'é€😀'.repeat(2000);
    const capped = collect(1000, [text]);
    expect(capped.text).not.toContain('\uFFFD');
    expect(Buffer.byteLength(capped.text)).toBeLessThanOrEqual(1000);
  });

  test('memory stays bounded by the cap while streaming', () => {
    const collector = new CappedLogCollector(64 * 1024);
    const chunk = Buffer.alloc(16 * 1024, 'x');
    // 5 MB through a 64 KiB collector: what it holds never grows with the input.
    for (let i = 0; i < 320; i++) collector.push(chunk);
    expect(collector.heldBytes()).toBeLessThanOrEqual(64 * 1024 + chunk.length);
    expect(collector.result().totalBytes).toBe(320 * chunk.length);
  });
});

describe('lastLines and latestPod', () => {
  test('lastLines ignores the final newline', () => {
    expect(lastLines('a\nb\nc\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('', 5)).toEqual([]);
  });

  test('latestPod is the newest by creation time', () => {
    const pod = (name: string, createdAt: string): PodView => ({
      name,
      uid: name,
      phase: 'Failed',
      createdAt,
      containers: [],
    });
    expect(
      latestPod([pod('a', '2026-01-01T00:00:02Z'), pod('b', '2026-01-01T00:00:05Z'), pod('c', '2026-01-01T00:00:01Z')])
        ?.name,
    ).toBe('b');
    expect(latestPod([])).toBeUndefined();
  });
});
