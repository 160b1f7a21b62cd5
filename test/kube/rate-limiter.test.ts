import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createKubeAdapter } from '../../src/kube/kube-adapter.js';
import { RateLimiter } from '../../src/kube/rate-limiter.js';
import type { Sleep } from '../../src/time/sleep.js';
import { startSimulatedCluster, type SimulatedCluster } from '../../src/sim/index.js';
import { waitUntil } from '../helpers/wait.js';

/** A clock that only moves when someone sleeps on it: waits are exact and instant. */
function fakeTime(): { now: () => number; sleep: Sleep; sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleeps,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      // Time passes while the sleeper is away, not at the moment it lies down.
      await Promise.resolve();
      t += ms;
    },
  };
}

describe('RateLimiter', () => {
  test('.acquire() - a full bucket lets `burst` calls through at once, then one per 1/qps', async () => {
    const time = fakeTime();
    const limiter = new RateLimiter({ qps: 10, burst: 5, ...time });
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) waits.push(await limiter.acquire());
    expect(waits.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    // Each further call waits for one token: 100 ms at 10 QPS (time moves only by those sleeps).
    expect(waits.slice(5).map(Math.round)).toEqual([100, 100, 100]);
    expect(limiter.stats()).toMatchObject({ acquired: 8, delayed: 3 });
  });

  test('.acquire() - concurrent callers are let through 1/qps apart, in arrival order', async () => {
    const time = fakeTime();
    const limiter = new RateLimiter({ qps: 4, burst: 1, ...time });
    const released: [number, number][] = []; // [caller, ms waited]
    await Promise.all([0, 1, 2, 3].map((i) => limiter.acquire().then((waited) => released.push([i, waited]))));
    expect(released).toEqual([
      [0, 0],
      [1, 250],
      [2, 500],
      [3, 750],
    ]);
  });

  test('.acquire() - an aborted wait rejects with the reason and spends no token', async () => {
    const time = fakeTime();
    const limiter = new RateLimiter({ qps: 1, burst: 1, ...time });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    await waitUntil(() => limiter.stats().waiting === 0 && time.now() >= 1000, 'the refill');
    // The token that refilled meanwhile was not given to the aborted caller: the next one takes it at once.
    expect(await limiter.acquire()).toBe(0);
    expect(limiter.stats()).toMatchObject({ acquired: 2, waiting: 0 });
  });

  test('after the process was busy, at most `burst` callers go at once', async () => {
    let t = 0;
    let wake: (() => void) | undefined;
    // A timer that fires late: the event loop was blocked for 5 s meanwhile.
    const limiter = new RateLimiter({
      qps: 10,
      burst: 3,
      now: () => t,
      sleep: () => new Promise<void>((resolve) => (wake = resolve)),
    });
    for (let i = 0; i < 3; i++) await limiter.acquire();
    const released: number[] = [];
    const calls = Array.from({ length: 10 }, () => limiter.acquire().then(() => released.push(t)));
    t = 5000;
    wake?.();
    await waitUntil(() => released.length === 3, 'the first three');
    await Promise.resolve();
    expect(released).toEqual([5000, 5000, 5000]);
    for (let next = 5100; released.length < 10; next += 100) {
      t = next;
      wake?.();
      await waitUntil(() => released.length === Math.min(10, 3 + (next - 5000) / 100), `the release at ${next}`);
    }
    await Promise.all(calls);
    expect(released.slice(3)).toEqual([5100, 5200, 5300, 5400, 5500, 5600, 5700]);
  });

  test('refuses a nonsensical configuration', () => {
    expect(() => new RateLimiter({ qps: 0 })).toThrow(RangeError);
    expect(() => new RateLimiter({ burst: 0 })).toThrow(RangeError);
  });
});

describe('rate limit ceiling, measured by the API server', () => {
  let cluster: SimulatedCluster;
  beforeAll(async () => {
    cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { enabled: false } });
  });
  afterAll(async () => cluster.close());

  test('requests arriving at the server never exceed burst + qps·T in any window', async () => {
    const qps = 50;
    const burst = 5;
    const kube = createKubeAdapter({ kubeConfig: cluster.kubeConfig, namespace: 'default', rateLimit: { qps, burst } });
    // The sim stamps arrivals on this process's event loop: requests that reach it during a stall (a
    // loaded machine) are stamped together when the loop resumes, bunched by up to qps × the stall.
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const since = Date.now();
    // 60 concurrent calls: unthrottled they would all arrive within a few milliseconds.
    await Promise.all(Array.from({ length: 60 }, (_, i) => kube.jobs.getJob(`absent-${i}`)));
    loop.disable();
    const stallJitter = Math.ceil((qps * loop.max) / 1e9);
    const arrivals = cluster
      .requests()
      .filter((r) => r.at >= since && r.verb === 'get' && r.resource === 'jobs')
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(arrivals).toHaveLength(60);
    for (const windowMs of [100, 250, 500, 1000]) {
      let most = 0;
      for (let i = 0, j = 0; i < arrivals.length; i++) {
        while ((arrivals[i] ?? 0) - (arrivals[j] ?? 0) >= windowMs) j++;
        most = Math.max(most, i - j + 1);
      }
      // +2: arrival times carry network jitter that can bring two neighbours a little closer.
      expect(most, `requests within ${windowMs} ms (event loop stalled ${loop.max / 1e6} ms)`).toBeLessThanOrEqual(
        burst + Math.ceil((qps * windowMs) / 1000) + 2 + stallJitter,
      );
    }
    expect(kube.limiter.stats().delayed).toBe(55);
  });
});
