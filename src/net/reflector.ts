// The policy of services that answer whatever arrives (UDP echo, RFC 862, and any like it). Two
// such services pointed at each other answer each other forever: one forged datagram, from one
// reflector's address and port to another's, starts a loop that only ends when the machine
// does (Fraggle, CVE-1999-0103). So a reflector
// - never answers a source port of a well-known reflector: echo 7, discard 9, daytime 13,
//   qotd 17, chargen 19, time 37 (FreeBSD inetd's check_loop list);
// - answers one source at most `perSecond` times a second (a token bucket of `burst` per source
//   address), so a loop with a reflector on any other port, or a flood with a spoofed victim's
//   address, is bounded; the table of sources is bounded too (maxSources, the least recently
//   seen evicted).
// Pure: time is the caller's (monotonic µs).

import type { Ipv4 } from '../wire/index.js';

/** Ports of services that answer every datagram: never answer a datagram from one. */
export const REFLECTOR_PORTS: ReadonlySet<number> = new Set([7, 9, 13, 17, 19, 37]);

export interface ReflectorLimits {
  /** Replies per second to one source address; 0 means no rate limit (reflector ports still apply). */
  perSecond: number;
  /** Replies one source may have back to back. */
  burst: number;
  /** Sources tracked at once; the least recently seen is forgotten to make room. */
  maxSources: number;
}

export const DEFAULT_REFLECTOR_LIMITS: ReflectorLimits = { perSecond: 1000, burst: 64, maxSources: 256 };

export type ReflectorVerdict = 'answer' | 'reflector-port' | 'rate-limited';

export interface ReflectorCounters {
  answered: number;
  /** Not answered: the source port is a well-known reflector's. */
  reflectorPort: number;
  /** Not answered: the source's token bucket was empty. */
  rateLimited: number;
  /** Sources forgotten to keep the table within maxSources. */
  sourcesEvicted: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Decides, per received datagram, whether a reflector service may answer it. */
export class ReflectorGuard {
  readonly counters: ReflectorCounters = { answered: 0, reflectorPort: 0, rateLimited: 0, sourcesEvicted: 0 };
  readonly limits: ReflectorLimits;
  private readonly sources = new Map<Ipv4, Bucket>();

  /** Throws RangeError on limits out of range (a caller's bug). */
  constructor(limits: Partial<ReflectorLimits> = {}) {
    const l = { ...DEFAULT_REFLECTOR_LIMITS, ...limits };
    if (!(l.perSecond >= 0) || !Number.isFinite(l.perSecond)) throw new RangeError(`reflector: perSecond ${l.perSecond} must be >= 0`);
    if (!Number.isInteger(l.burst) || l.burst < 1) throw new RangeError(`reflector: burst ${l.burst} must be an integer >= 1`);
    if (!Number.isInteger(l.maxSources) || l.maxSources < 1) throw new RangeError(`reflector: maxSources ${l.maxSources} must be an integer >= 1`);
    this.limits = l;
  }

  /** May a reply go to `src`:`srcPort` now (µs)? Counts the verdict; an answer takes a token. */
  check(src: Ipv4, srcPort: number, now: number): ReflectorVerdict {
    if (REFLECTOR_PORTS.has(srcPort)) {
      this.counters.reflectorPort++;
      return 'reflector-port';
    }
    if (this.limits.perSecond > 0 && !this.take(src, now)) {
      this.counters.rateLimited++;
      return 'rate-limited';
    }
    this.counters.answered++;
    return 'answer';
  }

  /** Sources in the table. */
  get trackedSources(): number {
    return this.sources.size;
  }

  private take(src: Ipv4, now: number): boolean {
    const { perSecond, burst, maxSources } = this.limits;
    let b = this.sources.get(src);
    if (b === undefined) {
      if (this.sources.size >= maxSources) {
        const lru = this.sources.keys().next().value!;
        this.sources.delete(lru);
        this.counters.sourcesEvicted++;
      }
      b = { tokens: burst, at: now };
    } else {
      // Most recently seen last: the Map's first key is the one to evict.
      this.sources.delete(src);
      const refill = ((now - b.at) * perSecond) / 1_000_000;
      if (refill > 0) b.tokens = Math.min(burst, b.tokens + refill);
      b.at = now;
    }
    this.sources.set(src, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
