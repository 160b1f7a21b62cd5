/**
 * `require('k8s-jobs')` from CommonJS: the `default` export condition beside `import`, and Node's
 * require of ES modules (unflagged from 20.19), which fails if any module the entry loads uses
 * top-level await.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { installPackage, type InstalledPackage } from './installed-package.js';

let installed: InstalledPackage;
beforeAll(() => {
  installed = installPackage();
});
afterAll(() => installed.remove());

test("require('k8s-jobs') and require('k8s-jobs/sim') from CommonJS", async () => {
  const script = installed.script(
    'app.cjs',
    `const { createRunner, ValidationError } = require('k8s-jobs');
const { startSimulatedCluster } = require('k8s-jobs/sim');
console.log(JSON.stringify({ createRunner: typeof createRunner, ValidationError: typeof ValidationError, startSimulatedCluster: typeof startSimulatedCluster }));
`,
  );
  const { code, stdout, stderr } = await installed.node(['--no-warnings=ExperimentalWarning', script]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(stdout)).toEqual({
    createRunner: 'function',
    ValidationError: 'function',
    startSimulatedCluster: 'function',
  });
});
