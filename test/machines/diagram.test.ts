import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { and, createMachine, not } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toMermaid } from '../../src/machines/diagram/mermaid.js';
import { taskMachine } from '../../src/machines/task/task-machine.js';
import { taskStates } from '../../src/types.js';
import { taskMachineBlock, taskMachineDiagram } from '../../scripts/diagram.js';
import { readBlock, writeBlock } from '../../scripts/readme-block.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const readmePath = join(root, 'README.md');

describe('the README state diagram', () => {
  it('matches the task machine (run `npm run diagram` when this fails)', async () => {
    const readme = await readFile(readmePath, 'utf8');
    expect(readBlock(readme, taskMachineBlock)).toBe(taskMachineDiagram());
  });

  it('shows every state of the task, its initial state, its final state and every state change the machine has', () => {
    const text = toMermaid(taskMachine);
    for (const state of taskStates) expect(text).toMatch(new RegExp(`^  ${state}$`, 'm'));
    expect(text).toContain('  [*] --> queued\n');
    expect(text).toContain('  deleted --> [*]\n');
    // Every (source, target) pair of the definition appears as an edge.
    for (const node of Object.values(taskMachine.root.states)) {
      const targets = [...[...node.transitions.values()].flat(), ...(node.always ?? [])].flatMap((t) => t.target ?? []);
      for (const target of targets) expect(text).toMatch(new RegExp(`^  ${node.key} --> ${target.key} : `, 'm'));
    }
    expect(text).toContain('  creating --> running : createJob done\n');
    expect(text).toContain('  creating --> failed : createJob error\n');
    expect(text).toContain('  running --> creating : CLUSTER.OBSERVED [mayRecreate]\n');
    expect(text).toContain('  running --> timedOut : always [decided(timedOut)]\n');
  });
});

describe('toMermaid', () => {
  it('renders nested, parallel, delayed, guarded and final states of any machine as valid Mermaid', () => {
    const machine = createMachine({
      id: 'door',
      initial: 'closed',
      states: {
        closed: {
          initial: 'locked',
          states: {
            locked: { on: { UNLOCK: { target: 'unlocked', guard: and(['hasKey', not('jammed')]) } } },
            unlocked: { on: { LOCK: 'locked' } },
          },
          on: { OPEN: { target: 'open', guard: { type: 'isUnlocked', params: { strict: true } } } },
        },
        open: {
          after: { 5000: 'closed' },
          invoke: { src: 'alarm', onError: 'broken' },
          on: { 'KICK;#1: hard': 'broken' },
        },
        broken: {
          type: 'parallel',
          states: {
            frame: { initial: 'bent', states: { bent: {} } },
            'lock-state': { initial: 'stuck', states: { stuck: { type: 'final' } } },
          },
        },
        end: { type: 'final' },
      },
    });
    expect(toMermaid(machine)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> closed',
        '  state closed {',
        '    [*] --> closed__locked',
        '    state "locked" as closed__locked',
        '    state "unlocked" as closed__unlocked',
        '    closed__locked --> closed__unlocked : UNLOCK [(hasKey && !jammed)]',
        '    closed__unlocked --> closed__locked : LOCK',
        '  }',
        '  open',
        '  state broken {',
        '    state "frame" as broken__frame',
        '    state broken__frame {',
        '      [*] --> broken__frame__bent',
        '      state "bent" as broken__frame__bent',
        '    }',
        '    --',
        '    state "lock-state" as broken__lock_state',
        '    state broken__lock_state {',
        '      [*] --> broken__lock_state__stuck',
        '      state "stuck" as broken__lock_state__stuck',
        '      broken__lock_state__stuck --> [*]',
        '    }',
        '  }',
        '  state "end" as end_',
        '  closed --> open : OPEN [isUnlocked(true)]',
        '  open --> broken : KICK#59;#35;1#58; hard',
        '  open --> broken : alarm error',
        '  open --> closed : after 5000ms',
        '  end_ --> [*]',
        '',
      ].join('\n'),
    );
  });
});

describe('npm run diagram', () => {
  let dir: string;
  let copy: string;
  const diagram = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', join(root, 'scripts/diagram.ts'), '--readme', copy, ...args], {
      cwd: root,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-diagram-'));
    copy = join(dir, 'README.md');
    await copyFile(readmePath, copy);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('--check exits 1 on a stale diagram; without it the block is rewritten and the rest kept', async () => {
    const original = await readFile(copy, 'utf8');
    await writeFile(copy, writeBlock(original, taskMachineBlock, '```mermaid\nstateDiagram-v2\n  [*] --> queued\n```'));
    await expect(diagram('--check')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('stale') });
    await diagram();
    expect(await readFile(copy, 'utf8')).toBe(original);
    await expect(diagram('--check')).resolves.toMatchObject({ stdout: expect.stringContaining('up to date') });
  });
});
