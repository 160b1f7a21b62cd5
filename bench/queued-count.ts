import type { Runner } from '../src/runner/runner-api.js';
import { maxTaskPageSize } from '../src/types.js';

/** Queued tasks, counted a page at a time (`listTasks` pages at most 1,000). */
export async function countQueued(runner: Runner): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await runner.listTasks({ state: 'queued', limit: maxTaskPageSize, ...(cursor ? { cursor } : {}) });
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  return count;
}
