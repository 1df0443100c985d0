// IPv4 over the interface: ingress checks (checkIpv4, which hands fragments to the bounded
// reassembler in reassembly.ts) and the protocol dispatch table behind them (processIpv4, the
// handler of EtherType 0x0800); egress routing and framing (dispatchIpv4, which pushes the IPv4
// and Ethernet headers onto a PacketBuffer, or cuts a datagram larger than the MTU into
// fragments, RFC 791 3.2). No options are sent. A datagram that fits is sent with DF set (we do
// no path MTU discovery, but a LAN host's replies fit).

import {
  ETHERNET_HEADER_LEN,
  EtherType,
  IPV4_HEADER_LEN,
  Icmpv4DstUnreachable,
  IpProtocol,
  Ipv4Packet,
  Ipv4Repr,
  MAC_BROADCAST,
  copyBytes,
  emitEthernetHeader,
  emitIpv4Header,
  isWireError,
  rewriteIpv4Fragment,
} from '../wire/index.js';
import type { Ipv4, Mac } from '../wire/index.js';
import { dispatchToNeighbour } from './arp.js';
import type { NetProtocol, RxMeta } from './dispatch.js';
import { dispatchIcmpUnreachable } from './icmp.js';
import type { InterfaceInner } from './iface.js';
import { PacketBuffer } from './packet-buffer.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';

const DEFAULT_TTL = 64;
const MAX_DATAGRAM = 0xffff;
const FRAG_UNIT = 8;

/** Where an outgoing packet goes: a fixed group MAC, or a neighbour whose MAC ARP finds. */
export type Route = { readonly mac: Mac } | { readonly nextHop: Ipv4 };

function isMulticastIp(ip: Ipv4): boolean {
  return ip >>> 28 === 0xe;
}

/** RFC 1112 6.4: 01:00:5e and the low 23 bits of the group. */
function multicastMac(ip: Ipv4): Mac {
  return 0x01005e00_0000 + (ip & 0x7f_ffff);
}

/** Route `dst`: broadcast and multicast map to group MACs, the subnet is on-link, the rest via the gateway. */
export function route(inner: InterfaceInner, dst: Ipv4): Route | undefined {
  const mac = groupMac(inner, dst);
  if (mac !== undefined) return { mac };
  const nextHop = routeNextHop(inner, dst);
  return nextHop === undefined ? undefined : { nextHop };
}

/** route()'s group half: the MAC a broadcast or multicast `dst` goes to, or undefined. */
function groupMac(inner: InterfaceInner, dst: Ipv4): Mac | undefined {
  if (inner.isBroadcast(dst)) return MAC_BROADCAST;
  if (isMulticastIp(dst)) return multicastMac(dst);
  return undefined;
}

/** route()'s unicast half (for a `dst` groupMac() left): the neighbour to send to, or undefined. */
function routeNextHop(inner: InterfaceInner, dst: Ipv4): Ipv4 | undefined {
  // No loopback device: ourselves, 0.0.0.0, 127/8 and class E are unroutable from here.
  const top = dst >>> 24;
  // Without an address (DHCP before its lease) only broadcast goes out.
  if (dst === inner.addr || inner.addr === 0 || top === 0 || top === 127 || top >= 240) return undefined;
  if (inner.inSubnet(dst)) return dst;
  return inner.cfg.gateway;
}

/**
 * A layer-4 header to push in front of the payload: its length (for the size checks, before any
 * byte is written) and an emitter that pushes it (`pb.push(len)`), given the addresses for the
 * pseudo-header checksum. Messages written whole into the payload (ICMP) pass none.
 */
export interface L4Header {
  readonly len: number;
  emit(pb: PacketBuffer, src: Ipv4, dst: Ipv4): void;
}

/** Headroom for the headers dispatchIpv4 pushes: Ethernet and IPv4 without options. */
export const IPV4_HEADROOM = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN;

