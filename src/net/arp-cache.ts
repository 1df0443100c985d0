// The neighbour table: IP → MAC with a fixed lifetime per entry, bounded in size. ARP keys it
// by IPv4, NDP (ndp.ts) by IPv6: one table, two families.
//
// A Map keeps insertion order and every (re)insert moves the entry to the end, so with one
// TTL for all entries the Map is sorted by expiry: the oldest entry is the first one, which
// makes eviction, expiry and "next expiry" O(1) per entry touched.

import type { IpAddr, Ipv4, Mac } from '../wire/index.js';

/** One row of the cache as shown by entries(). */
export interface ArpCacheEntry<K extends IpAddr = Ipv4> {
  readonly ip: K;
  readonly mac: Mac;
  /** Monotonic µs at which the entry stops being used. */
  readonly expiresAt: number;
}

interface Slot {
  mac: Mac;
  /** The MAC again as three 16-bit numbers (small integers, never boxed), for lookupInto(). */
  m0: number;
  m1: number;
  m2: number;
  expiresAt: number;
}

const TWO_32 = 0x1_0000_0000;

/** IP → MAC, each entry living `ttlUs`, at most `max` entries (the oldest is evicted). */
export class ArpCache<K extends IpAddr = Ipv4> {
  private readonly map = new Map<K, Slot>();
  /** The map's first (oldest) slot, or undefined when not known: nextExpiry() runs after every unit, and an iterator per call is garbage. */
  private oldest: Slot | undefined;

  constructor(
    readonly ttlUs: number,
    readonly max: number,
  ) {
    if (!(ttlUs > 0) || !Number.isInteger(max) || max < 1) throw new RangeError('ArpCache: ttlUs > 0 and max >= 1 required');
  }

  /** The MAC of `ip` if known and not expired. */
  lookup(ip: K, now: number): Mac | undefined {
    return this.live(ip, now)?.mac;
  }

  /**
   * lookup() that writes the MAC at buf[off..off+6) instead of returning it (true) or writes
   * nothing (false): a MAC above 2^31 returned as a number is a heap object, and a sender
   * looks one up per frame.
   */
  lookupInto(ip: K, now: number, buf: Uint8Array, off: number): boolean {
    const s = this.live(ip, now);
    if (s === undefined) return false;
    buf[off] = s.m0 >>> 8;
    buf[off + 1] = s.m0 & 0xff;
    buf[off + 2] = s.m1 >>> 8;
    buf[off + 3] = s.m1 & 0xff;
    buf[off + 4] = s.m2 >>> 8;
    buf[off + 5] = s.m2 & 0xff;
    return true;
  }

  private live(ip: K, now: number): Slot | undefined {
    const s = this.map.get(ip);
    if (s === undefined) return undefined;
    if (now >= s.expiresAt) {
      this.drop(ip);
      return undefined;
    }
    return s;
  }

  /** Insert or refresh `ip` → `mac` with a full lifetime; evicts the oldest entry when full. */
  insert(ip: K, mac: Mac, now: number): void {
    if (!this.drop(ip) && this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.drop(oldest.value);
    }
    const lo = mac % TWO_32;
    const slot: Slot = { mac, m0: Math.floor(mac / TWO_32) & 0xffff, m1: lo >>> 16, m2: lo & 0xffff, expiresAt: now + this.ttlUs };
    if (this.map.size === 0) this.oldest = slot;
    this.map.set(ip, slot);
  }

  /** Delete `ip`'s slot; the oldest is looked up again when next asked for. */
  private drop(ip: K): boolean {
    this.oldest = undefined;
    return this.map.delete(ip);
  }

  /** True if an entry (possibly expired but not yet swept) exists for `ip`. */
  has(ip: K): boolean {
    return this.map.has(ip);
  }

  /** Remove `ip`'s entry; true if there was one. */
  remove(ip: K): boolean {
    return this.drop(ip);
  }

  /** Drop every entry whose lifetime has ended. */
  expire(now: number): void {
    for (const [ip, s] of this.map) {
      if (now < s.expiresAt) break; // sorted by expiry: the rest are younger
      this.drop(ip);
    }
  }

  /** When the oldest entry expires, or undefined if the cache is empty. */
  nextExpiry(): number | undefined {
    if (this.map.size === 0) return undefined;
    if (this.oldest === undefined) for (const s of this.map.values()) return (this.oldest = s).expiresAt;
    return this.oldest!.expiresAt;
  }

  /** The live entries, oldest first. */
  entries(now: number): ArpCacheEntry<K>[] {
    const out: ArpCacheEntry<K>[] = [];
    for (const [ip, s] of this.map) if (now < s.expiresAt) out.push({ ip, mac: s.mac, expiresAt: s.expiresAt });
    return out;
  }

  /** Number of stored entries (expired ones count until swept by expire() or lookup()). */
  get size(): number {
    return this.map.size;
  }
}
