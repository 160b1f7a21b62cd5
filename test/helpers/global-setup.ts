/**
 * vitest's global setup (both configs): bundles the programs tests start as child processes, once
 * per run, before any worker starts (workers inherit the environment that names the folder); in
 * watch mode again before each rerun, so the children run the code as it is now. vitest calls it
 * once per project: the first call bundles, the others find the folder named already.
 */
import type { TestProject } from 'vitest/node';
import { testEntriesReady, useTestEntries } from './test-entries.js';

export default async function setup(project: TestProject): Promise<() => void> {
  if (testEntriesReady()) return () => undefined;
  let entries = await useTestEntries();
  // A handler of the whole run (vitest calls it on any rerun), registered by this first project only.
  project.onTestsRerun(async () => {
    entries.remove();
    entries = await useTestEntries();
  });
  return () => entries.remove();
}
