/**
 * The log-flood test's harness: `k8s-jobs sim` in one process (process runtime), a runner in
 * another (`log-flood-child.ts`) running one task whose container writes `bytes` of lines to
 * stdout, and both processes' peak RSS (`VmHWM`) read from `/proc` — the sim's just before it is
 * stopped, the runner's by itself once its task is deleted. Linux only (`/proc`).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { repoRoot } from '../cli/cli-process.js';
import { testEntry } from './test-entries.js';

/** The line the child prints when done. */
export interface FloodChildReport {
  outcome: string | undefined;
  /** Lines the subscriber that keeps up received, and their characters. */
  fastLines: number;
  fastChars: number;
  /** The last line it received. */
  fastLast: string | undefined;
  /** The slow subscriber: lines read, drop markers read, lines they announced, its buffer's peak. */
  slowLines: number;
  slowMarkers: number;
  slowDroppedAnnounced: number;
  slowDropped: number;
  slowMaxHeld: number;
  slowMaxHeldChars: number;
  slowLast: string | undefined;
  /** The stored snapshot (`getLogs` once the task is deleted). */
  snapshotBytes: number;
  snapshotMarker: string | undefined;
  snapshotEnd: string;
  /** The child's peak RSS in bytes (`/proc/self/status` VmHWM): once the runner started, and at the end. */
  startRssBytes: number;
  peakRssBytes: number;
}

/** Peak RSS in bytes, from `/proc/<pid>/status`. */
export function peakRssBytes(pid: number | 'self' = 'self'): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** What one flood measured. */
export interface FloodFigures {
  report: FloodChildReport;
  /** The sim's peak RSS once it was up, before the flood, and at the end. */
  simStartRss: number;
  simPeakRss: number;
  /** Wall-clock seconds from the task's submission to the child's report. */
  seconds: number;
}

