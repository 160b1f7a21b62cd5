import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
/** A full collection: `gc` from a fresh context, which sees the flag just set. */
const collectGarbage = runInNewContext('gc') as () => void;

/** The JS heap in MB after a full collection, for tests that check memory levels off in-process. */
export function heapAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed / 1e6;
}
