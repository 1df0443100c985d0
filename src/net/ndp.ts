// Neighbor Discovery for a host (RFC 4861) with duplicate address detection and stateless
// address autoconfiguration (RFC 4862):
// - NS/NA: answer solicitations for our usable addresses (unicast, or to all-nodes when the
//   asker is doing DAD), learn the asker's MAC, resolve our own next hops (bounded queue per
//   neighbour, bounded neighbours being resolved, ndMaxSolicits tries).
// - DAD: a new address is tentative; we join its solicited-node group and send dadTransmits
//   NS from :: one retransUs apart. An NS from :: for it (someone else's DAD) or an NA for it
//   means it is taken: it becomes 'duplicate' and is never used. The nanokernel refusing it
//   (another local guest holds it) counts the same.
// - RS/RA: up to rsMax solicitations once the link-local address is usable; an RA sets the
//   default router and on-link prefixes, and an autonomous /64 prefix forms an address from our
//   interface identifier (RFC 4862 5.5.3, with its two-hour rule against lifetime shortening).
// Every NDP message must arrive with hop limit 255 (it then cannot have crossed a router).
// Simplified: no Neighbor Unreachability Detection state machine (an entry lives neighbourTtlUs
// from the last advertisement), no random delay before the first DAD probe, no MLD reports.

import {
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_UNSPECIFIED,
  isLinkLocalIpv6,
  isMulticastIpv6,
  linkLocalFromMac,
  multicastMacIpv6,
  solicitedNode,
  withInterfaceId,
  writeMac,
} from '../wire/index.js';
import type { Icmpv6Repr, Ipv6, Ipv6Packet, Mac, NdpOption, NdpPrefixInfo } from '../wire/index.js';
import type { InterfaceInner, PendingResolution } from './iface.js';
import type { Ipv6AddrEntry, Ipv6Sockets as Ipv6Inner } from './ipv6-iface.js';
import { dispatchIcmpv6, selectSource } from './ipv6.js';

const NDP_HOP_LIMIT = 255;
const SECOND = 1_000_000;
/** RFC 4862 5.5.3 (e): remaining valid lifetimes are not cut below two hours by an unauthenticated RA. */
const TWO_HOURS = 7200 * SECOND;
const INFINITE_LIFETIME = 0xffff_ffff;

type NdpRepr = Extract<Icmpv6Repr, { kind: 'router-solicit' | 'router-advert' | 'neighbor-solicit' | 'neighbor-advert' }>;

function lladdr(options: readonly NdpOption[], kind: 'source-lladdr' | 'target-lladdr'): Mac | undefined {
  for (const o of options) if (o.kind === kind) return o.mac;
  return undefined;
}

function lifetimeUs(seconds: number, now: number): number {
  return seconds === INFINITE_LIFETIME ? Infinity : now + seconds * SECOND;
}

// ---- addresses and groups -----------------------------------------------------------------

function join(inner: InterfaceInner, v6: Ipv6Inner, group: Mac): void {
  if (v6.groups.has(group)) return;
  v6.groups.add(group);
  inner.multicastMacs.add(group);
  inner.dev.subscribe?.(group);
}

/** Leave groups no address needs any more (all-nodes is kept while IPv6 is on). */
function pruneGroups(inner: InterfaceInner, v6: Ipv6Inner): void {
  const needed = new Set<Mac>([multicastMacIpv6(IPV6_ALL_NODES)]);
  for (const a of v6.addrs.keys()) needed.add(multicastMacIpv6(solicitedNode(a)));
  for (const g of v6.groups) {
    if (needed.has(g)) continue;
    v6.groups.delete(g);
    inner.multicastMacs.delete(g);
    inner.dev.unsubscribe?.(g);
  }
}

