/**
 * Simulator memory over a long run: `k8s-jobs sim --runtime scripted` in its own process, Jobs
 * taken through create → Complete → delete by a cheap driver (plain HTTP, one watch), and the
 * sim's resident set size (`/proc/PID/status`) after 10,000 and after 50,000 Jobs. A sim whose
 * memory levels off shows about the same figure at both points.
 *
 * Under load the sim's RSS swings by 150 MB and more with V8's major collections, which come a
 * minute or more apart: one reading says more about where that cycle stands than about what the
 * sim keeps. So each reading is taken the same way — the driver pauses, the sim idles long
 * enough for its timed clean-ups (Event expiry, history compaction) to run, a full collection
 * is asked for over the inspector protocol (`HeapProfiler.collectGarbage`), then VmRSS and the
 * JS heap in use (`Runtime.getHeapUsage`: what the sim retains) are read. The peak under load
 * (VmHWM) is reported beside.
 *
 * The same run gives the sim's CPU per Job lifecycle (create → pod → Complete → delete): its
 * utime + stime (`/proc/PID/stat`) over the Jobs after the checkpoint, warmed up and without
 * the idle pauses, divided by their number.
 *
 * Run alone with `npx tsx bench/sim-memory.ts [JOBS [CHECKPOINT]] [-- SIM ARGS AFTER node]`;
 * `bench/run.ts` collects its rows through {@link simMemorySection}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { Agent, request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';
import { round, type BenchRow, type BenchSection } from './section.js';
import { instantJob, JobMilestones } from './sim-churn.js';

/** Workload size. */
export interface SimMemoryOptions {
  /** Jobs taken through the sim in all. @default 50000 */
  jobs?: number;
  /** The earlier reading, after this many Jobs. @default 10000 */
  checkpoint?: number;
  /** Jobs between create and gone at any time. @default 32 */
  inFlight?: number;
  /** The sim's `--time-scale`. @default 0.001 */
  timeScale?: number;
  /**
   * Idle time before each reading, in real ms: longer than the sim's Event TTL and two history
   * compactions at `timeScale` (3.6 s and 0.6 s at 0.001). @default 5000
   */
  settleMs?: number;
  /**
   * The sim's command line after `node`, run from the repository root.
   * @default ['--import', 'tsx', 'src/cli/main.ts', 'sim', '--runtime', 'scripted', '--time-scale', TIME_SCALE]
   */
  simArgs?: string[];
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const label = 'memory';
const namespace = 'default';

interface SimProcess {
  child: ChildProcess;
  /** The API server. */
  url: string;
  /** The inspector's WebSocket (`--inspect=127.0.0.1:0`). */
  inspector: string;
}

/** The sim as a child process with its inspector open, once it listens. */
async function startSimProcess(args: string[]): Promise<SimProcess> {
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const found = (text: string, pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(text === 'out' ? out : err);
        if (match?.[1]) resolve(match[1]);
      };
      (text === 'out' ? child.stdout : child.stderr)?.on('data', check);
      child.once('exit', (code) => reject(new Error(`the sim exited (${String(code)}): ${out}${err}`)));
    });
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    // The inspector's own notices are expected; anything else the sim says is shown.
    for (const line of chunk.split('\n')) {
      if (line && !/^(Debugger (listening|attached|ending)|For help, see|Waiting for the debugger)/.test(line)) {
        process.stderr.write(`sim: ${line}\n`);
      }
    }
  });
  const [url, inspector] = await Promise.all([
    found('out', /listening on (http:\/\/\S+)/),
    found('err', /Debugger listening on (ws:\/\/\S+)/),
  ]);
  return { child, url, inspector };
}

/** A full garbage collection in the sim, then its JS heap in use (MiB), through its inspector. */
async function collectAndMeasureHeap(inspector: string): Promise<number> {
  const socket = new WebSocket(inspector);
  const pending = new Map<number, (result: unknown) => void>();
  socket.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  let nextId = 0;
  const call = (method: string): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method }));
    });
  try {
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const { usedSize } = (await call('Runtime.getHeapUsage')) as { usedSize: number };
    return usedSize / 2 ** 20;
  } finally {
    socket.close();
  }
}

/** Linux's USER_HZ: the unit of utime and stime in `/proc/PID/stat`. */
const clockTicksPerSecond = 100;

