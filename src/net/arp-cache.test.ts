import { describe, expect, it } from 'vitest';
import { ArpCache } from './arp-cache.js';

const S = 1_000_000;

describe('ArpCache', () => {
  it('returns what was inserted until the lifetime ends', () => {
    const c = new ArpCache(60 * S, 8);
    c.insert(0x0a4d0001, 0x020000000001, 0);
    expect(c.lookup(0x0a4d0001, 60 * S - 1)).toBe(0x020000000001);
    expect(c.lookup(0x0a4d0001, 60 * S)).toBeUndefined();
    expect(c.has(0x0a4d0001)).toBe(false); // lookup swept it
  });

  it('refreshing an entry renews its lifetime and its MAC', () => {
    const c = new ArpCache(10, 8);
    c.insert(1, 0xa, 0);
    c.insert(1, 0xb, 5);
    expect(c.lookup(1, 14)).toBe(0xb);
    expect(c.entries(0)).toEqual([{ ip: 1, mac: 0xb, expiresAt: 15 }]);
  });

  it('evicts the oldest entry when full', () => {
    const c = new ArpCache(100, 3);
    c.insert(1, 0xa, 0);
    c.insert(2, 0xb, 1);
    c.insert(3, 0xc, 2);
    c.insert(1, 0xa, 3); // refresh: 2 is now the oldest
    c.insert(4, 0xd, 4);
    expect(c.size).toBe(3);
    expect(c.has(2)).toBe(false);
    expect(c.entries(4).map((e) => e.ip)).toEqual([3, 1, 4]);
  });

  it('expire() sweeps in order and nextExpiry() is the oldest', () => {
    const c = new ArpCache(10, 8);
    c.insert(1, 0xa, 0);
    c.insert(2, 0xb, 3);
    expect(c.nextExpiry()).toBe(10);
    c.expire(10);
    expect(c.size).toBe(1);
    expect(c.nextExpiry()).toBe(13);
    c.expire(13);
    expect(c.size).toBe(0);
    expect(c.nextExpiry()).toBeUndefined();
  });

  it('rejects a nonsense configuration', () => {
    expect(() => new ArpCache(0, 1)).toThrow(RangeError);
    expect(() => new ArpCache(1, 0)).toThrow(RangeError);
  });
});
