import { describe, expect, it } from 'vitest';
import { writeMac } from '../wire/index.js';
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

describe('ArpCache: per-frame lookups in place', () => {
  it('lookupInto writes the MAC where lookup would return it, and nothing for an unknown or expired entry', () => {
    const c = new ArpCache(60 * S, 8);
    const macs = [0x02_4e_53_00_00_0a, 0xfe_ff_ff_ff_ff_fe, 0x00_00_00_00_00_01, 0x02_80_00_00_00_00];
    macs.forEach((m, i) => c.insert(100 + i, m, 0));
    macs.forEach((m, i) => {
      const buf = new Uint8Array(10).fill(0xee);
      expect(c.lookupInto(100 + i, 5, buf, 2)).toBe(true);
      const want = new Uint8Array(10).fill(0xee);
      writeMac(want, 2, m);
      expect([...buf]).toEqual([...want]);
    });
    const buf = new Uint8Array(6).fill(7);
    expect(c.lookupInto(99, 5, buf, 0)).toBe(false);
    expect(c.lookupInto(100, 60 * S, buf, 0)).toBe(false);
    expect([...buf]).toEqual([7, 7, 7, 7, 7, 7]);
    expect(c.has(100)).toBe(false); // swept, as lookup does
  });

  it('nextExpiry follows the oldest entry through refreshes, removals, evictions and expiry', () => {
    const c = new ArpCache(10, 3);
    expect(c.nextExpiry()).toBeUndefined();
    c.insert(1, 0x0a, 0);
    c.insert(2, 0x0b, 1);
    expect(c.nextExpiry()).toBe(10);
    c.insert(1, 0x0a, 5); // refreshed: 2 is the oldest now
    expect(c.nextExpiry()).toBe(11);
    c.remove(2);
    expect(c.nextExpiry()).toBe(15);
    c.insert(3, 0x0c, 6);
    c.insert(4, 0x0d, 7);
    c.insert(5, 0x0e, 8); // full: evicts 1
    expect(c.nextExpiry()).toBe(16);
    c.expire(16);
    expect(c.nextExpiry()).toBe(17);
    expect(c.lookup(4, 17)).toBeUndefined();
    expect(c.nextExpiry()).toBe(18);
    c.expire(100);
    expect(c.nextExpiry()).toBeUndefined();
  });
});