/** CPU time the process has used so far, ms (utime + stime, fields 14 and 15 of `/proc/PID/stat`). */
async function procCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`no utime/stime in /proc/${String(pid)}/stat`);
  return (ticks * 1000) / clockTicksPerSecond;
}

/** A field of `/proc/PID/status` (`VmRSS`, `VmHWM`) in MiB. */
async function procStatusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

/** Jobs through create → Complete → delete (Background), seen on one watch of the label. */
class Driver {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 128 });
  readonly #milestones = new JobMilestones();
  #watch: IncomingMessage | undefined;
  #resourceVersion = '';
  #stopped = false;

  constructor(readonly url: string) {}

  async #call(method: string, path: string, body?: unknown): Promise<string> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const headers = payload === undefined ? {} : { 'Content-Type': 'application/json' };
      const req = request(`${this.url}${path}`, { method, agent: this.#agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const ok = res.statusCode !== undefined && res.statusCode < 300;
          if (ok) resolve(text);
          else reject(new Error(`${method} ${path}: ${String(res.statusCode)} ${text}`));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Opens (or, after a clean end, resumes) the watch; events resolve the waiters. */
  openWatch(): Promise<void> {
    const rv = this.#resourceVersion ? `&resourceVersion=${this.#resourceVersion}` : '';
    const path = `/apis/batch/v1/namespaces/${namespace}/jobs?watch=1&labelSelector=bench%3D${label}${rv}`;
    return new Promise((resolve, reject) => {
      const req = request(`${this.url}${path}`, (res) => {
        this.#watch = res;
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
            this.#event(buffer.slice(0, end));
            buffer = buffer.slice(end + 1);
          }
        });
        res.on('end', () => {
          if (this.#stopped || this.#milestones.failure) return;
          this.openWatch().catch((err: unknown) => this.#milestones.fail(err as Error));
        });
        resolve();
      });
      req.on('error', (err) => (this.#stopped ? undefined : this.#milestones.fail(err)));
      req.once('error', reject);
      req.end();
    });
  }

  #event(line: string): void {
    const event = JSON.parse(line) as {
      type: string;
      object: {
        metadata?: { name?: string; resourceVersion?: string };
        status?: { conditions?: { type: string; status: string }[] };
      };
    };
    if (event.type === 'ERROR') {
      this.#milestones.fail(new Error(`the bench watch got ${line}`));
      return;
    }
    this.#resourceVersion = event.object.metadata?.resourceVersion ?? this.#resourceVersion;
    this.#milestones.seen(event.type, event.object);
  }

  /** Jobs `from`..`to - 1`, `inFlight` at a time. */
  async churn(from: number, to: number, inFlight: number): Promise<void> {
    let next = from;
    const worker = async (): Promise<void> => {
      while (next < to) {
        const failure = this.#milestones.failure;
        if (failure) throw failure;
        const name = `${label}-${next++}`;
        const jobs = `/apis/batch/v1/namespaces/${namespace}/jobs`;
        // Armed before the request: the event may come before the answer.
        await Promise.all([
          this.#milestones.until(name, 'Complete'),
          this.#call('POST', jobs, instantJob(name, label)),
        ]);
        await Promise.all([
          this.#milestones.until(name, 'DELETED'),
          this.#call('DELETE', `${jobs}/${name}?propagationPolicy=Background`),
        ]);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const failure = this.#milestones.failure;
    if (failure) throw failure;
  }

  close(): void {
    this.#stopped = true;
    this.#watch?.destroy();
    this.#agent.destroy();
  }
}

/** Runs the memory bench and returns its figures. */
export async function runSimMemoryBench(options: SimMemoryOptions = {}): Promise<BenchRow[]> {
  const jobs = options.jobs ?? 50_000;
  const checkpoint = Math.min(options.checkpoint ?? 10_000, jobs);
  const inFlight = options.inFlight ?? 32;
  const timeScale = options.timeScale ?? 0.001;
  const settleMs = options.settleMs ?? 5000;
  // The kubeconfig the sim writes is not needed: the driver talks plain HTTP.
  const kubeconfig = join(tmpdir(), `k8s-jobs-bench-memory-${String(process.pid)}.kubeconfig`);
  const cli = ['--import', 'tsx', 'src/cli/main.ts', 'sim', '--runtime', 'scripted', '--time-scale', String(timeScale)];
  const sim = await startSimProcess([...(options.simArgs ?? cli), '--kubeconfig-out', kubeconfig]);
  const pid = sim.child.pid!;
  const driver = new Driver(sim.url);
  /** The driver paused: what the sim keeps, once idle and collected. */
  const reading = async (): Promise<{ rss: number; heap: number }> => {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const heap = await collectAndMeasureHeap(sim.inspector);
    return { rss: await procStatusMiB(pid, 'VmRSS'), heap };
  };
  try {
    const atStart = await reading();
    await driver.openWatch();
    let churnMs = performance.now();
    await driver.churn(0, checkpoint, inFlight);
    churnMs = performance.now() - churnMs;
    const atCheckpoint = await reading();
    // The sim's CPU over the second stretch only: warmed up (JIT, pools), no idle settle inside.
    const cpuBefore = await procCpuMs(pid);
    const resumed = performance.now();
    await driver.churn(checkpoint, jobs, inFlight);
    const secondMs = performance.now() - resumed;
    const simCpuMs = (await procCpuMs(pid)) - cpuBefore;
    churnMs += secondMs;
    const peak = await procStatusMiB(pid, 'VmHWM');
    const atEnd = await reading();
    const command = options.simArgs
      ? `node ${options.simArgs.join(' ')}`
      : `k8s-jobs sim --runtime scripted --time-scale ${timeScale}`;
    const n = (count: number) => count.toLocaleString('en-US');
    const how = `idle ${round(settleMs / 1000, 1)} s, then a full GC`;
    const rate = `${round(jobs / (churnMs / 1000))} Jobs/s`;
    const row = (name: string, value: number, note: string): BenchRow => ({
      section: 'sim',
      name,
      value: round(value),
      unit: 'MiB',
      note,
    });
    return [
      row('sim RSS at start', atStart.rss, `${command}; ${how}`),
      row(`sim RSS after ${n(checkpoint)} Jobs`, atCheckpoint.rss, `${how}; create → Complete → delete`),
      row(`sim RSS after ${n(jobs)} Jobs`, atEnd.rss, `${how}; ${inFlight} in flight, ${rate}`),
      row(`sim RSS growth, ${n(checkpoint)} → ${n(jobs)} Jobs`, atEnd.rss - atCheckpoint.rss, 'aim ≤ 50 MB'),
      row(`sim JS heap in use after ${n(checkpoint)} Jobs`, atCheckpoint.heap, `${how} (what it retains)`),
      row(`sim JS heap growth, ${n(checkpoint)} → ${n(jobs)} Jobs`, atEnd.heap - atCheckpoint.heap, how),
      row('sim peak RSS under load', peak, 'VmHWM'),
      {
        section: 'sim',
        name: 'sim CPU per Job lifecycle',
        value: round(simCpuMs / (jobs - checkpoint), 3),
        unit: 'ms',
        note:
          `Jobs ${n(checkpoint)} → ${n(jobs)}: create → pod → Complete → delete, one label watch; ` +
          `/proc/PID/stat utime+stime of the sim; aim ≤ 1`,
      },
      {
        section: 'sim',
        name: 'sim Jobs/s on one core at that cost',
        value: round((jobs - checkpoint) / (simCpuMs / 1000)),
        unit: '/s',
        note: `measured ${round((jobs - checkpoint) / (secondMs / 1000))} Jobs/s wall clock; aim ≥ 1,000`,
      },
    ];
  } finally {
    driver.close();
    sim.child.kill('SIGTERM');
    await new Promise((resolve) =>
      sim.child.exitCode !== null ? resolve(undefined) : sim.child.once('exit', resolve),
    );
    await rm(kubeconfig, { force: true });
  }
}

/** The `sim:memory` section of `npm run bench`. */
export const simMemorySection: BenchSection = { name: 'sim:memory', run: () => runSimMemoryBench() };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `npx tsx bench/sim-memory.ts [JOBS [CHECKPOINT]] [-- SIM ARGS AFTER node]`
  const separator = process.argv.indexOf('--');
  const numbers = process.argv.slice(2, separator < 0 ? undefined : separator).map(Number);
  const simArgs = separator < 0 ? undefined : process.argv.slice(separator + 1);
  console.table(await runSimMemoryBench({ jobs: numbers[0], checkpoint: numbers[1], simArgs }));
}
