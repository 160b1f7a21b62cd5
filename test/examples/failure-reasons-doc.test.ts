import { readdir, readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { taskFailureReasons } from '../../src/failure-reasons.js';

/** The docs' "Failure reasons" table: its rows, wherever the page with it lives. */
async function failureReasonRows(): Promise<string[]> {
  const pages = ['README.md', ...(await readdir('docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  for (const page of pages) {
    const lines = (await readFile(page, 'utf8')).split('\n');
    const start = lines.findIndex((l) => l.startsWith('**Failure reasons.**'));
    if (start < 0) continue;
    const rows: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (line.startsWith('**')) break;
      if (line.startsWith('|') && !line.startsWith('|---')) rows.push(line);
    }
    return rows.slice(1); // without the header
  }
  throw new Error('no "**Failure reasons.**" paragraph in README.md or docs/');
}

test('the docs list exactly taskFailureReasons', async () => {
  const listed = (await failureReasonRows()).flatMap((row) => {
    const reasons = row.split('|')[2] ?? '';
    return [...reasons.matchAll(/`([A-Z][A-Za-z]+)`/g)].map((m) => m[1]);
  });
  expect([...new Set(listed)].sort()).toEqual([...taskFailureReasons].sort());
});