/**
 * Egress: `pb` holds the layer-4 payload (or whole message); push the L4 header, the IPv4 header
 * and the Ethernet header in front of it, then send the frame or queue it behind ARP. A
 * datagram larger than the MTU is sent as fragments. `via`: the next hop's MAC, known already
 * (no routing, no ARP). False (counted) when there is no route,
 * it exceeds 65535 bytes, or a frame cannot be sent or queued. Keeps no reference to `pb`
 * (the caller may reset() it for its next packet) and makes no object of its own.
 */
export function dispatchIpv4(inner: InterfaceInner, dst: Ipv4, protocol: number, pb: PacketBuffer, l4?: L4Header, via?: Mac): boolean {
  if (inner.tentative) return inner.dropTx('tentative');
  // Either a MAC to send to (a group, or `via`) or a neighbour whose MAC ARP finds.
  let mac: Mac | undefined;
  let nextHop: Ipv4 | undefined;
  if (via !== undefined) {
    if (inner.addr !== 0) mac = via;
  } else {
    mac = groupMac(inner, dst);
    if (mac === undefined) nextHop = routeNextHop(inner, dst);
  }
  if (mac === undefined && nextHop === undefined) return inner.dropTx('no-route');
  const l4Len = pb.length + (l4 === undefined ? 0 : l4.len);
  const ipLen = IPV4_HEADER_LEN + l4Len;
  if (ipLen > MAX_DATAGRAM) return inner.dropTx('too-big');
  const src = inner.addr;
  l4?.emit(pb, src, dst);
  if (ipLen > inner.cfg.mtu) return dispatchFragments(inner, mac, nextHop, dst, protocol, pb);
  emitIpv4Header(pb.buf, pb.pushAt(IPV4_HEADER_LEN), src, dst, protocol, l4Len, DEFAULT_TTL, inner.nextIdent(), true, 0);
  inner.counters.ipv4Tx++;
  return sendFrame(inner, mac, nextHop, pb);
}

/** Push the Ethernet header and send to `mac`, or (mac undefined) to neighbour `nextHop` through ARP. */
function sendFrame(inner: InterfaceInner, mac: Mac | undefined, nextHop: Ipv4 | undefined, pb: PacketBuffer): boolean {
  const off = pb.pushAt(ETHERNET_HEADER_LEN);
  if (mac !== undefined) {
    emitEthernetHeader(pb.buf, off, mac, inner.mac, EtherType.Ipv4);
    return inner.transmit(pb.frame());
  }
  // To a neighbour: the interface's header (our MAC, no number passed for it), the destination
  // written once ARP has it (dispatchToNeighbour); until then it is zero.
  copyBytes(pb.buf, off, inner.ipv4Header, 0, ETHERNET_HEADER_LEN);
  return dispatchToNeighbour(inner, nextHop!, pb.frame());
}

/**
 * RFC 791 3.2: the layer-4 message in `whole` (its checksum covers all of it) is cut into
 * pieces of the largest multiple of 8 that fits the MTU, each behind a copy of the header with
 * its offset and MF. All fragments share one ident; every one but the last has MF set.
 */
function dispatchFragments(inner: InterfaceInner, mac: Mac | undefined, nextHop: Ipv4 | undefined, dst: Ipv4, protocol: number, whole: PacketBuffer): boolean {
  const src = inner.addr;
  const l4 = whole.view();
  const l4Len = l4.length;
  const ident = inner.nextIdent();
  const maxData = Math.floor((inner.cfg.mtu - IPV4_HEADER_LEN) / FRAG_UNIT) * FRAG_UNIT;
  inner.counters.ipv4Tx++;
  inner.counters.ipv4Fragmented++;
  let ok = true;
  for (let off = 0; off < l4Len; off += maxData) {
    const n = Math.min(maxData, l4Len - off);
    const pb = PacketBuffer.alloc(n, IPV4_HEADROOM);
    pb.view().set(l4.subarray(off, off + n));
    const ip = pb.push(IPV4_HEADER_LEN);
    new Ipv4Repr(src, dst, protocol, n, DEFAULT_TTL, ident, false).emit(ip);
    rewriteIpv4Fragment(ip.subarray(0, IPV4_HEADER_LEN), IPV4_HEADER_LEN + n, off, off + n < l4Len);
    inner.counters.ipv4FragmentsTx++;
    if (!sendFrame(inner, mac, nextHop, pb)) ok = false;
  }
  return ok;
}

