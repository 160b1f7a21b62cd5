import type { SimContext } from './context.js';
import type { Controller } from './controller.js';

/** Owner-reference garbage collection (Background/Foreground/Orphan). TODO(job-controller helper). */
export function startGarbageCollector(_ctx: SimContext): Controller {
  return { stop() {} };
}
