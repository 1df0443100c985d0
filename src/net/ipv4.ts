// IPv4 over the interface: ingress checks (processIpv4, which hands fragments to the bounded
// reassembler in reassembly.ts) and egress routing and framing (dispatchIpv4, which cuts a
// datagram larger than the MTU into fragments, RFC 791 3.2). No options are sent. A datagram
// that fits is sent with DF set (we do no path MTU discovery, but a LAN host's replies fit).

import {
  ETHERNET_HEADER_LEN,
  EtherType,
  EthernetRepr,
  IPV4_HEADER_LEN,
  Ipv4Packet,
  Ipv4Repr,
  MAC_BROADCAST,
  isWireError,
  rewriteIpv4Fragment,
} from '../wire/index.js';
import type { Ipv4, Mac } from '../wire/index.js';
import { dispatchToNeighbour } from './arp.js';
import { allocFrame } from './iface.js';
import type { InterfaceInner } from './iface.js';

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
  if (inner.isBroadcast(dst)) return { mac: MAC_BROADCAST };
  if (isMulticastIp(dst)) return { mac: multicastMac(dst) };
  // No loopback device: ourselves, 0.0.0.0, 127/8 and class E are unroutable from here.
  const top = dst >>> 24;
  if (dst === inner.addr || top === 0 || top === 127 || top >= 240) return undefined;
  if (inner.inSubnet(dst)) return { nextHop: dst };
  const gw = inner.cfg.gateway;
  return gw === undefined ? undefined : { nextHop: gw };
}

/** Writes the layer-4 message into `l4` (exactly l4Len bytes), knowing the addresses for pseudo-headers. */
export type L4Emitter = (l4: Uint8Array, src: Ipv4, dst: Ipv4) => void;

/**
 * Egress: build one frame at its final size (Ethernet + IPv4 + l4Len, padded to 60) and emit
 * each layer into its subarray, innermost first; then send it or queue it behind ARP. A
 * datagram larger than the MTU is sent as fragments. False (counted) when there is no route,
 * it exceeds 65535 bytes, or a frame cannot be sent or queued.
 */
export function dispatchIpv4(inner: InterfaceInner, dst: Ipv4, protocol: number, l4Len: number, emitL4: L4Emitter): boolean {
  const r = route(inner, dst);
  if (r === undefined) return inner.dropTx('no-route');
  const ipLen = IPV4_HEADER_LEN + l4Len;
  if (ipLen > MAX_DATAGRAM) return inner.dropTx('too-big');
  if (ipLen > inner.cfg.mtu) return dispatchFragments(inner, r, dst, protocol, l4Len, emitL4);
  const src = inner.addr;
  const frame = allocFrame(ETHERNET_HEADER_LEN + ipLen);
  const ip = frame.subarray(ETHERNET_HEADER_LEN, ETHERNET_HEADER_LEN + ipLen);
  emitL4(ip.subarray(IPV4_HEADER_LEN), src, dst);
  new Ipv4Repr(src, dst, protocol, l4Len, DEFAULT_TTL, inner.nextIdent(), true).emit(ip);
  inner.counters.ipv4Tx++;
  return sendFrame(inner, r, frame);
}

function sendFrame(inner: InterfaceInner, r: Route, frame: Uint8Array): boolean {
  const toGroup = 'mac' in r;
  // A neighbour's MAC is written once ARP has it (dispatchToNeighbour); until then it is zero.
  new EthernetRepr(toGroup ? r.mac : 0, inner.mac, EtherType.Ipv4).emit(frame);
  return toGroup ? inner.transmit(frame) : dispatchToNeighbour(inner, r.nextHop, frame);
}

/**
 * RFC 791 3.2: the layer-4 message is emitted once (its checksum covers all of it), then cut
 * into pieces of the largest multiple of 8 that fits the MTU, each behind a copy of the header
 * with its offset and MF. All fragments share one ident; every one but the last has MF set.
 */
function dispatchFragments(inner: InterfaceInner, r: Route, dst: Ipv4, protocol: number, l4Len: number, emitL4: L4Emitter): boolean {
  const src = inner.addr;
  const l4 = new Uint8Array(l4Len);
  emitL4(l4, src, dst);
  const ident = inner.nextIdent();
  const maxData = Math.floor((inner.cfg.mtu - IPV4_HEADER_LEN) / FRAG_UNIT) * FRAG_UNIT;
  inner.counters.ipv4Tx++;
  inner.counters.ipv4Fragmented++;
  let ok = true;
  for (let off = 0; off < l4Len; off += maxData) {
    const n = Math.min(maxData, l4Len - off);
    const ipLen = IPV4_HEADER_LEN + n;
    const frame = allocFrame(ETHERNET_HEADER_LEN + ipLen);
    const ip = frame.subarray(ETHERNET_HEADER_LEN, ETHERNET_HEADER_LEN + ipLen);
    ip.set(l4.subarray(off, off + n), IPV4_HEADER_LEN);
    new Ipv4Repr(src, dst, protocol, n, DEFAULT_TTL, ident, false).emit(ip);
    rewriteIpv4Fragment(ip.subarray(0, IPV4_HEADER_LEN), ipLen, off, off + n < l4Len);
    inner.counters.ipv4FragmentsTx++;
    if (!sendFrame(inner, r, frame)) ok = false;
  }
  return ok;
}

/**
 * Ingress: check one IPv4 packet (an Ethernet payload, possibly padded) and decide whether it
 * is ours. `l2Group`: the frame came to a broadcast or multicast MAC. Returns the packet to
 * hand to a protocol, or undefined after counting the drop.
 */
export function processIpv4(inner: InterfaceInner, payload: Uint8Array, l2Group: boolean): Ipv4Packet | undefined {
  const p = Ipv4Packet.checked(payload);
  if (isWireError(p)) {
    inner.malformed(p);
    return undefined;
  }
  inner.counters.ipv4Rx++;
  const dst = p.dstAddr();
  const toBroadcast = inner.isBroadcast(dst);
  // RFC 1122 3.3.6: a unicast datagram that arrived as a link-layer broadcast is discarded.
  if ((dst !== inner.addr && !toBroadcast) || (l2Group && !toBroadcast)) {
    inner.dropRx('not-for-us');
    return undefined;
  }
  if (inner.isMartianSrc(p.srcAddr())) {
    inner.dropRx('bad-src');
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
