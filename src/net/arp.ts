// ARP (RFC 826) over the interface: ingress processArp, egress dispatchArp, and neighbour
// resolution for outgoing IPv4 frames (the pending queue, retries and failure in pollArp). The
// cache and pending queue are the interface's (inner.arp, inner.pending); ARP's entry in the
// socket set carries its timers.

import {
  ARP_PACKET_LEN,
  ArpOperation,
  ArpPacket,
  ArpRepr,
  ETHERNET_HEADER_LEN,
  EtherType,
  EthernetRepr,
  MAC_BROADCAST,
  isWireError,
  writeMac,
} from '../wire/index.js';
import type { Ipv4, Mac } from '../wire/index.js';
import type { NetProtocol, RxMeta } from './dispatch.js';
import type { InterfaceInner, PendingResolution } from './iface.js';
import { AddressProbe } from './arp-probe.js';
import type { ProbeOptions } from './arp-probe.js';
import { PacketBuffer } from './packet-buffer.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';

const NO_MAC: Mac = 0;

/** RFC 5227 2.4 (b): after defending our address, do not defend it again for this long. */
export const DEFEND_INTERVAL_US = 10_000_000;

/**
 * Ingress: one ARP packet (an Ethernet payload, possibly padded).
 *
 * RFC 826's merge: a sender already in the cache is refreshed whoever the target is (this is
 * how gratuitous ARP from others updates us); a packet targeting our address also inserts the
 * sender, and a request targeting us is answered by unicast to the sender. A probe (sender IP
 * 0.0.0.0, RFC 5227) for our address is answered but teaches nothing. The sender MAC must be
 * the frame's Ethernet source ('arp-sha-mismatch'): we trust no proxy, so no one can bind an
 * address to a MAC other than their own. Someone else using our address is an 'arp-conflict'
 * (arpConflicts, and an event): we neither learn nor answer, and defend it per RFC 5227 2.4.
 */
export function processArp(inner: InterfaceInner, payload: Uint8Array, rx: RxMeta): void {
  const p = ArpPacket.checked(payload);
  if (isWireError(p)) return inner.malformed(p);
  const c = inner.counters;
  const op = p.operation();
  if (op === ArpOperation.Request) c.arpRequestsRx++;
  else if (op === ArpOperation.Reply) c.arpRepliesRx++;
  else return inner.dropRx('unsupported');

  const sha = p.senderHwAddr();
  const spa = p.senderProtoAddr();
  const tpa = p.targetProtoAddr();
  // The stack has already refused a zero, group or our own MAC as Ethernet source, so from
  // here on sha is a unicast MAC that is not ours.
  if (sha !== rx.srcMac) return inner.dropRx('arp-sha-mismatch');
  const state = inner.sockets.require(ARP_STATE);
  if (state.probes.size > 0) observeProbes(state, op, sha, spa, tpa);
  // (An interface with no address yet, a DHCP client's, has nothing to defend: a probe's 0.0.0.0 is not a claim.)
  if (spa === inner.addr && spa !== 0) return conflict(inner, sha);
  const martian = spa === 0 ? undefined : inner.martianSrc(spa);
  if (martian !== undefined) return inner.dropRx(martian);

  const now = inner.now();
  let merged = false;
  if (spa !== 0 && inner.arp.has(spa)) {
    learn(inner, spa, sha, now);
    merged = true;
  }
  // Without an address (a DHCP client before its lease) a request for 0.0.0.0 is not for us.
  if (tpa !== inner.addr || tpa === 0) {
    if (merged) inner.handled();
    else inner.dropRx('not-for-us');
    return;
  }
  // Off-subnet senders are not learned (we would never use them as a next hop), unless we asked.
  if (!merged && spa !== 0 && (inner.inSubnet(spa) || inner.pending.has(spa))) learn(inner, spa, sha, now);
  if (op === ArpOperation.Request) {
    if (dispatchArp(inner, new ArpRepr(ArpOperation.Reply, inner.mac, inner.addr, sha, spa), sha)) c.arpRepliesTx++;
  }
  inner.handled();
}

