import { describe, expect, it } from 'vitest';
import { DEFAULT_REFLECTOR_LIMITS, REFLECTOR_PORTS, ReflectorGuard } from './reflector.js';
import { ip } from './testing.js';

const A = ip('10.77.0.1');
const B = ip('10.77.0.2');
const S = 1_000_000;

describe('ReflectorGuard', () => {
  it('never answers a well-known reflector port, and answers the ports around them', () => {
    const g = new ReflectorGuard();
    expect([...REFLECTOR_PORTS].sort((a, b) => a - b)).toEqual([7, 9, 13, 17, 19, 37]);
    for (const p of [7, 9, 13, 17, 19, 37]) expect(g.check(A, p, 0)).toBe('reflector-port');
    for (const p of [1, 6, 8, 10, 12, 14, 16, 18, 20, 36, 38, 53, 5000, 65535]) expect(g.check(B, p, 0)).toBe('answer');
    expect(g.counters).toEqual({ answered: 14, reflectorPort: 6, rateLimited: 0, sourcesEvicted: 0 });
    // A refused port takes no token and no table slot.
    expect(g.trackedSources).toBe(1);
  });

  it('answers one source `burst` times back to back, then `perSecond` a second', () => {
    const g = new ReflectorGuard({ perSecond: 10, burst: 3 });
    const run = (n: number, now: number) => Array.from({ length: n }, () => g.check(A, 4000, now));
    expect(run(4, 0)).toEqual(['answer', 'answer', 'answer', 'rate-limited']);
    // Another source has its own bucket.
    expect(g.check(B, 4000, 0)).toBe('answer');
    // One token every 100 ms: none at 99 ms, one at 100 ms.
    expect(run(1, 99_999)).toEqual(['rate-limited']);
    expect(run(2, 100_000)).toEqual(['answer', 'rate-limited']);
    // Refills never exceed the burst, however long the pause.
    expect(run(5, 100 * S)).toEqual(['answer', 'answer', 'answer', 'rate-limited', 'rate-limited']);
    expect(g.counters.rateLimited).toBe(5);
    expect(g.counters.answered).toBe(8);
  });

  it('keeps fractional refills: 10/s over ten 50 ms steps is 5 answers', () => {
    const g = new ReflectorGuard({ perSecond: 10, burst: 1 });
    expect(g.check(A, 4000, 0)).toBe('answer');
    let answered = 0;
    for (let t = 50_000; t <= 500_000; t += 50_000) if (g.check(A, 4000, t) === 'answer') answered++;
    expect(answered).toBe(5);
  });

  it('tracks at most maxSources, forgetting the least recently seen', () => {
    const g = new ReflectorGuard({ perSecond: 1, burst: 1, maxSources: 2 });
    expect(g.check(A, 4000, 0)).toBe('answer');
    expect(g.check(B, 4000, 0)).toBe('answer');
    expect(g.check(A, 4000, 0)).toBe('rate-limited'); // A is now the most recent
    expect(g.check(ip('10.77.0.3'), 4000, 0)).toBe('answer'); // evicts B, not A
    expect(g.trackedSources).toBe(2);
    expect(g.counters.sourcesEvicted).toBe(1);
    expect(g.check(A, 4000, 0)).toBe('rate-limited'); // A was kept, bucket empty
    expect(g.check(B, 4000, 0)).toBe('answer'); // B was forgotten: a fresh bucket
    expect(g.counters.sourcesEvicted).toBe(2);
  });

  it('with perSecond 0 has no rate limit, but still refuses reflector ports', () => {
    const g = new ReflectorGuard({ perSecond: 0 });
    for (let i = 0; i < 1000; i++) expect(g.check(A, 4000, 0)).toBe('answer');
    expect(g.check(A, 19, 0)).toBe('reflector-port');
    expect(g.trackedSources).toBe(0);
  });

  it('has defaults of 1000/s, burst 64, 256 sources, and refuses nonsense limits', () => {
    expect(DEFAULT_REFLECTOR_LIMITS).toEqual({ perSecond: 1000, burst: 64, maxSources: 256 });
    const g = new ReflectorGuard();
    let n = 0;
    while (g.check(A, 4000, 0) === 'answer') n++;
    expect(n).toBe(64);
    for (const bad of [{ perSecond: -1 }, { perSecond: Infinity }, { perSecond: NaN }, { burst: 0 }, { burst: 1.5 }, { maxSources: 0 }, { maxSources: 2.5 }]) {
      expect(() => new ReflectorGuard(bad)).toThrow(RangeError);
    }
  });
});
