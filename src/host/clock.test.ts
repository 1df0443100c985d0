// The real clock (SystemClock): its reads are CLOCK_MONOTONIC through performance.now(), its
// timers go to the timerfd as CLOCK_MONOTONIC microseconds; the two must be one time line, or a
// guest's timer would fire early (or late) by the offset between them.
import { describe, expect, it, vi } from 'vitest';
import { HrTimer } from '../link/hrtimer.js';
import { existsSync } from 'node:fs';
import { addonPath } from '../link/tap.js';
import { SystemClock } from './clock.js';

describe('SystemClock', () => {
  it('reads monotonic microseconds on process.hrtime\'s time line', () => {
    const clock = new SystemClock(false);
    const a = clock.now();
    const monoA = Number(process.hrtime.bigint()) / 1000;
    let prev = a;
    for (let i = 0; i < 1000; i++) {
      const t = clock.now();
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
    }
    const b = clock.now();
    const monoB = Number(process.hrtime.bigint()) / 1000;
    // clock time + originMonoUs is CLOCK_MONOTONIC: each read lands before the hrtime read after
    // it, and b after monoA (to within the offset's calibration, a fraction of a µs).
    expect(a + clock.originMonoUs).toBeLessThanOrEqual(monoA + 2);
    expect(b + clock.originMonoUs).toBeLessThanOrEqual(monoB + 2);
    expect(b + clock.originMonoUs).toBeGreaterThanOrEqual(monoA - 2);
    clock.close();
  });

  it.skipIf(!existsSync(addonPath))('fires timers in deadline order, never before their deadline on the clock they were set on', async () => {
    const clock = new SystemClock(true);
    expect(clock.highResolution).toBe(true);
    const fired: Array<{ id: string; at: number; due: number }> = [];
    const t0 = clock.now();
    const done = new Promise<void>((resolve) => {
      clock.at(t0 + 3000, () => {
        fired.push({ id: 'b', at: clock.now(), due: t0 + 3000 });
        resolve();
      });
      clock.at(t0 + 1500, () => fired.push({ id: 'a', at: clock.now(), due: t0 + 1500 }));
      const c = clock.at(t0 + 2000, () => fired.push({ id: 'c', at: clock.now(), due: t0 + 2000 }));
      c.cancel();
    });
    await done;
    clock.close();
    expect(fired.map((f) => f.id)).toEqual(['a', 'b']);
    for (const f of fired) expect(f.at).toBeGreaterThanOrEqual(f.due);
  });
});

// After close: a machine stopping under load still has guest units asking for timers and deferred
// calls; a closed clock must ignore them, never throw (the timerfd is gone) and never run them.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['timerfd', true],
  ['setTimeout fallback', false],
])('SystemClock (%s)', (_name, hr) => {
  it('runs a timer and a deferred call while open', async () => {
    const clock = new SystemClock(hr);
    const ran: string[] = [];
    clock.at(clock.now() + 1000, () => ran.push('timer'));
    clock.defer(() => ran.push('defer'));
    await sleep(30);
    clock.close();
    expect(ran.sort()).toEqual(['defer', 'timer']);
  });

  it('runs timers set out of order in deadline order (equal deadlines in the order set), and a cancelled one (once or twice) not at all', async () => {
    const clock = new SystemClock(hr);
    const ran: string[] = [];
    const t0 = clock.now();
    clock.at(t0 + 3000, () => ran.push('3'));
    clock.at(t0 + 1000, () => ran.push('1'));
    const two = clock.at(t0 + 2000, () => ran.push('2'));
    const four = clock.at(t0 + 4000, () => ran.push('4'));
    clock.at(t0 + 1500, () => ran.push('1.5'));
    clock.at(t0 + 1500, () => ran.push('1.5 again')); // an equal deadline runs after the one set before it
    two.cancel();
    two.cancel();
    four.cancel();
    await sleep(40);
    clock.close();
    expect(ran).toEqual(['1', '1.5', '1.5 again', '3']);
  });

  it('after close: at() and defer() are accepted, nothing runs, and a pending call is dropped', async () => {
    const clock = new SystemClock(hr);
    const ran: string[] = [];
    clock.defer(() => ran.push('deferred before close'));
    clock.at(clock.now() + 1000, () => ran.push('timer before close'));
    clock.close();
    expect(() => clock.at(clock.now() + 500, () => ran.push('timer after close'))).not.toThrow();
    expect(() => clock.defer(() => ran.push('defer after close'))).not.toThrow();
    const h = clock.at(clock.now(), () => ran.push('due timer after close'));
    expect(() => h.cancel()).not.toThrow();
    clock.close();
    await sleep(30);
    expect(ran).toEqual([]);
  });
});

describe('SystemClock re-arms its timerfd only for an earlier deadline', () => {
  it('a cancelled timer and a later one make no re-arm; the early wake-up finds nothing due and the later timer still runs', async () => {
    const clock = new SystemClock(true);
    if (!clock.highResolution) throw new Error('the native addon is not built (npm run build:native)');
    const armed: number[] = [];
    const armUs = HrTimer.prototype.armUs;
    const spy = vi.spyOn(HrTimer.prototype, 'armUs').mockImplementation(function (this: HrTimer, us: number) {
      armed.push(us);
      armUs.call(this, us);
    });
    try {
      const ran: string[] = [];
      const t0 = clock.now();
      const a = clock.at(t0 + 2_000, () => ran.push('a'));
      expect(armed).toHaveLength(1);
      a.cancel(); // as a guest does per frame: cancel, then a later deadline
      clock.at(t0 + 6_000, () => ran.push('b'));
      expect(armed).toHaveLength(1); // no system call for either
      clock.at(t0 + 1_000, () => ran.push('c')); // earlier than the armed one: armed at once
      expect(armed).toHaveLength(2);
      await sleep(30);
      expect(ran).toEqual(['c', 'b']);
    } finally {
      spy.mockRestore();
      clock.close();
    }
  });
});
