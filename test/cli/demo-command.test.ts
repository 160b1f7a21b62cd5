import { afterEach, expect, test } from 'vitest';
import { startCli, type CliProcess } from './cli-process.js';

let cli: CliProcess | undefined;
afterEach(async () => {
  if (cli && cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await cli?.exited;
});

test('k8s-jobs demo (npm start) runs its three Jobs to their outcomes, prints a summary and exits 0', async () => {
  cli = startCli(['demo', '--time-scale', '0.01', '--timeout', '40']);
  expect(await cli.exited).toBe(0);
  const out = cli.stdout();
  expect(cli.stderr()).toBe('');
  expect(out).toMatch(/^Simulated cluster at http:\/\/127\.0\.0\.1:\d+/);
  // Progress came from the watches: pods went through their states.
  expect(out).toMatch(/pod\/hello-[a-z0-9]{5} +Succeeded exit code 0/);
  expect(out).toMatch(/pod\/missing-image-[a-z0-9]{5} +Pending ErrImagePull/);
  const summary = out.slice(out.indexOf('Summary:'));
  expect(summary).toMatch(/\n {2}hello +Complete \(\w+\), exit code 0 — logs: hello from a Job \(1\/3\) \| hello from a Job \(2\/3\) \| hello from a Job \(3\/3\)\n/);
  expect(summary).toMatch(/\n {2}exit-three +Failed \(BackoffLimitExceeded\), exit code 3 — logs: about to fail\n/);
  expect(summary).toMatch(/\n {2}missing-image +stuck: ImagePullBackOff — Back-off pulling image "registry\.example\.com\/does-not-exist:1\.0"/);
  expect(out).toContain('Deleted the Jobs (propagationPolicy=Background).');
  expect(out).toContain('kubectl --kubeconfig sim.kubeconfig get jobs');
});
