// IPv6 over the interface (RFC 8200, host rules of RFC 4291/4861/4862): ingress checks
// (processIpv6: is it ours, is its source possible), ICMPv6 dispatch (echo here, Neighbor
// Discovery in ndp.ts), and egress (dispatchIpv6: source selection, multicast MACs, next hop
// on-link or via the default router, neighbour resolution in ndp.ts).
//
// Not here: extension headers (a packet with one, fragments included, is dropped and counted
// as 'unknown-protocol'), UDP/TCP over IPv6, ICMPv6 errors, MLD reports, sending fragments
// (our replies are never larger than the request that arrived whole).

import {
  ETHERNET_HEADER_LEN,
  EtherType,
  EthernetRepr,
  IPV6_ALL_NODES,
  IPV6_HEADER_LEN,
  IPV6_UNSPECIFIED,
  Icmpv6Packet,
  Ipv6NextHeader,
  Ipv6Packet,
  Ipv6Repr,
  emitIcmpv6,
  icmpv6ReprLen,
  ipv6PrefixMatch,
  isLinkLocalIpv6,
  isLoopbackIpv6,
  isMulticastIpv6,
  isWireError,
  multicastMacIpv6,
  parseIcmpv6Repr,
  solicitedNode,
} from '../wire/index.js';
import type { Icmpv6Repr, Ipv6, Mac } from '../wire/index.js';
import type { InterfaceInner } from './iface.js';
import { IPV6_SOCKETS, Ipv6Sockets } from './ipv6-iface.js';
import type { Ipv6Sockets as Ipv6Inner } from './ipv6-iface.js';
import type { NetProtocol, RxMeta } from './dispatch.js';
import { PacketBuffer } from './packet-buffer.js';
import { dispatchToNeighbourV6, processNdp } from './ndp.js';

const DEFAULT_HOP_LIMIT = 64;

/** Where an outgoing IPv6 packet goes: a group MAC, or a neighbour that NDP resolves. */
type Route6 = { readonly mac: Mac } | { readonly nextHop: Ipv6 };

function route6(v6: Ipv6Inner, dst: Ipv6, now: number): Route6 | undefined {
  if (isMulticastIpv6(dst)) return { mac: multicastMacIpv6(dst) };
  if (dst === IPV6_UNSPECIFIED || isLoopbackIpv6(dst) || v6.addrs.has(dst)) return undefined;
  if (isLinkLocalIpv6(dst)) return { nextHop: dst };
  for (const p of v6.onLink.values()) if (p.validUntil > now && ipv6PrefixMatch(p.prefix, dst, p.prefixLen)) return { nextHop: dst };
  const r = v6.router;
  return r !== undefined && r.until > now ? { nextHop: r.addr } : undefined;
}

/** RFC 6724 in brief: link-local for link-scope destinations, else a preferred global, else a deprecated one. */
export function selectSource(v6: Ipv6Inner, dst: Ipv6): Ipv6 | undefined {
  const linkScope = isLinkLocalIpv6(dst) || (isMulticastIpv6(dst) && (parseInt(dst[3]!, 16) & 0xf) <= 2);
  if (linkScope) return v6.linkLocal();
  let deprecated: Ipv6 | undefined;
  for (const e of v6.addrs.values()) {
    if (e.origin === 'link-local') continue;
    if (e.state === 'preferred') return e.addr;
    if (e.state === 'deprecated') deprecated ??= e.addr;
  }
  return deprecated ?? v6.linkLocal();
}

/**
 * Egress: `pb` holds the upper-layer message; push the IPv6 and Ethernet headers in front of it
 * and send it to a group MAC or queue it behind neighbour resolution. False (counted) on no
 * route, over the MTU, or a full queue. `src` is chosen by the caller (selectSource, or :: for DAD).
 */
export function dispatchIpv6(inner: InterfaceInner, src: Ipv6, dst: Ipv6, nextHeader: number, pb: PacketBuffer, hopLimit = DEFAULT_HOP_LIMIT): boolean {
  const v6 = inner.sockets.get(IPV6_SOCKETS);
  if (v6 === undefined) return inner.dropTx('no-route');
  const r = route6(v6, dst, inner.now());
  if (r === undefined) return inner.dropTx('no-route');
  const l4Len = pb.length;
  if (IPV6_HEADER_LEN + l4Len > inner.cfg.mtu) return inner.dropTx('too-big');
  new Ipv6Repr(src, dst, nextHeader, l4Len, hopLimit).emit(pb.push(IPV6_HEADER_LEN));
  const toGroup = 'mac' in r;
  // A neighbour's MAC is written once NDP has it (dispatchToNeighbourV6); until then it is zero.
  new EthernetRepr(toGroup ? r.mac : 0, inner.mac, EtherType.Ipv6).emit(pb.push(ETHERNET_HEADER_LEN));
  inner.counters.ipv6Tx++;
  const frame = pb.frame();
  return toGroup ? inner.transmit(frame) : dispatchToNeighbourV6(inner, v6, r.nextHop, frame);
}

