import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** The Linux proc filesystem, where the kernel shows every process's group and resident memory. */
const root = '/proc';

/** Whether this host shows its processes under /proc (Linux); elsewhere their memory cannot be measured. */
export function procAvailable(): boolean {
  return existsSync(`${root}/self/stat`);
}

/** A process that ended between listing /proc and reading its files (ENOENT, or ESRCH from a dying one). */
function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/**
 * `pgrp` from `/proc/<pid>/stat`: the 5th field, counted after the command name (which may hold spaces and
 * parentheses).
 */
function processGroupOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[2]);
}

/** `VmRSS` of `/proc/<pid>/status` in bytes; 0 for a zombie or kernel thread, which has none. */
function residentBytesOf(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * The resident memory (RSS, bytes) of each process group in `groups`: one pass over /proc, summing
 * `VmRSS` over every process whose `pgrp` is the group. A group with no process left is absent
 * from the result. Synchronous on purpose: reading a few hundred small proc files takes well
 * under a millisecond, less than scheduling as many asynchronous reads would.
 */
export function groupResidentMemory(groups: ReadonlySet<number>): Map<number, number> {
  const usage = new Map<number, number>();
  for (const name of readdirSync(root)) {
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    try {
      const group = processGroupOf(readFileSync(`${root}/${name}/stat`, 'latin1'));
      if (!groups.has(group)) continue;
      usage.set(group, (usage.get(group) ?? 0) + residentBytesOf(readFileSync(`${root}/${name}/status`, 'latin1')));
    } catch (err) {
      if (!vanished(err)) throw err;
    }
  }
  return usage;
}
