// Source-address checks, both directions. On transmit a guest can speak only as itself: the
// Ethernet source must be the port's MAC; an IPv4 source, an ARP sender or an IPv6 source must be
// in the port's address set, or unspecified where a host without an address must use it: an ARP
// probe's sender 0.0.0.0 (RFC 5227), IPv6 :: (DAD), and an IPv4 source 0.0.0.0 only for a DHCP
// client's broadcast (UDP 68 -> 255.255.255.255:67 to the broadcast MAC, RFC 2131 4.1). On receive the
// wire can never speak as a local guest: a frame claiming a guest's MAC or address is refused.
// Frames that do not parse are refused on transmit (a guest's bug) and passed on receive (the
// guest's own parser drops and counts them).
import { EtherType, EthernetFrame, IpProtocol, Ipv4Packet, ArpPacket, MAC_BROADCAST, isWireError } from '../wire/index.js';
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
  /** An IPv4 source 0.0.0.0 on a DHCP client's broadcast to servers, the one use it may have. */
  dhcpClient?: boolean;
}

const DHCP_CLIENT_PORT = 68;
const DHCP_SERVER_PORT = 67;

/** A whole UDP datagram 0.0.0.0:68 -> 255.255.255.255:67 in a broadcast frame. */
function isDhcpClientBroadcast(dstMac: Mac, ip: Ipv4Packet): boolean {
  if (dstMac !== MAC_BROADCAST || ip.dstAddr() !== 0xffff_ffff || ip.protocol() !== IpProtocol.Udp || ip.isFragment()) return false;
  const u = ip.payload();
  return u.length >= 8 && u[0]! * 256 + u[1]! === DHCP_CLIENT_PORT && u[2]! * 256 + u[3]! === DHCP_SERVER_PORT;
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
      const src = ip.srcAddr();
      return src === 0 ? { mac, ip: src, dhcpClient: isDhcpClientBroadcast(eth.dstAddr(), ip) } : { mac, ip: src };
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
  if (c.dhcpClient === false) return 'spoofed-ip'; // IPv4 from 0.0.0.0 that is not a DHCP client's broadcast
  return 'ok';
}