/** Options of one flood. */
export interface FloodOptions {
  /** Bytes the container writes (`yes LINE | head -c BYTES`). */
  bytes: number;
  /** The line repeated. @default 'flood' */
  line?: string;
  /** Extra `k8s-jobs sim` arguments (`--container-log-max-size 1Mi`). */
  simArgs?: string[];
  /**
   * The sim's V8 old-space limit (`--max-old-space-size`, MiB): a sim that kept what the
   * container printed would die of it; one whose memory is bounded runs through. Without it, V8
   * lets a busy heap grow well past what it holds before collecting, so the peak RSS says more
   * about the collector than about what the sim keeps.
   */
  simMaxOldSpaceMiB?: number;
  /** The runner's `logs.maxBytes`. @default 1048576 */
  logMaxBytes?: number;
  /** How long the child may take. */
  timeoutMs: number;
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** One line for the test's output: the figures the docs quote. */
export function describeFlood(options: FloodOptions, figures: FloodFigures): string {
  const { report } = figures;
  return [
    `log flood of ${mib(options.bytes)} (${figures.seconds.toFixed(1)} s):`,
    `runner peak RSS ${mib(report.peakRssBytes)} (${mib(report.startRssBytes)} once started),`,
    `sim peak RSS ${mib(figures.simPeakRss)} (${mib(figures.simStartRss)} once started),`,
    `snapshot ${report.snapshotBytes} bytes,`,
    `${report.fastLines} lines to the subscriber that keeps up (${Math.ceil(options.bytes / ((options.line ?? 'flood').length + 1))} written),`,
    `slow subscriber: ${report.slowDropped} lines dropped in ${report.slowMarkers} gaps, at most ${report.slowMaxHeld} lines held`,
  ].join(' ');
}

/** `--max-semi-space-size` of Node 20 (16 MiB), set on both processes. */
const youngGeneration = '--max-semi-space-size=16';

/** Runs one flood and returns its figures; both processes are gone when it settles. */
export async function runLogFlood(options: FloodOptions): Promise<FloodFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'k8s-jobs-flood-'));
  const kubeconfigFile = join(dir, 'sim.kubeconfig');
  const heap = [
    // Node 20's young generation on every Node version (Node 22+ lets it grow to 3 × 32 MiB, which
    // shows as RSS under a flood): what is measured is the runner's, not the GC's appetite.
    youngGeneration,
    ...(options.simMaxOldSpaceMiB === undefined ? [] : [`--max-old-space-size=${options.simMaxOldSpaceMiB}`]),
  ];
  const sim = spawn(
    process.execPath,
    [
      ...heap,
      testEntry('src/cli/main.ts'),
      'sim',
      '--kubeconfig-out',
      kubeconfigFile,
      '--runtime',
      'process',
      ...(options.simArgs ?? []),
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let simOutput = '';
  sim.stdout.setEncoding('utf8').on('data', (chunk: string) => (simOutput += chunk));
  sim.stderr.setEncoding('utf8').on('data', (chunk: string) => (simOutput += chunk));
  const simExited = new Promise<void>((resolve) => sim.once('close', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (simOutput.includes('Kubeconfig written')) resolve();
      };
      sim.stdout.on('data', check);
      void simExited.then(() => reject(new Error(`k8s-jobs sim exited: ${simOutput}`)));
      check();
    });
    const simPid = sim.pid ?? 0;
    const simStartRss = peakRssBytes(simPid);
    const started = Date.now();
    const child = spawn(process.execPath, [youngGeneration, testEntry('test/helpers/log-flood-child.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FLOOD_KUBECONFIG: await readFile(kubeconfigFile, 'utf8'),
        FLOOD_BYTES: String(options.bytes),
        FLOOD_LINE: options.line ?? 'flood',
        FLOOD_LOG_MAX_BYTES: String(options.logMaxBytes ?? 1024 * 1024),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | string>((resolve) =>
      child.once('close', (code, signal) => resolve(code ?? signal ?? -1)),
    );
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the flood's runner did not finish in ${options.timeoutMs} ms; stderr: ${stderr}`));
        }, options.timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    const last = stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{')) {
      throw new Error(`the flood's runner exited ${code}: ${stderr}${stdout}\nsim: ${simOutput.slice(-2000)}`);
    }
    if (sim.exitCode !== null || sim.signalCode !== null)
      throw new Error(`k8s-jobs sim died: ${simOutput.slice(-2000)}`);
    const seconds = (Date.now() - started) / 1000;
    const simPeakRss = peakRssBytes(simPid);
    return { report: JSON.parse(last) as FloodChildReport, simStartRss, simPeakRss, seconds };
  } finally {
    if (sim.exitCode === null && sim.signalCode === null) sim.kill('SIGTERM');
    await simExited;
    await rm(dir, { recursive: true, force: true });
  }
}

const mibBytes = 1024 * 1024;

/** What every flood must show, whatever its size. */
export function expectBoundedFlood(options: FloodOptions, figures: FloodFigures): void {
  const { report } = figures;
  expect(report.outcome).toBe('succeeded');
  // The runner: under 200 MB whatever the pod prints.
  expect(report.peakRssBytes).toBeLessThan(200 * 1000 * 1000);
  // The sim holds about one log file (10 MiB) per container: with its heap capped it runs through
  // a flood many times that size, and its peak grows by far less than the output.
  if (options.simMaxOldSpaceMiB !== undefined)
    expect(figures.simPeakRss - figures.simStartRss).toBeLessThan(96 * mibBytes);
  // Without a cap V8 lets the heap grow before it collects; still a fraction of the output.
  expect(figures.simPeakRss - figures.simStartRss).toBeLessThan(Math.max(options.bytes / 2, 300 * mibBytes));
  // The subscriber that keeps up saw the end of the log.
  expect(report.fastLast).toBe('flood-end');
  // The stored snapshot respects the cap (1 MiB), with its marker, and ends with the log's end
  // (the node serves the current file only: the flood's size must leave more than the cap in it).
  expect(report.snapshotBytes).toBeLessThanOrEqual(options.logMaxBytes ?? mibBytes);
  expect(report.snapshotMarker).toMatch(/^\n… \[\d+ bytes truncated\] …\n$/);
  expect(report.snapshotEnd.endsWith('\nflood-end\n')).toBe(true);
  // The slow subscriber: a bounded buffer (1,000 lines), older lines dropped and announced with
  // their count, and the end of the log still reached.
  expect(report.slowMaxHeld).toBeLessThanOrEqual(1000);
  expect(report.slowDropped).toBeGreaterThan(0);
  expect(report.slowMarkers).toBeGreaterThan(0);
  expect(report.slowDroppedAnnounced).toBe(report.slowDropped);
  expect(report.slowLast).toBe('flood-end');
}