/** A new tentative address: join its solicited-node group and send the first DAD probe. */
function addTentative(inner: InterfaceInner, v6: Ipv6Inner, addr: Ipv6, prefixLen: number, origin: Ipv6AddrEntry['origin'], preferredUntil: number, validUntil: number): void {
  const now = inner.now();
  const e: Ipv6AddrEntry = { addr, prefixLen, origin, state: 'tentative', dadSent: 0, dadNextAt: now, preferredUntil, validUntil };
  v6.addrs.set(addr, e);
  join(inner, v6, multicastMacIpv6(solicitedNode(addr)));
  dadStep(inner, v6, e, now);
}

function dadStep(inner: InterfaceInner, v6: Ipv6Inner, e: Ipv6AddrEntry, now: number): void {
  if (e.dadSent < v6.cfg.dadTransmits) {
    e.dadSent++;
    e.dadNextAt = now + v6.cfg.retransUs;
    // RFC 4862 5.4.2: from ::, to the target's solicited-node group, no source link-layer option.
    const ns: Icmpv6Repr = { kind: 'neighbor-solicit', target: e.addr, options: [] };
    if (dispatchIcmpv6(inner, IPV6_UNSPECIFIED, solicitedNode(e.addr), ns, NDP_HOP_LIMIT)) inner.counters.ndpSolicitsTx++;
    return;
  }
  // No one objected: the address is ours, if the nanokernel agrees no other local guest holds it.
  e.state = now < e.preferredUntil ? 'preferred' : 'deprecated';
  if (!inner.publishAddresses()) return dadFailed(inner, v6, e);
  if (e.origin === 'link-local') {
    v6.rsSent = 0;
    v6.rsNextAt = now;
  }
}

function dadFailed(inner: InterfaceInner, v6: Ipv6Inner, e: Ipv6AddrEntry): void {
  const wasUsable = v6.usable(e.addr);
  e.state = 'duplicate';
  inner.counters.dadFailures++;
  if (wasUsable) inner.publishAddresses();
}

function removeAddr(inner: InterfaceInner, v6: Ipv6Inner, e: Ipv6AddrEntry): void {
  const wasUsable = v6.usable(e.addr);
  v6.addrs.delete(e.addr);
  pruneGroups(inner, v6);
  if (wasUsable) inner.publishAddresses();
}

/** Start IPv6: all-nodes joined, the link-local address from the MAC under DAD. Idempotent. */
export function startIpv6(inner: InterfaceInner, v6: Ipv6Inner): void {
  if (v6.started) return;
  v6.started = true;
  join(inner, v6, multicastMacIpv6(IPV6_ALL_NODES));
  addTentative(inner, v6, linkLocalFromMac(inner.mac), 64, 'link-local', Infinity, Infinity);
}

// ---- ingress -------------------------------------------------------------------------------

/** Ingress: one NDP message that passed processIpv6's checks. Counts exactly one outcome. */
export function processNdp(inner: InterfaceInner, v6: Ipv6Inner, ip: Ipv6Packet, r: NdpRepr): void {
  if (ip.hopLimit() !== NDP_HOP_LIMIT) return inner.dropRx('nd-invalid');
  switch (r.kind) {
    case 'neighbor-solicit':
      inner.counters.ndpSolicitsRx++;
      return processSolicit(inner, v6, ip, r.target, r.options);
    case 'neighbor-advert':
      inner.counters.ndpAdvertsRx++;
      return processAdvert(inner, v6, ip, r);
    case 'router-advert':
      inner.counters.ndpRouterAdvertsRx++;
      return processRouterAdvert(inner, v6, ip, r);
    case 'router-solicit':
      // Hosts ignore router solicitations (RFC 4861 6.2.6 is for routers).
      return inner.dropRx('unsupported');
  }
}

