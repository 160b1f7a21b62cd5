/*
 * `npm run diagram`: renders the task machine (the machine object itself) as Mermaid into the
 * README's `diagram:task-machine` block. `--check` changes nothing and exits 1 when the README's
 * diagram is stale; `--readme PATH` works on another file (tests use a copy).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { toMermaid } from '../src/machines/diagram/mermaid.js';
import { taskMachine } from '../src/machines/task/task-machine.js';
import { fenced, readBlock, writeBlock } from './readme-block.js';

/** The README block the task machine's diagram lives in. */
export const taskMachineBlock = 'diagram:task-machine';

/** The README block's expected content: the task machine as a fenced Mermaid diagram. */
export function taskMachineDiagram(): string {
  return fenced('mermaid', toMermaid(taskMachine));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      readme: { type: 'string', default: fileURLToPath(new URL('../README.md', import.meta.url)) },
    },
  });
  const path = values.readme;
  const readme = await readFile(path, 'utf8');
  const expected = taskMachineDiagram();
  if (readBlock(readme, taskMachineBlock) === expected) {
    console.log(`${path}: the task machine's diagram is up to date`);
    return;
  }
  if (values.check) {
    console.error(`${path}: the task machine's diagram is stale; run \`npm run diagram\``);
    process.exitCode = 1;
    return;
  }
  await writeFile(path, writeBlock(readme, taskMachineBlock, expected));
  console.log(`${path}: rewrote the task machine's diagram`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
