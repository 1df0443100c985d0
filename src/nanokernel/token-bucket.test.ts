// The token bucket on its own: refill by elapsed time at rate/8 bytes per second up to the burst,
// never backwards, and the earliest time a frame may go.
import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('refuses a rate that is zero, negative or not a number, naming it', () => {
    expect(() => new TokenBucket(0, 1000, 0)).toThrow('rate must be positive, got 0');
    expect(() => new TokenBucket(-8, 1000, 0)).toThrow(/got -8/);
    expect(() => new TokenBucket(Number.NaN, 1000, 0)).toThrow(RangeError);
    expect(new TokenBucket(1, 1000, 0).rateBps).toBe(1);
  });

  it('starts full and refills at rate/8 bytes per second, never past the burst', () => {
    const b = new TokenBucket(16_000_000, 1000, 0); // 2 bytes per µs
    expect(b.allows(1000, 0)).toBe(true);
    expect(b.allows(1001, 0)).toBe(false);
    b.consume(1000);
    expect(b.allows(200, 100)).toBe(true);
    expect(b.allows(201, 100)).toBe(false);
    expect(b.allows(1000, 10_000)).toBe(true);
    expect(b.allows(1001, 10_000)).toBe(false);
  });

  it('does not move when time goes backwards (a late caller)', () => {
    const b = new TokenBucket(16_000_000, 1000, 0);
    b.consume(1000);
    expect(b.allows(200, 100)).toBe(true);
    expect(b.allows(1, 50)).toBe(true); // still 200 tokens, not 100
    expect(b.allows(200, 50)).toBe(true);
    expect(b.allows(201, 50)).toBe(false);
    expect(b.allows(202, 101)).toBe(true); // refilled from 100, not from 50
    expect(b.allows(203, 101)).toBe(false);
  });

  it('says when `bytes` may go: now if it has them, else when the deficit has refilled', () => {
    const b = new TokenBucket(16_000_000, 1000, 0);
    expect(b.readyAt(1000, 7)).toBe(7);
    b.consume(800); // 200 left
    expect(b.readyAt(200, 7)).toBe(7);
    expect(b.readyAt(500, 0)).toBe(150); // 300 missing at 2 bytes per µs (a late caller: no refill)
    expect(b.readyAt(500, 157)).toBe(157); // refilled since 7: 200 + 150 x 2 = 500
  });
});