function processSolicit(inner: InterfaceInner, v6: Ipv6Inner, ip: Ipv6Packet, target: Ipv6, options: readonly NdpOption[]): void {
  const src = ip.srcAddr();
  const dst = ip.dstAddr();
  const srcLl = lladdr(options, 'source-lladdr');
  // RFC 4861 7.1.1: a multicast target is invalid; a DAD probe (from ::) goes to a solicited-node group and has no source link-layer option.
  if (isMulticastIpv6(target)) return inner.dropRx('nd-invalid');
  if (src === IPV6_UNSPECIFIED && (dst !== solicitedNode(target) || srcLl !== undefined)) return inner.dropRx('nd-invalid');
  const e = v6.addrs.get(target);
  if (e === undefined || e.state === 'duplicate') return inner.dropRx('not-for-us');
  if (e.state === 'tentative') {
    // RFC 4862 5.4.3: someone else probing the same tentative address: neither of us may use it.
    if (src === IPV6_UNSPECIFIED) {
      inner.handled();
      return dadFailed(inner, v6, e);
    }
    return inner.dropRx('tentative');
  }
  inner.handled();
  const now = inner.now();
  if (src === IPV6_UNSPECIFIED) {
    // Defend our address against a DAD probe: advertise to all nodes (RFC 4861 7.2.4).
    sendAdvert(inner, target, IPV6_ALL_NODES, false);
    return;
  }
  if (srcLl !== undefined) learn(inner, v6, src, srcLl, now);
  sendAdvert(inner, target, src, true);
}

function sendAdvert(inner: InterfaceInner, target: Ipv6, dst: Ipv6, solicited: boolean): void {
  const na: Icmpv6Repr = { kind: 'neighbor-advert', router: false, solicited, override: true, target, options: [{ kind: 'target-lladdr', mac: inner.mac }] };
  if (dispatchIcmpv6(inner, target, dst, na, NDP_HOP_LIMIT)) inner.counters.ndpAdvertsTx++;
}

function processAdvert(inner: InterfaceInner, v6: Ipv6Inner, ip: Ipv6Packet, r: Extract<NdpRepr, { kind: 'neighbor-advert' }>): void {
  // RFC 4861 7.1.2: multicast target invalid; a solicited advert cannot go to a group.
  if (isMulticastIpv6(r.target) || (r.solicited && isMulticastIpv6(ip.dstAddr()))) return inner.dropRx('nd-invalid');
  const mine = v6.addrs.get(r.target);
  if (mine !== undefined) {
    if (mine.state === 'tentative') {
      inner.handled();
      return dadFailed(inner, v6, mine);
    }
    if (mine.state === 'duplicate') return inner.dropRx('not-for-us');
    // Someone claims an address we hold: count it and keep ours (RFC 4862 5.4.5 leaves the choice).
    inner.counters.ndpConflicts++;
    return inner.dropRx('nd-conflict');
  }
  const mac = lladdr(r.options, 'target-lladdr');
  // RFC 4861 7.2.5: no entry and no resolution under way: nothing to update.
  if (mac === undefined || (!v6.neighbours.has(r.target) && !v6.pending.has(r.target))) return inner.dropRx('not-for-us');
  inner.handled();
  learn(inner, v6, r.target, mac, inner.now());
}

function processRouterAdvert(inner: InterfaceInner, v6: Ipv6Inner, ip: Ipv6Packet, r: Extract<NdpRepr, { kind: 'router-advert' }>): void {
  const src = ip.srcAddr();
  // RFC 4861 6.1.2: routers speak from their link-local address.
  if (!isLinkLocalIpv6(src)) return inner.dropRx('nd-invalid');
  const now = inner.now();
  const srcLl = lladdr(r.options, 'source-lladdr');
  if (srcLl !== undefined) learn(inner, v6, src, srcLl, now);
  if (r.routerLifetime > 0) v6.router = { addr: src, until: now + r.routerLifetime * SECOND };
  else if (v6.router?.addr === src) v6.router = undefined;
  v6.rsNextAt = undefined; // answered: stop soliciting
  let full = false;
  for (const o of r.options) {
    if (o.kind !== 'prefix-info' || isLinkLocalIpv6(o.prefix) || o.prefixLen > 128) continue;
    if (o.onLink && !onLinkPrefix(v6, o, now)) full = true;
    if (o.autonomous && !autoconfigure(inner, v6, o, now)) full = true;
  }
  if (full) return inner.dropRx('nd-full');
  inner.handled();
}

