import { expect, test } from 'vitest';
import { LogTail } from '../../src/cli/log-tail.js';

const tailOf = (): { tail: LogTail; out: string[] } => {
  const out: string[] = [];
  return { tail: new LogTail((text) => out.push(text)), out };
};

test('a growing log is printed once: each read prints only what it adds', () => {
  const { tail, out } = tailOf();
  for (const text of ['', 'a\n', 'a\n', 'a\nb\n', 'a\nb\nc\n']) tail.update(text);
  expect(out).toEqual(['a\n', 'b\n', 'c\n']);
});

test('a shorter read (the pod is gone, nothing stored) prints nothing and loses nothing', () => {
  const { tail, out } = tailOf();
  tail.update('a\nb\n');
  tail.update('');
  tail.update('a\n');
  tail.update('a\nb\nc\n');
  expect(out).toEqual(['a\nb\n', 'c\n']);
});

test('a capped snapshot whose middle changed is printed from where it differs, after a marker', () => {
  const { tail, out } = tailOf();
  tail.update('head\nline 1\n');
  tail.update('head\n[… 10 bytes omitted …]\nline 9\n');
  expect(out).toEqual([
    'head\nline 1\n',
    '\n[… the stored log was truncated; its tail follows]\n[… 10 bytes omitted …]\nline 9\n',
  ]);
});
