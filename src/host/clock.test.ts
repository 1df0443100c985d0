// The real clock (SystemClock): its reads are CLOCK_MONOTONIC through performance.now(), its
// timers go to the timerfd as CLOCK_MONOTONIC microseconds; the two must be one time line, or a
// guest's timer would fire early (or late) by the offset between them.
import { describe, expect, it } from 'vitest';
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
