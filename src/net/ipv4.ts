// IPv4 over the interface: ingress checks (processIpv4) and egress routing and framing
// (dispatchIpv4). No options are sent, no fragments are sent, and received fragments are
// dropped and counted ('fragment'): this stack does not reassemble. Our peers are LAN hosts
// with a 1500-byte MTU and our own services send small datagrams, so a fragment here means
// something unusual worth seeing in a counter, not traffic to serve.

import {
  ETHERNET_HEADER_LEN,
  EtherType,
  EthernetRepr,
  IPV4_HEADER_LEN,
  Ipv4Packet,
  Ipv4Repr,
  MAC_BROADCAST,
  isWireError,
} from '../wire/index.js';
import type { Ipv4, Mac } from '../wire/index.js';
import { dispatchToNeighbour } from './arp.js';
import { allocFrame } from './iface.js';
import type { InterfaceInner } from './iface.js';

const DEFAULT_TTL = 64;

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
 * each layer into its subarray, innermost first; then send it or queue it behind ARP.
 * False (counted) when there is no route, it exceeds the MTU, or it cannot be sent or queued.
 */
export function dispatchIpv4(inner: InterfaceInner, dst: Ipv4, protocol: number, l4Len: number, emitL4: L4Emitter): boolean {
  const r = route(inner, dst);
  if (r === undefined) return inner.dropTx('no-route');
  const ipLen = IPV4_HEADER_LEN + l4Len;
  if (ipLen > inner.cfg.mtu) return inner.dropTx('too-big');
  const src = inner.addr;
  const frame = allocFrame(ETHERNET_HEADER_LEN + ipLen);
  const ip = frame.subarray(ETHERNET_HEADER_LEN, ETHERNET_HEADER_LEN + ipLen);
  emitL4(ip.subarray(IPV4_HEADER_LEN), src, dst);
  new Ipv4Repr(src, dst, protocol, l4Len, DEFAULT_TTL, inner.nextIdent(), true).emit(ip);
  const toGroup = 'mac' in r;
  // A neighbour's MAC is written once ARP has it (dispatchToNeighbour); until then it is zero.
  new EthernetRepr(toGroup ? r.mac : 0, inner.mac, EtherType.Ipv4).emit(frame);
  inner.counters.ipv4Tx++;
  return toGroup ? inner.transmit(frame) : dispatchToNeighbour(inner, r.nextHop, frame);
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
  if (p.isFragment()) {
    inner.dropRx('fragment');
    return undefined;
  }
  return p;
}
