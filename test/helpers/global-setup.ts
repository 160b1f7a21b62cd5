/**
 * vitest's global setup (both configs): bundles the programs tests start as child processes, once
 * per run, before any worker starts (workers inherit the environment that names the folder).
 */
import { useTestEntries } from './test-entries.js';

export default async function setup(): Promise<() => void> {
  const entries = await useTestEntries();
  return () => entries.remove();
}