/**
 * Ingress checks: one IPv4 packet (buf[off..], an Ethernet payload, possibly padded) and decide
 * whether it is ours. `l2Group`: the frame came to a broadcast or multicast MAC. Returns the
 * packet to hand to a protocol (a reassembled one for the fragment that completes a datagram),
 * or undefined after counting the outcome. The packet is the receive path's scratch view when
 * one is in hand (inner.rxViews()).
 */
export function checkIpv4(inner: InterfaceInner, buf: Uint8Array, off: number, l2Group: boolean): Ipv4Packet | undefined {
  const p = Ipv4Packet.checked(buf, off, inner.rxViews()?.ipv4);
  if (isWireError(p)) {
    inner.malformed(p);
    return undefined;
  }
  inner.counters.ipv4Rx++;
  const dst = p.dstAddr();
  const toBroadcast = inner.isBroadcast(dst);
  const toUs = (dst === inner.addr && dst !== 0) || (!toBroadcast && toAnyDstPort(inner, p));
  // RFC 1122 3.3.6: a unicast datagram that arrived as a link-layer broadcast is discarded.
  if (inner.tentative && dst === inner.cfg.ipv4.addr) {
    inner.dropRx('tentative');
    return undefined;
  }
  if ((!toUs && !toBroadcast) || (l2Group && !toBroadcast)) {
    inner.dropRx('not-for-us');
    return undefined;
  }
  // Nothing from a source that no single host can have is ever answered, by any protocol.
  const martian = inner.martianSrc(p.srcAddr());
  if (martian !== undefined) {
    inner.dropRx(martian);
    return undefined;
  }
  if (!p.isFragment()) return p;
  inner.counters.ipv4FragmentsRx++;
  const r = inner.reassembly.push(p, inner.now());
  if (r.kind === 'complete') return r.packet;
  // A held fragment has been consumed; the one that completes the datagram takes its outcome.
  if (r.kind === 'held') inner.handled();
  else inner.dropRx(r.reason);
  return undefined;
}

/** A whole UDP datagram to inner.anyDstUdpPort (a DHCP client's reply before it has an address). */
function toAnyDstPort(inner: InterfaceInner, p: Ipv4Packet): boolean {
  const port = inner.anyDstUdpPort;
  if (port === undefined || p.protocol() !== IpProtocol.Udp || p.isFragment()) return false;
  const at = p.payloadStart();
  const udp = p.bytes;
  return p.payloadEnd() - at >= 4 && udp[at + 2]! * 256 + udp[at + 3]! === port;
}

/** Ingress: an IPv4 packet (EtherType 0x0800) at frame[off..], checked, then handed to its protocol's handler. */
export function processIpv4(inner: InterfaceInner, frame: Uint8Array, off: number, rx: RxMeta): void {
  const ip = checkIpv4(inner, frame, off, rx.l2Group);
  if (ip === undefined) return;
  const handler = inner.ipv4Protocols.get(ip.protocol());
  if (handler !== undefined) return handler(inner, ip, rx);
  // A host without the protocol says so (RFC 1122 3.2.2.1).
  inner.dropRx('unknown-protocol');
  dispatchIcmpUnreachable(inner, ip, rx.l2Group, Icmpv4DstUnreachable.ProtocolUnreachable);
}

export const REASSEMBLY_TIMERS = new SocketKey<ProtocolState>('ipv4-reassembly');

/** The IPv4 module: the handler for EtherType 0x0800 and reassembly's timers; protocols register in inner.ipv4Protocols. */
export const ipv4Protocol: NetProtocol = {
  name: 'ipv4',
  install(inner: InterfaceInner): void {
    // The reassembler is inner.reassembly; its entry here is its deadlines.
    inner.sockets.add(REASSEMBLY_TIMERS, { pollAt: () => inner.reassembly.pollAt(), poll: (now) => inner.reassembly.expire(now) });
    inner.etherTypes.register(EtherType.Ipv4, processIpv4);
  },
};
