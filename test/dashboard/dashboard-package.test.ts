import { afterAll, beforeAll, expect, test } from 'vitest';
import { installPackage, type InstalledPackage } from '../package/installed-package.js';

/*
 * `k8s-jobs/dashboard` as an application imports it: the export resolves, and the browser files
 * are served from the installed package (nothing from outside).
 */

let installed: InstalledPackage;
beforeAll(() => {
  installed = installPackage();
});
afterAll(() => installed.remove());

test("import { createDashboard } from 'k8s-jobs/dashboard' serves its pages and its own assets", async () => {
  const script = installed.script(
    'serve.mjs',
    `import { createServer } from 'node:http';
import { createDashboard } from 'k8s-jobs/dashboard';

const store = {
  listTasks: async () => ({ items: [] }),
  getTask: async () => undefined,
  getTransitions: async () => [],
  getLogSnapshot: async () => undefined,
};
const dashboard = createDashboard({ store }, { basePath: '/jobs' });
const server = createServer(dashboard).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = \`http://127.0.0.1:\${server.address().port}/jobs/\`;
const statuses = {};
for (const path of ['', 'assets/dashboard.js', 'assets/dashboard.css']) statuses[path || '/'] = (await fetch(base + path)).status;
await dashboard.close();
server.close();
console.log(JSON.stringify(statuses));
`,
  );
  const { code, stdout, stderr } = await installed.node([script]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(stdout)).toEqual({ '/': 200, 'assets/dashboard.js': 200, 'assets/dashboard.css': 200 });
});
