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
  expiresAt: number;
}

/** IP → MAC, each entry living `ttlUs`, at most `max` entries (the oldest is evicted). */
export class ArpCache<K extends IpAddr = Ipv4> {
  private readonly map = new Map<K, Slot>();

  constructor(
    readonly ttlUs: number,
    readonly max: number,
  ) {
    if (!(ttlUs > 0) || !Number.isInteger(max) || max < 1) throw new RangeError('ArpCache: ttlUs > 0 and max >= 1 required');
  }

  /** The MAC of `ip` if known and not expired. */
  lookup(ip: K, now: number): Mac | undefined {
    const s = this.map.get(ip);
    if (s === undefined) return undefined;
    if (now >= s.expiresAt) {
      this.map.delete(ip);
      return undefined;
    }
    return s.mac;
  }

  /** Insert or refresh `ip` → `mac` with a full lifetime; evicts the oldest entry when full. */
  insert(ip: K, mac: Mac, now: number): void {
    if (!this.map.delete(ip) && this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(ip, { mac, expiresAt: now + this.ttlUs });
  }

  /** True if an entry (possibly expired but not yet swept) exists for `ip`. */
  has(ip: K): boolean {
    return this.map.has(ip);
  }

  /** Remove `ip`'s entry; true if there was one. */
  remove(ip: K): boolean {
    return this.map.delete(ip);
  }

  /** Drop every entry whose lifetime has ended. */
  expire(now: number): void {
    for (const [ip, s] of this.map) {
      if (now < s.expiresAt) break; // sorted by expiry: the rest are younger
      this.map.delete(ip);
    }
  }

  /** When the oldest entry expires, or undefined if the cache is empty. */
  nextExpiry(): number | undefined {
    for (const s of this.map.values()) return s.expiresAt;
    return undefined;
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
