// IPv6's state in the socket set (when the OS installs ipv6Protocol): our addresses with their
// duplicate-address-detection state and lifetimes, the neighbour cache and the packets waiting
// on resolution, on-link prefixes and the default router learnt from router advertisements,
// and the router-solicitation schedule. Every table is bounded; ipv6.ts and ndp.ts are
// functions over it; its timers are ndp.ts's.

import { interfaceIdFromMac } from '../wire/index.js';
import type { Ipv6, Mac } from '../wire/index.js';
import { ArpCache } from './arp-cache.js';
import type { InterfaceInner, PendingResolution } from './iface.js';
import type { Ipv6Config } from './ipv6-config.js';
import { ipv6PollAt, pollIpv6, startIpv6 } from './ndp.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';

/** RFC 4862's address states, plus 'duplicate' for one DAD (or the nanokernel) refused. */
export type Ipv6AddrState = 'tentative' | 'preferred' | 'deprecated' | 'duplicate';

export interface Ipv6AddrEntry {
  readonly addr: Ipv6;
  readonly prefixLen: number;
  readonly origin: 'link-local' | 'slaac';
  state: Ipv6AddrState;
  /** Neighbor solicitations sent for DAD so far, and when the next step is due. */
  dadSent: number;
  dadNextAt: number;
  /** Monotonic µs; Infinity for the link-local address and infinite lifetimes. */
  preferredUntil: number;
  validUntil: number;
}

/** An address as `stats` shows it. */
export interface Ipv6AddrInfo {
  addr: Ipv6;
  prefixLen: number;
  origin: 'link-local' | 'slaac';
  state: Ipv6AddrState;
  /** Monotonic µs, or undefined when infinite. */
  validUntil: number | undefined;
}

export interface OnLinkPrefix {
  readonly prefix: Ipv6;
  readonly prefixLen: number;
  validUntil: number;
}

export class Ipv6Sockets implements ProtocolState {
  readonly addrs = new Map<Ipv6, Ipv6AddrEntry>();
  readonly neighbours: ArpCache<Ipv6>;
  readonly pending = new Map<Ipv6, PendingResolution>();
  /** Keyed by prefix text + "/" + length. */
  readonly onLink = new Map<string, OnLinkPrefix>();
  router: { addr: Ipv6; until: number } | undefined;
  rsSent = 0;
  rsNextAt: number | undefined;
  /** Multicast MACs we asked the device for. */
  readonly groups = new Set<Mac>();
  /** Our modified EUI-64 interface identifier (16 hex digits). */
  readonly iid: string;
  started = false;

  readonly cfg: Ipv6Config;

  constructor(readonly inner: InterfaceInner) {
    this.cfg = inner.cfg.nd;
    this.neighbours = new ArpCache<Ipv6>(this.cfg.neighbourTtlUs, this.cfg.neighbourMax);
    this.iid = interfaceIdFromMac(inner.mac);
  }

  /** Join all-nodes, put the link-local address under DAD, then solicit routers. Idempotent. */
  start(): void {
    startIpv6(this.inner, this);
  }

  pollAt(): number | undefined {
    return ipv6PollAt(this);
  }

  poll(now: number): void {
    pollIpv6(this.inner, this, now);
  }

  /** The addresses we may use as a source now, for the nanokernel's address set. */
  usableAddresses(): Ipv6[] {
    return [...this.addrs.keys()].filter((a) => this.usable(a));
  }

  /** An address we may send from and answer on (DAD done, still valid). */
  usable(a: Ipv6): boolean {
    const e = this.addrs.get(a);
    return e !== undefined && (e.state === 'preferred' || e.state === 'deprecated');
  }

  /** The link-local address once it is usable. */
  linkLocal(): Ipv6 | undefined {
    for (const e of this.addrs.values()) if (e.origin === 'link-local' && e.state !== 'tentative' && e.state !== 'duplicate') return e.addr;
    return undefined;
  }

  info(): Ipv6AddrInfo[] {
    return [...this.addrs.values()].map((e) => ({
      addr: e.addr,
      prefixLen: e.prefixLen,
      origin: e.origin,
      state: e.state,
      validUntil: Number.isFinite(e.validUntil) ? e.validUntil : undefined,
    }));
  }
}

export const IPV6_SOCKETS = new SocketKey<Ipv6Sockets>('ipv6');
