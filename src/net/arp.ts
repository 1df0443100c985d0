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
  isMulticastMac,
  isWireError,
  writeMac,
} from '../wire/index.js';
import type { Ipv4, Mac } from '../wire/index.js';
import type { NetProtocol, RxMeta } from './dispatch.js';
import type { InterfaceInner, PendingResolution } from './iface.js';
import { PacketBuffer } from './packet-buffer.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';

const NO_MAC: Mac = 0;

/**
 * Ingress: one ARP packet (an Ethernet payload, possibly padded).
 *
 * RFC 826's merge: a sender already in the cache is refreshed whoever the target is (this is
 * how gratuitous ARP from others updates us); a packet targeting our address also inserts the
 * sender, and a request targeting us is answered by unicast to the sender. A probe (sender IP
 * 0.0.0.0, RFC 5227) for our address is answered but teaches nothing. Someone else using our
 * address is an 'arp-conflict', counted in arpConflicts; we neither learn nor answer.
 */
export function processArp(inner: InterfaceInner, payload: Uint8Array, _rx: RxMeta): void {
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
  if (spa === inner.addr) {
    if (sha === inner.mac) return inner.dropRx('not-for-us'); // our own announcement, looped back
    c.arpConflicts++;
    return inner.dropRx('arp-conflict');
  }
  if (sha === NO_MAC || isMulticastMac(sha) || (spa !== 0 && inner.isMartianSrc(spa))) return inner.dropRx('bad-src');

  const now = inner.now();
  let merged = false;
  if (spa !== 0 && inner.arp.has(spa)) {
    learn(inner, spa, sha, now);
    merged = true;
  }
  if (tpa !== inner.addr) {
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

/** Egress: one ARP packet in a frame of its own. */
export function dispatchArp(inner: InterfaceInner, repr: ArpRepr, dstMac: Mac): boolean {
  const pb = PacketBuffer.alloc(ARP_PACKET_LEN, ETHERNET_HEADER_LEN);
  repr.emit(pb.view());
  new EthernetRepr(dstMac, inner.mac, EtherType.Arp).emit(pb.push(ETHERNET_HEADER_LEN));
  return inner.transmit(pb.frame());
}

/** A gratuitous ARP announcement (RFC 5227 2.3): a broadcast request for our own address. */
export function dispatchAnnouncement(inner: InterfaceInner): boolean {
  const ok = dispatchArp(inner, new ArpRepr(ArpOperation.Request, inner.mac, inner.addr, NO_MAC, inner.addr), MAC_BROADCAST);
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
  const mac = inner.arp.lookup(nextHop, now);
  if (mac !== undefined) {
    writeMac(frame, 0, mac);
    return inner.transmit(frame);
  }
  const q = inner.pending.get(nextHop);
  if (q !== undefined) {
    if (q.frames.length >= inner.cfg.arpPendingMax) return inner.dropTx('arp-queue-full');
    q.frames.push(frame);
    return true;
  }
  if (inner.pending.size >= inner.cfg.arpPendingAddrMax) return inner.dropTx('arp-pending-full');
  const fresh: PendingResolution = { frames: [frame], requestsSent: 0, nextRetryAt: now };
  inner.pending.set(nextHop, fresh);
  dispatchRequest(inner, nextHop, fresh, now);
  return true;
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
  for (const q of inner.pending.values()) if (at === undefined || q.nextRetryAt < at) at = q.nextRetryAt;
  return at;
}

/** ARP's entry in the socket set: the timers of the interface's cache and pending queue. */
class ArpTimers implements ProtocolState {
  constructor(private readonly inner: InterfaceInner) {}
  pollAt(): number | undefined {
    return arpPollAt(this.inner);
  }
  poll(now: number): void {
    pollArp(this.inner, now);
  }
}

export const ARP_TIMERS = new SocketKey<ProtocolState>('arp');

/** The ARP module: the handler for EtherType 0x0806 and its timers in the socket set. */
export const arpProtocol: NetProtocol = {
  name: 'arp',
  install(inner: InterfaceInner): void {
    inner.sockets.add(ARP_TIMERS, new ArpTimers(inner));
    inner.etherTypes.register(EtherType.Arp, processArp);
  },
};
