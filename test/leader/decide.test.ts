import { describe, expect, it, test } from 'vitest';
import { decide, fastRenewal, nextTryMs, observe, releaseRecord } from '../../src/leader/decide.js';
import { resolveLeaderElectionOptions } from '../../src/leader/options.js';
import { rawRecord, toMicroTime, type LeaseRecord } from '../../src/leader/record.js';

/*
 * client-go's tryAcquireOrRenew as pure decisions: time is a number passed in, the Lease a value.
 * The rule that matters most: a Lease expires by the LOCAL time at which this candidate first saw
 * its current record, never by the holder's renewTime (clocks between replicas may disagree).
 */

const config = resolveLeaderElectionOptions({
  leaseName: 'app',
  identity: 'me',
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
});
const t0 = Date.parse('2026-01-01T00:00:00.000Z');

function held(holderIdentity: string, renewedAt: number, leaseTransitions = 3): LeaseRecord {
  return {
    holderIdentity,
    leaseDurationSeconds: 15,
    acquireTime: toMicroTime(renewedAt - 60_000),
    renewTime: toMicroTime(renewedAt),
    leaseTransitions,
  };
}
const read = (record: LeaseRecord) => ({ record, raw: rawRecord(record) });

describe('decide', () => {
  test('no Lease: create it holding it, transitions 0', () => {
    const { decision } = decide(undefined, undefined, config, t0);
    expect(decision).toEqual({
      action: 'create',
      record: {
        holderIdentity: 'me',
        leaseDurationSeconds: 15,
        acquireTime: '2026-01-01T00:00:00.000000Z',
        renewTime: '2026-01-01T00:00:00.000000Z',
        leaseTransitions: 0,
      },
    });
  });

  test("a renewTime an hour old does not make a Lease expired: expiry runs from this candidate's first sight", () => {
    const other = held('other', t0 - 3_600_000);
    const first = decide(undefined, read(other), config, t0);
    expect(first.decision).toEqual({ action: 'wait', holder: 'other' });
    expect(first.observed?.observedAt).toBe(t0);
    // The same record read again 14.999 s later: still valid.
    const again = decide(first.observed, read(other), config, t0 + 14_999);
    expect(again.decision).toEqual({ action: 'wait', holder: 'other' });
    expect(again.observed?.observedAt).toBe(t0);
    // Unchanged for the full 15 s of local time: taken over, transitions + 1, acquired now.
    const expired = decide(again.observed, read(other), config, t0 + 15_000);
    expect(expired.decision).toEqual({
      action: 'update',
      record: expect.objectContaining({
        holderIdentity: 'me',
        leaseTransitions: 4,
        acquireTime: toMicroTime(t0 + 15_000),
      }) as unknown,
    });
  });

  test('a renewal seen restarts the wait', () => {
    const first = decide(undefined, read(held('other', t0)), config, t0);
    const renewed = decide(first.observed, read(held('other', t0 + 2000)), config, t0 + 14_000);
    expect(renewed.observed?.observedAt).toBe(t0 + 14_000);
    expect(decide(renewed.observed, read(held('other', t0 + 2000)), config, t0 + 20_000).decision.action).toBe('wait');
  });

  test('an empty holder (released) is taken at once, with transitions + 1', () => {
    const released = { ...held('', t0), leaseDurationSeconds: 1 };
    expect(decide(undefined, read(released), config, t0).decision).toMatchObject({
      action: 'update',
      record: { holderIdentity: 'me', leaseDurationSeconds: 15, leaseTransitions: 4 },
    });
  });

  test('our own Lease is renewed keeping acquireTime and transitions', () => {
    const mine = held('me', t0);
    expect(decide(undefined, read(mine), config, t0 + 1000).decision).toEqual({
      action: 'update',
      record: { ...mine, renewTime: toMicroTime(t0 + 1000) },
    });
  });
});

describe('fastRenewal and releaseRecord', () => {
  test('the fast path renews only while our own observation is valid', () => {
    const mine = observe(held('me', t0), t0);
    expect(fastRenewal(mine, config, t0 + 2000)).toMatchObject({ holderIdentity: 'me', leaseTransitions: 3 });
    expect(fastRenewal(mine, config, t0 + 15_000)).toBeUndefined();
    expect(fastRenewal(observe(held('other', t0), t0), config, t0 + 2000)).toBeUndefined();
  });

  test('release empties the holder, keeps transitions, duration 1 s; only when we hold it', () => {
    expect(releaseRecord(observe(held('me', t0), t0), config, t0 + 500)).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: toMicroTime(t0 + 500),
      renewTime: toMicroTime(t0 + 500),
      leaseTransitions: 3,
    });
    expect(releaseRecord(observe(held('other', t0), t0), config, t0)).toBeUndefined();
  });
});

describe('nextTryMs: the follower tries again at the expiry it observed, if that comes before the jittered retry', () => {
  const config = resolveLeaderElectionOptions({ leaseName: 'l', identity: 'me' });
  it('waits the jittered retry period when nobody holds the Lease, or it has expired', () => {
    expect(nextTryMs(config, undefined, 0, 0.5, 1.2)).toBe(2000 * 1.6);
    expect(nextTryMs(config, observe(held('', 0), 0), 1000, 0.5, 1.2)).toBe(2000 * 1.6);
    expect(nextTryMs(config, observe(held('other', 0), 0), 20_000, 0.5, 1.2)).toBe(2000 * 1.6);
  });
  it('cuts the wait to the observed expiry (plus a margin), never earlier', () => {
    // Observed at 0 with 15 s: valid until 15,000 by this candidate's clock.
    expect(nextTryMs(config, observe(held('other', 0), 0), 14_000, 0.9, 1.2)).toBe(1005);
    expect(nextTryMs(config, observe(held('other', 0), 0), 1_000, 0.9, 1.2)).toBe(2000 * (1 + 0.9 * 1.2));
  });
});
