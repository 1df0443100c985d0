// Source-address checks, both directions. On transmit a guest can speak only as itself: the
// Ethernet source must be the port's MAC; an IPv4 source, an ARP sender or an IPv6 source must be
// in the port's address set (or unspecified, which probes, DHCP and DAD use). On receive the
// wire can never speak as a local guest: a frame claiming a guest's MAC or address is refused.
// Frames that do not parse are refused on transmit (a guest's bug) and passed on receive (the
// guest's own parser drops and counts them).
import { EtherType, EthernetFrame, Ipv4Packet, ArpPacket, isWireError } from '../wire/index.js';
import { readIpv6, type IpAddr, type Ipv6, type Mac } from '../wire/address.js';

export type SourceVerdict = 'ok' | 'spoofed-mac' | 'spoofed-ip' | 'malformed';

/** The IPv6 unspecified address ::. */
export const IPV6_UNSPECIFIED = '0'.repeat(32) as Ipv6;
const IPV6_HEADER_LEN = 40;
const IPV6_SRC_OFFSET = 8;

/** Who a frame claims to be: its Ethernet source, an ARP sender's MAC and IP, an IP source. */
export interface ClaimedSource {
  mac: Mac;
  arpMac?: Mac;
  ip?: IpAddr;
}

/** The sources a frame claims, or 'malformed' when its Ethernet, IPv4, ARP or IPv6 header does not parse. */
export function claimedSource(frame: Uint8Array): ClaimedSource | 'malformed' {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) return 'malformed';
  const mac = eth.srcAddr();
  switch (eth.etherType()) {
    case EtherType.Ipv4: {
      const ip = Ipv4Packet.checked(eth.payload());
      if (isWireError(ip)) return 'malformed';
      return { mac, ip: ip.srcAddr() };
    }
    case EtherType.Arp: {
      const arp = ArpPacket.checked(eth.payload());
      if (isWireError(arp)) return 'malformed';
      return { mac, arpMac: arp.senderHwAddr(), ip: arp.senderProtoAddr() };
    }
    case EtherType.Ipv6: {
      const p = eth.payload();
      if (p.length < IPV6_HEADER_LEN || p[0]! >>> 4 !== 6) return 'malformed';
      return { mac, ip: readIpv6(p, IPV6_SRC_OFFSET) };
    }
    default:
      return { mac };
  }
}

export function isUnspecified(ip: IpAddr): boolean {
  return ip === 0 || ip === IPV6_UNSPECIFIED;
}

/** A guest's frame on transmit, against its port's identity. */
export function checkSource(port: { mac: Mac; addresses: ReadonlySet<IpAddr> }, frame: Uint8Array): SourceVerdict {
  const c = claimedSource(frame);
  if (c === 'malformed') return c;
  if (c.mac !== port.mac || (c.arpMac !== undefined && c.arpMac !== port.mac)) return 'spoofed-mac';
  if (c.ip !== undefined && !isUnspecified(c.ip) && !port.addresses.has(c.ip)) return 'spoofed-ip';
  return 'ok';
}