/** RFC 4861 6.3.4: add, refresh or (valid lifetime 0) remove an on-link prefix. False when the table is full. */
function onLinkPrefix(v6: Ipv6Inner, o: NdpPrefixInfo, now: number): boolean {
  const key = `${o.prefix}/${o.prefixLen}`;
  const cur = v6.onLink.get(key);
  if (o.validLifetime === 0) {
    v6.onLink.delete(key);
    return true;
  }
  if (cur !== undefined) {
    cur.validUntil = lifetimeUs(o.validLifetime, now);
    return true;
  }
  if (v6.onLink.size >= v6.cfg.prefixMax) return false;
  v6.onLink.set(key, { prefix: o.prefix, prefixLen: o.prefixLen, validUntil: lifetimeUs(o.validLifetime, now) });
  return true;
}

/** RFC 4862 5.5.3: form or refresh an address from an autonomous /64. False when we hold too many. */
function autoconfigure(inner: InterfaceInner, v6: Ipv6Inner, o: NdpPrefixInfo, now: number): boolean {
  // (c): preferred > valid is invalid; our interface identifier is 64 bits, so only /64 forms an address.
  if (o.preferredLifetime > o.validLifetime || o.prefixLen !== 64) return true;
  const addr = withInterfaceId(o.prefix, v6.iid);
  const e = v6.addrs.get(addr);
  const validUntil = lifetimeUs(o.validLifetime, now);
  if (e !== undefined) {
    if (e.origin !== 'slaac' || e.state === 'duplicate') return true;
    e.preferredUntil = lifetimeUs(o.preferredLifetime, now);
    // (e): accept a longer lifetime, or anything above two hours; never cut what is left below two hours.
    const remaining = e.validUntil - now;
    if (validUntil - now > TWO_HOURS || validUntil > e.validUntil) e.validUntil = validUntil;
    else if (remaining > TWO_HOURS) e.validUntil = now + TWO_HOURS;
    if (e.state === 'deprecated' && now < e.preferredUntil) e.state = 'preferred';
    return true;
  }
  if (o.validLifetime === 0) return true;
  let slaac = 0;
  for (const x of v6.addrs.values()) if (x.origin === 'slaac') slaac++;
  if (slaac >= v6.cfg.slaacMax) return false;
  addTentative(inner, v6, addr, o.prefixLen, 'slaac', lifetimeUs(o.preferredLifetime, now), validUntil);
  return true;
}

// ---- neighbour resolution ------------------------------------------------------------------

function learn(inner: InterfaceInner, v6: Ipv6Inner, ip: Ipv6, mac: Mac, now: number): void {
  v6.neighbours.insert(ip, mac, now);
  const q = v6.pending.get(ip);
  if (q === undefined) return;
  v6.pending.delete(ip);
  for (const frame of q.frames) {
    writeMac(frame, 0, mac);
    inner.transmit(frame);
  }
}

function solicit(inner: InterfaceInner, v6: Ipv6Inner, target: Ipv6, q: PendingResolution, now: number): void {
  q.requestsSent++;
  q.nextRetryAt = now + v6.cfg.retransUs;
  const src = selectSource(v6, target);
  if (src === undefined) return;
  const ns: Icmpv6Repr = { kind: 'neighbor-solicit', target, options: [{ kind: 'source-lladdr', mac: inner.mac }] };
  if (dispatchIcmpv6(inner, src, solicitedNode(target), ns, NDP_HOP_LIMIT)) inner.counters.ndpSolicitsTx++;
}

