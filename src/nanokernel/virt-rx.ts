// virt-rx (after seL4 sDDF's virt_rx): takes the frames the NIC received and delivers each to the
// ports its destination MAC names: unicast to its owner, broadcast to every port, multicast to
// the group's subscribers. Unknown unicast and unjoined groups are dropped and counted. Delivery
// raises the port's own interrupt line; a full or halted port drops the frame, counted.
// Receive-side identity: the wire never speaks for a local guest. A frame whose Ethernet source
// or ARP sender MAC is a guest's MAC, or whose ARP sender, IPv4 or IPv6 source is a guest's
// address, is dropped (rxSpoofedMac, rxSpoofedIp, counted on the claimed guest's port too) before
// any guest sees it: local delivery is the only way one guest's identity reaches another. An ARP
// packet claiming a guest's address is a conflict that guest must defend (RFC 5227 2.4), so the
// claimed port gets a small notice (address and sender MAC, Irq.AddrConflict), never the frame.
import { ETHERNET_HEADER_LEN, EtherType, ethernetHeaderLen, payloadEtherType } from '../wire/index.js';
import { readIpv4, readIpv6, readMac, type IpAddr } from '../wire/address.js';
import type { AddressConflict } from './guest-interface.js';
import type { Ring } from '../machine/ring.js';
import { Port } from './port.js';
import { ARP_MIN_LEN, ARP_SENDER_IP, ARP_SENDER_MAC, ETHERNET_SRC, IPV4_MIN_LEN, IPV4_SRC, IPV6_MIN_LEN, IPV6_SRC } from './source-guard.js';
import type { Switch } from './switch.js';

export class VirtRx {
  constructor(private readonly sw: Switch, private readonly ring: Ring<Uint8Array>) {}

  /** Frames wait in the NIC's RX ring. */
  pending(): boolean {
    return !this.ring.isEmpty();
  }

  /** Take every frame from the NIC's RX ring and deliver it by destination MAC. */
  drain(): void {
    const ring = this.ring;
    for (let frame = ring.shift(); frame !== undefined; frame = ring.shift()) this.receive(frame);
  }

  /** One frame from the wire. */
  receive(frame: Uint8Array): void {
    const sw = this.sw;
    const c = sw.counters;
    c.rxFrames++;
    if (frame.length < ETHERNET_HEADER_LEN) return sw.drop('rxRunt', frame);
    const claim = localClaim(sw, frame);
    if (claim !== undefined) {
      sw.drop(claim[0], frame, claim[1]);
      // An ARP packet claiming a guest's address is a conflict (RFC 5227 2.4) the guest must
      // hear of to defend its address; it gets the notice, never the frame.
      if (claim[2] !== undefined) claim[1].noteConflict(claim[2].ip, claim[2].mac);
      return;
    }
    const to = sw.route(frame);
    if (typeof to === 'string') return sw.drop(to, frame);
    if (to instanceof Port) {
      c.rxUnicast++;
      if (deliver(sw, to, frame)) sw.observer.rx?.(frame, to.nameList, 'unicast');
      return;
    }
    const cast = frame[0] === 0xff ? 'broadcast' : 'multicast';
    if (cast === 'broadcast') c.rxBroadcast++;
    else c.rxMulticast++;
    const names: string[] = [];
    for (const p of to) if (deliver(sw, p, frame)) names.push(p.name);
    if (names.length > 0) sw.observer.rx?.(frame, names, cast);
  }
}

/**
 * Read raw, with no validation beyond lengths: a header that a guest would reject as malformed
 * still cannot carry a guest's identity, so checking more frames than the guests accept is safe.
 * The caller guarantees an Ethernet header's 14 bytes.
 */
export function localClaim(sw: Switch, frame: Uint8Array): ['rxSpoofedMac' | 'rxSpoofedIp', Port, AddressConflict?] | undefined {
  // The Ethernet source first, read raw: even a frame whose 802.1Q tag is cut short may not
  // carry a guest's MAC to the other guest. Every read is in place: this runs on every frame.
  let p = sw.ownerAt(frame, ETHERNET_SRC);
  if (p) return ['rxSpoofedMac', p];
  const l3 = ethernetHeaderLen(frame);
  if (l3 === 0) return undefined;
  const bodyLen = frame.length - l3;
  let ip: IpAddr | undefined;
  let arp = false;
  switch (payloadEtherType(frame, l3)) {
    case EtherType.Arp:
      if (bodyLen < ARP_MIN_LEN) return undefined;
      p = sw.ownerAt(frame, l3 + ARP_SENDER_MAC);
      if (p) return ['rxSpoofedMac', p];
      ip = readIpv4(frame, l3 + ARP_SENDER_IP);
      arp = true;
      break;
    case EtherType.Ipv4:
      if (bodyLen >= IPV4_MIN_LEN) ip = readIpv4(frame, l3 + IPV4_SRC);
      break;
    case EtherType.Ipv6:
      if (bodyLen >= IPV6_MIN_LEN) ip = readIpv6(frame, l3 + IPV6_SRC);
      break;
  }
  p = ip === undefined ? undefined : sw.ownerOfAddr(ip);
  if (!p) return undefined;
  return arp ? ['rxSpoofedIp', p, { ip: ip!, mac: readMac(frame, l3 + ARP_SENDER_MAC) }] : ['rxSpoofedIp', p];
}

/** Put a frame into a port's RX ring (raising its line), or drop it: halted port, full ring. */
export function deliver(sw: Switch, port: Port, frame: Uint8Array): boolean {
  if (port.halted) {
    sw.drop('rxHalted', frame, port);
    return false;
  }
  if (!port.deliver(frame)) {
    sw.drop('rxQueueFull', frame, port);
    return false;
  }
  return true;
}
