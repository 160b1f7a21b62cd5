import { execFileSync } from 'node:child_process';

/**
 * The Python interpreter that can import the official Kubernetes client (Debian package
 * `python3-kubernetes`): `PYTHON` if set, else the first of `python3` and `/usr/bin/python3` that
 * imports `kubernetes` (a pyenv `python3` on PATH does not see Debian's packages); undefined when
 * none does.
 */
export function findKubernetesPython(): string | undefined {
  const candidates = process.env['PYTHON'] ? [process.env['PYTHON']] : ['python3', '/usr/bin/python3'];
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-c', 'import kubernetes'], { stdio: 'ignore', timeout: 30_000 });
      return candidate;
    } catch {
      // Missing interpreter or module: try the next candidate.
    }
  }
  return undefined;
}