/** Egress: one ICMPv6 message, written whole into the payload (its checksum covers the pseudo-header). */
export function dispatchIcmpv6(inner: InterfaceInner, src: Ipv6, dst: Ipv6, r: Icmpv6Repr, hopLimit = DEFAULT_HOP_LIMIT): boolean {
  const pb = PacketBuffer.alloc(icmpv6ReprLen(r), ETHERNET_HEADER_LEN + IPV6_HEADER_LEN);
  emitIcmpv6(r, pb.view(), src, dst);
  return dispatchIpv6(inner, src, dst, Ipv6NextHeader.Icmpv6, pb, hopLimit);
}

/** Is `dst` one we listen on: an address of ours in any state, all-nodes, or a solicited-node group of ours. */
function listensOn(v6: Ipv6Inner, dst: Ipv6): boolean {
  if (v6.addrs.has(dst) || dst === IPV6_ALL_NODES) return true;
  for (const a of v6.addrs.keys()) if (solicitedNode(a) === dst) return true;
  return false;
}

/**
 * Ingress: one IPv6 packet (an Ethernet payload, possibly padded). `l2Group`: it came to a
 * group MAC. Every outcome is counted once.
 */
export function processIpv6(inner: InterfaceInner, payload: Uint8Array, rx: RxMeta): void {
  const v6 = inner.sockets.get(IPV6_SOCKETS);
  if (v6 === undefined) return inner.dropRx('unknown-ethertype');
  const l2Group = rx.l2Group;
  const p = Ipv6Packet.checked(payload);
  if (isWireError(p)) return inner.malformed(p);
  inner.counters.ipv6Rx++;
  const dst = p.dstAddr();
  const src = p.srcAddr();
  const toGroup = isMulticastIpv6(dst);
  // A unicast packet that came as a link-layer multicast is not ours (RFC 1122 3.3.6's spirit).
  if (!listensOn(v6, dst) || (l2Group && !toGroup)) return inner.dropRx('not-for-us');
  // A group cannot send; loopback never arrives on a wire; our own usable address is a loop or a clash.
  if (isMulticastIpv6(src) || isLoopbackIpv6(src) || v6.usable(src)) return inner.dropRx('bad-src');
  if (p.nextHeader() !== Ipv6NextHeader.Icmpv6) return inner.dropRx('unknown-protocol');
  const msg = Icmpv6Packet.checked(p.payload(), src, dst);
  if (isWireError(msg)) return inner.malformed(msg);
  const r = parseIcmpv6Repr(msg);
  if (isWireError(r)) return inner.malformed(r);
  // RFC 4862 5.4: a tentative address receives nothing but Neighbor Discovery.
  const tentative = !toGroup && !v6.usable(dst);
  switch (r.kind) {
    case 'echo-request': {
      inner.counters.icmpv6EchoRequestsRx++;
      if (tentative) return inner.dropRx('tentative');
      if (toGroup) return inner.dropRx('multicast-echo');
      if (src === IPV6_UNSPECIFIED) return inner.dropRx('bad-src');
      inner.handled();
      if (dispatchIcmpv6(inner, dst, src, { kind: 'echo-reply', ident: r.ident, seqNo: r.seqNo, data: r.data })) inner.counters.icmpv6EchoRepliesTx++;
      return;
    }
    case 'router-solicit':
    case 'router-advert':
    case 'neighbor-solicit':
    case 'neighbor-advert':
      return processNdp(inner, v6, p, r);
    default:
      // Echo replies (we send no IPv6 pings), errors, MLD, redirects: nothing of ours acts on them.
      return inner.dropRx(tentative ? 'tentative' : 'unsupported');
  }
}

/**
 * The IPv6 module (the gpos installs it): its state in the socket set, the handler for
 * EtherType 0x86dd, and its usable addresses in what the interface publishes to the device.
 * Call `sockets.require(IPV6_SOCKETS).start()` at boot.
 */
export const ipv6Protocol: NetProtocol = {
  name: 'ipv6',
  install(inner: InterfaceInner): void {
    const v6 = inner.sockets.add(IPV6_SOCKETS, new Ipv6Sockets(inner));
    inner.etherTypes.register(EtherType.Ipv6, (i, frame, off, rx) => processIpv6(i, frame.subarray(off), rx));
    inner.addressSources.push(() => v6.usableAddresses());
  },
};