/**
 * RFC 5227 2.4 (b) and (c): another host (`mac`) claims our address. We keep it (it is
 * configured), defend it with one gratuitous ARP unless we did within DEFEND_INTERVAL_US, and
 * say so in counters and an event, every time.
 */
function conflict(inner: InterfaceInner, mac: Mac): void {
  inner.dropRx('arp-conflict');
  defendAddress(inner, mac);
}

/**
 * The defence itself (RFC 5227 2.4 (b)), also for a claim we did not receive as a frame: the
 * nanokernel dropped it at the switch and told us (NetStack.addressClaimed). Counted in
 * arpConflicts, not as a received frame.
 */
export function defendAddress(inner: InterfaceInner, mac: Mac): void {
  const now = inner.now();
  const state = inner.sockets.require(ARP_STATE);
  const defend = state.lastDefendedAt === undefined || now - state.lastDefendedAt >= DEFEND_INTERVAL_US;
  inner.counters.arpConflicts++;
  if (defend) {
    state.lastDefendedAt = now;
    if (dispatchArp(inner, announcement(inner), MAC_BROADCAST)) inner.counters.arpDefences++;
  }
  inner.emit({ kind: 'arp-conflict', ip: inner.addr, mac, defended: defend, at: now });
}

/** RFC 5227 2.3: a broadcast request with our address as sender and target. */
function announcement(inner: InterfaceInner): ArpRepr {
  return new ArpRepr(ArpOperation.Request, inner.mac, inner.addr, NO_MAC, inner.addr);
}

/** Egress: one ARP packet in a frame of its own. */
export function dispatchArp(inner: InterfaceInner, repr: ArpRepr, dstMac: Mac): boolean {
  const pb = PacketBuffer.alloc(ARP_PACKET_LEN, ETHERNET_HEADER_LEN);
  repr.emit(pb.view());
  new EthernetRepr(dstMac, inner.mac, EtherType.Arp).emit(pb.push(ETHERNET_HEADER_LEN));
  return inner.transmit(pb.frame());
}

/** A gratuitous ARP announcement (RFC 5227 2.3): a broadcast request for our own address. */
export function dispatchAnnouncement(inner: InterfaceInner): boolean {
  const ok = dispatchArp(inner, announcement(inner), MAC_BROADCAST);
  if (ok) inner.counters.arpAnnouncementsTx++;
  return ok;
}

function dispatchRequest(inner: InterfaceInner, target: Ipv4, q: PendingResolution, now: number): void {
  // State first: the request may be answered synchronously (back-to-back stacks), and that
  // answer flushes and removes `q`.
  q.requestsSent++;
  q.nextRetryAt = now + inner.cfg.arpRetryUs;
  if (dispatchArp(inner, new ArpRepr(ArpOperation.Request, inner.mac, inner.addr, NO_MAC, target), MAC_BROADCAST)) {
    inner.counters.arpRequestsTx++;
  }
}

/** Insert `ip` → `mac` and send whatever was waiting for it. */
function learn(inner: InterfaceInner, ip: Ipv4, mac: Mac, now: number): void {
  inner.arp.insert(ip, mac, now);
  const q = inner.pending.get(ip);
  if (q === undefined) return;
  inner.pending.delete(ip);
  for (const frame of q.frames) {
    writeMac(frame, 0, mac);
    inner.transmit(frame);
  }
}

/**
 * Egress: send a finished frame (Ethernet header written, destination MAC still to fill) to the
 * neighbour `nextHop`. Unresolved: queue it (bounded) and ask. True if sent or queued.
 */
export function dispatchToNeighbour(inner: InterfaceInner, nextHop: Ipv4, frame: Uint8Array): boolean {
  const now = inner.now();
  if (inner.arp.lookupInto(nextHop, now, frame, 0)) return inner.transmit(frame);
  const q = inner.pending.get(nextHop);
  if (q !== undefined) {
    if (q.frames.length >= inner.cfg.arpPendingMax) return inner.dropTx('arp-queue-full');
    q.frames.push(frame);
    return true;
  }
  if (inner.pending.size >= inner.cfg.arpPendingAddrMax) evictOldestPending(inner);
  const fresh: PendingResolution = { frames: [frame], requestsSent: 0, nextRetryAt: now };
  inner.pending.set(nextHop, fresh);
  dispatchRequest(inner, nextHop, fresh, now);
  return true;
}

