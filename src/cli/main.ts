#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { dashboardCommand } from './dashboard-command.js';
import { demoCommand } from './demo-command.js';
import { listCommand } from './list-command.js';
import { logsCommand } from './logs-command.js';
import { purgeCommand } from './purge-command.js';
import { runCommand } from './run-command.js';
import { showCommand } from './show-command.js';
import { simCommand } from './sim-command.js';
import { statusCommand } from './status-command.js';

// ../../package.json from both src/cli (tsx) and dist/cli (installed).
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('k8s-jobs')
  .description('Run your application’s work as Kubernetes Jobs; ships a simulated Kubernetes cluster.')
  .version(version)
  .addCommand(simCommand())
  .addCommand(demoCommand())
  .addCommand(runCommand())
  .addCommand(listCommand())
  .addCommand(showCommand())
  .addCommand(logsCommand())
  .addCommand(purgeCommand())
  .addCommand(statusCommand())
  .addCommand(dashboardCommand())
  .showHelpAfterError();

await program.parseAsync(process.argv);