/** Egress: a finished frame (destination MAC still to write) to neighbour `nextHop`; queued (bounded) while we ask. */
export function dispatchToNeighbourV6(inner: InterfaceInner, v6: Ipv6Inner, nextHop: Ipv6, frame: Uint8Array): boolean {
  const now = inner.now();
  const mac = v6.neighbours.lookup(nextHop, now);
  if (mac !== undefined) {
    writeMac(frame, 0, mac);
    return inner.transmit(frame);
  }
  const q = v6.pending.get(nextHop);
  if (q !== undefined) {
    if (q.frames.length >= inner.cfg.arpPendingMax) return inner.dropTx('nd-queue-full');
    q.frames.push(frame);
    return true;
  }
  if (v6.pending.size >= inner.cfg.arpPendingAddrMax) return inner.dropTx('nd-pending-full');
  const fresh: PendingResolution = { frames: [frame], requestsSent: 0, nextRetryAt: now };
  v6.pending.set(nextHop, fresh);
  solicit(inner, v6, nextHop, fresh, now);
  return true;
}

// ---- timers --------------------------------------------------------------------------------

/** DAD steps, lifetimes, router and prefix expiry, router solicitations, resolution retries. */
export function pollIpv6(inner: InterfaceInner, v6: Ipv6Inner, now: number): void {
  v6.neighbours.expire(now);
  for (const e of [...v6.addrs.values()]) {
    if (e.state === 'tentative') {
      if (now >= e.dadNextAt) dadStep(inner, v6, e, now);
      continue;
    }
    if (now >= e.validUntil) {
      removeAddr(inner, v6, e);
      continue;
    }
    if (e.state === 'preferred' && now >= e.preferredUntil) e.state = 'deprecated';
  }
  if (v6.router !== undefined && now >= v6.router.until) v6.router = undefined;
  for (const [k, p] of v6.onLink) if (now >= p.validUntil) v6.onLink.delete(k);
  if (v6.rsNextAt !== undefined && now >= v6.rsNextAt) {
    const src = v6.linkLocal();
    if (src !== undefined && v6.rsSent < v6.cfg.rsMax) {
      v6.rsSent++;
      v6.rsNextAt = v6.rsSent < v6.cfg.rsMax ? now + v6.cfg.rsIntervalUs : undefined;
      const rs: Icmpv6Repr = { kind: 'router-solicit', options: [{ kind: 'source-lladdr', mac: inner.mac }] };
      if (dispatchIcmpv6(inner, src, IPV6_ALL_ROUTERS, rs, NDP_HOP_LIMIT)) inner.counters.ndpRouterSolicitsTx++;
    } else {
      v6.rsNextAt = undefined;
    }
  }
  for (const [ip, q] of v6.pending) {
    if (now < q.nextRetryAt) continue;
    if (q.requestsSent >= v6.cfg.ndMaxSolicits) {
      v6.pending.delete(ip);
      inner.dropTx('nd-failed', q.frames.length);
      continue;
    }
    solicit(inner, v6, ip, q, now);
  }
}

/** When pollIpv6 next has work, or undefined. */
export function ipv6PollAt(v6: Ipv6Inner): number | undefined {
  let at = v6.neighbours.nextExpiry();
  for (const e of v6.addrs.values()) {
    if (e.state === 'tentative') at = earlier(at, e.dadNextAt);
    else if (e.state !== 'duplicate') {
      at = earlier(at, e.validUntil);
      if (e.state === 'preferred') at = earlier(at, e.preferredUntil);
    }
  }
  at = earlier(at, v6.router?.until);
  for (const p of v6.onLink.values()) at = earlier(at, p.validUntil);
  at = earlier(at, v6.rsNextAt);
  for (const q of v6.pending.values()) at = earlier(at, q.nextRetryAt);
  return at;
}

/** The earlier of `at` and a finite `t` (undefined: neither is set). */
function earlier(at: number | undefined, t: number | undefined): number | undefined {
  return t !== undefined && Number.isFinite(t) && (at === undefined || t < at) ? t : at;
}