/**
 * Make room for a new address to resolve: drop the oldest resolution and its frames. Spoofed
 * sources can make us resolve addresses that never answer, but they cannot keep a real
 * destination out: it only ever waits behind arpPendingAddrMax - 1 others.
 */
function evictOldestPending(inner: InterfaceInner): void {
  for (const [ip, q] of inner.pending) {
    inner.pending.delete(ip);
    inner.dropTx('arp-pending-evicted', q.frames.length);
    return;
  }
}

/** Timers: expire cache entries, re-ask unresolved addresses, give up after arpMaxRequests. */
export function pollArp(inner: InterfaceInner, now: number): void {
  inner.arp.expire(now);
  for (const [ip, q] of inner.pending) {
    if (now < q.nextRetryAt) continue;
    if (q.requestsSent >= inner.cfg.arpMaxRequests) {
      inner.pending.delete(ip);
      inner.dropTx('arp-failed', q.frames.length);
      continue;
    }
    dispatchRequest(inner, ip, q, now);
  }
}

/** When pollArp next has work: a retry or give-up, or a cache entry's expiry. */
export function arpPollAt(inner: InterfaceInner): number | undefined {
  let at = inner.arp.nextExpiry();
  if (inner.pending.size === 0) return at; // the usual case, with no iterator made for it
  for (const q of inner.pending.values()) if (at === undefined || q.nextRetryAt < at) at = q.nextRetryAt;
  return at;
}

/** Hand an ARP packet to every running probe (RFC 5227 2.1.1); ended probes leave the set. */
function observeProbes(state: ArpState, op: number, sha: Mac, spa: Ipv4, tpa: Ipv4): void {
  for (const p of state.probes) {
    p.observe(op, sha, spa, tpa);
    if (!p.active) state.probes.delete(p);
  }
}

/**
 * Start an RFC 5227 probe for `ip` on this interface (see arp-probe.ts): the boot-time check of
 * a configured address, a DHCP client's check of an offered one. Its probes leave through this
 * interface, every ARP packet received reaches it, and the ARP state's timers drive it.
 */
export function startProbe(inner: InterfaceInner, ip: Ipv4, opts: ProbeOptions): AddressProbe {
  const state = inner.sockets.require(ARP_STATE);
  const probe = new AddressProbe(ip, {
    mac: inner.mac,
    now: inner.now,
    sendArp: (repr, dst) => dispatchArp(inner, repr, dst),
    probeSent: () => inner.counters.arpProbesTx++,
  }, opts);
  state.probes.add(probe);
  return probe;
}

/** ARP's state in the socket set: when we last defended our address, running probes, and the timers of the interface's cache and pending queue. */
export class ArpState implements ProtocolState {
  lastDefendedAt: number | undefined;
  /** RFC 5227 probes running on this interface (startProbe). */
  readonly probes = new Set<AddressProbe>();
  constructor(private readonly inner: InterfaceInner) {}
  pollAt(): number | undefined {
    let at = arpPollAt(this.inner);
    if (this.probes.size === 0) return at;
    for (const p of this.probes) {
      const t = p.pollAt();
      if (t !== undefined && (at === undefined || t < at)) at = t;
    }
    return at;
  }
  poll(now: number): void {
    pollArp(this.inner, now);
    for (const p of this.probes) {
      p.poll(now);
      if (!p.active) this.probes.delete(p);
    }
  }
}

export const ARP_STATE = new SocketKey<ArpState>('arp');

/** The ARP module: the handler for EtherType 0x0806 and its state in the socket set. */
export const arpProtocol: NetProtocol = {
  name: 'arp',
  install(inner: InterfaceInner): void {
    inner.sockets.add(ARP_STATE, new ArpState(inner));
    inner.etherTypes.register(EtherType.Arp, (i, frame, off, rx) => processArp(i, frame.subarray(off), rx));
  },
};
