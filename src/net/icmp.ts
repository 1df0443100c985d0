// ICMPv4 over the interface: echo (answer requests, deliver replies), and the destination
// unreachable errors we send for closed ports and unknown protocols. Its state in the socket set
// (IcmpSockets) is the echo reply handler and the error token bucket.
//
// Error policy (RFC 1122 3.2.2, RFC 1812 4.3.2.8): never about a datagram sent to a broadcast
// or multicast address (IP or link layer), nor from a martian source (those never get this
// far), and never about an ICMP error (we only send errors about UDP and unknown protocols).
// Rate: one token bucket for the whole stack, icmpErrorBurst tokens (default 10), one more
// every icmpErrorIntervalUs (default 100 ms) — 10 per second sustained, like a scanned Linux
// host's per-peer limit but global, so a spoofed-source flood cannot make us amplify.

import { ICMPV4_HEADER_LEN, IPV4_HEADER_LEN, Icmpv4Packet, Icmpv4Type, IpProtocol, copyBytes, emitIcmpv4, emitIcmpv4Echo, icmpv4ReprLen, isWireError } from '../wire/index.js';
import type { Icmpv4Repr, Ipv4, Ipv4Packet } from '../wire/index.js';
import type { NetProtocol } from './dispatch.js';
import type { InterfaceInner } from './iface.js';
import { IPV4_HEADROOM, dispatchIpv4 } from './ipv4.js';
import { PacketBuffer } from './packet-buffer.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';

/** Called for each echo reply addressed to us. `data` is a view of the received frame. */
export type EchoReplyHandler = (src: Ipv4, ident: number, seqNo: number, data: Uint8Array) => void;

/** ICMP's state in the socket set: who gets echo replies, and the error token bucket. No timers: the bucket refills lazily. */
export class IcmpSockets implements ProtocolState {
  echoReplyHandler: EchoReplyHandler | undefined;
  /** The one PacketBuffer echo replies are built in, reset() for each (dispatchIpv4 keeps none). */
  readonly reply = PacketBuffer.alloc(0, 0);
  private tokens: number;
  private refillAt: number;

  constructor(
    private readonly burst: number,
    private readonly intervalUs: number,
    now: number,
  ) {
    this.tokens = burst;
    this.refillAt = now;
  }

  pollAt(): undefined {
    return undefined;
  }
  poll(): void {}

  /** Take one error token at `now`; false when the bucket is empty. */
  takeToken(now: number): boolean {
    if (this.tokens >= this.burst) {
      this.refillAt = now;
    } else {
      const n = Math.floor((now - this.refillAt) / this.intervalUs);
      if (n > 0) {
        this.tokens = Math.min(this.burst, this.tokens + n);
        this.refillAt = this.tokens >= this.burst ? now : this.refillAt + n * this.intervalUs;
      }
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

export const ICMP_SOCKETS = new SocketKey<IcmpSockets>('icmp');

/** The ICMPv4 module: its state in the socket set, its handler for IPv4 protocol 1. */
export const icmpv4Protocol: NetProtocol = {
  name: 'icmp',
  install(inner: InterfaceInner): void {
    inner.sockets.add(ICMP_SOCKETS, new IcmpSockets(inner.cfg.icmpErrorBurst, inner.cfg.icmpErrorIntervalUs, inner.now()));
    inner.ipv4Protocols.register(IpProtocol.Icmp, processIcmpv4);
  },
};

/** RFC 1812 4.3.2.3: an ICMP error quotes as much of the datagram as fits in 576 bytes. */
const ICMP_ERROR_MAX_DATAGRAM = 576;
const MAX_QUOTE = ICMP_ERROR_MAX_DATAGRAM - IPV4_HEADER_LEN - ICMPV4_HEADER_LEN;

/** Ingress: one ICMP message in a packet processIpv4 accepted. */
export function processIcmpv4(inner: InterfaceInner, ip: Ipv4Packet): void {
  const views = inner.rxViews();
  const p = Icmpv4Packet.checked(ip.bytes, ip.payloadStart(), ip.payloadEnd(), views?.icmpv4);
  if (isWireError(p)) return inner.malformed(p);
  const c = inner.counters;
  const type = p.msgType();
  // Echo with a non-zero code is no echo (parseIcmpv4Repr's 'other').
  if (p.msgCode() !== 0 || (type !== Icmpv4Type.EchoRequest && type !== Icmpv4Type.EchoReply)) {
    // Destination unreachable, time exceeded, ...: no socket of ours acts on them yet.
    return inner.dropRx('unsupported');
  }
  if (type === Icmpv4Type.EchoRequest) {
    c.icmpEchoRequestsRx++;
    // Like Linux's icmp_echo_ignore_broadcasts=1 (smurf amplification).
    if (inner.isBroadcast(ip.dstAddr())) return inner.dropRx('broadcast-echo');
    inner.handled();
    if (dispatchEchoReply(inner, ip.srcAddr(), p, views === undefined)) c.icmpEchoRepliesTx++;
    return;
  }
  c.icmpEchoRepliesRx++;
  const h = inner.sockets.require(ICMP_SOCKETS).echoReplyHandler;
  if (h === undefined) return inner.dropRx('unsupported');
  inner.handled();
  h(ip.srcAddr(), p.echoIdent(), p.echoSeqNo(), p.data());
}

/**
 * Egress: the reply to echo request `req`, built straight from its bytes (ident, sequence number
 * and data copied, type and checksum written) into a frame with room for exactly the headers
 * below: no repr, no view but the frame. `fresh`: a PacketBuffer of its own (a nested frame must
 * not take the one its caller is still sending from).
 */
function dispatchEchoReply(inner: InterfaceInner, dst: Ipv4, req: Icmpv4Packet, fresh: boolean): boolean {
  const len = req.length;
  const pb = fresh ? PacketBuffer.alloc(len, IPV4_HEADROOM) : inner.sockets.require(ICMP_SOCKETS).reply.reset(len, IPV4_HEADROOM, true);
  const at = pb.start;
  copyBytes(pb.buf, at, req.bytes, req.offset, len);
  emitIcmpv4Echo(pb.buf, at, Icmpv4Type.EchoReply, req.echoIdent(), req.echoSeqNo(), len - ICMPV4_HEADER_LEN);
  return dispatchIpv4(inner, dst, IpProtocol.Icmp, pb);
}

/** Egress: one ICMP message to `dst`. */
export function dispatchIcmpv4(inner: InterfaceInner, dst: Ipv4, r: Icmpv4Repr): boolean {
  const pb = PacketBuffer.alloc(icmpv4ReprLen(r));
  emitIcmpv4(r, pb.view());
  return dispatchIpv4(inner, dst, IpProtocol.Icmp, pb);
}

/** Egress: destination unreachable `code` about `ip`, unless policy or the rate limit says no. */
export function dispatchIcmpUnreachable(inner: InterfaceInner, ip: Ipv4Packet, l2Group: boolean, code: number): void {
  // The source is no martian (checkIpv4 dropped those): never 0.0.0.0, broadcast or multicast.
  if (l2Group || inner.isBroadcast(ip.dstAddr())) return;
  if (!inner.sockets.require(ICMP_SOCKETS).takeToken(inner.now())) {
    inner.counters.icmpErrorsRateLimited++;
    return;
  }
  const len = ip.totalLen();
  const original = ip.buffer.subarray(0, len < MAX_QUOTE ? len : MAX_QUOTE);
  if (dispatchIcmpv4(inner, ip.srcAddr(), { kind: 'dst-unreachable', code, original })) inner.counters.icmpDstUnreachableTx++;
}
