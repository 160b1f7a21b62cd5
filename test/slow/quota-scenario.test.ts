import { afterEach, test } from 'vitest';
import { startEngine, type Engine } from '../engine/harness.js';
import { quotaScenarioEngine, runQuotaScenario } from '../engine/quota-scenario.js';

/* The full quota scenario: 200 tasks, a quota of 5 pods, a cap of 20 (40 in `npm test`). */

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

test('200 tasks, a quota of 5 pods, a cap of 20: none fails, the quota is never exceeded, all finish', async () => {
  engine = await startEngine(quotaScenarioEngine);
  await runQuotaScenario(engine, 200);
}, 300_000);
