// Source-address checks, both directions. On transmit a guest can speak only as itself: the
// Ethernet source must be the port's MAC; an IPv4 source, an ARP sender or an IPv6 source must be
// in the port's address set, or unspecified where a host without an address must use it: an ARP
// probe's sender 0.0.0.0 (RFC 5227), IPv6 :: (DAD), and an IPv4 source 0.0.0.0 only for a DHCP
// client's broadcast (UDP 68 -> 255.255.255.255:67 to the broadcast MAC, RFC 2131 4.1). On receive the
// wire can never speak as a local guest: a frame claiming a guest's MAC or address is refused.
// Frames that do not parse are refused on transmit (a guest's bug) and passed on receive (the
// guest's own parser drops and counts them).
import { ArpProblem, EtherType, IpProtocol, Ipv4Problem, MAC_BROADCAST, arpProblem, ethernetHeaderLen, ipv4Problem, payloadEtherType, readU16 } from '../wire/index.js';
import { readIpv4, readIpv6, readMac, type IpAddr, type Ipv6 } from '../wire/address.js';
import { macHighAt, macLowAt } from './mac-table.js';

export type SourceVerdict = 'ok' | 'spoofed-mac' | 'spoofed-ip' | 'malformed';

/** The IPv6 unspecified address ::. */
export const IPV6_UNSPECIFIED = '0'.repeat(32) as Ipv6;

/** Byte offsets and lengths the identity checks of both directions read (here and in virt-rx). */
export const ETHERNET_SRC = 6;
export const ARP_SENDER_MAC = 8;
export const ARP_SENDER_IP = 14;
export const ARP_MIN_LEN = 28;
export const IPV4_SRC = 12;
export const IPV4_MIN_LEN = 20;
export const IPV6_SRC = 8;
export const IPV6_MIN_LEN = 40;

const DHCP_CLIENT_PORT = 68;
const DHCP_SERVER_PORT = 67;
const IPV4_DST = 16;
const IPV4_PROTOCOL = 9;
const IPV4_TOTAL_LEN = 2;
const IPV4_FLAGS_FRAG = 6;
const IPV4_MF_AND_OFFSET = 0x3fff;
const UDP_HEADER_LEN = 8;

/**
 * A whole UDP datagram 0.0.0.0:68 -> 255.255.255.255:67 in a broadcast frame (the IPv4 header at
 * `ip` has been checked): the one use an IPv4 source 0.0.0.0 may have (RFC 2131 4.1).
 */
function isDhcpClientBroadcast(frame: Uint8Array, ip: number): boolean {
  if (readMac(frame, 0) !== MAC_BROADCAST || readIpv4(frame, ip + IPV4_DST) !== 0xffff_ffff) return false;
  if (frame[ip + IPV4_PROTOCOL] !== IpProtocol.Udp || (readU16(frame, ip + IPV4_FLAGS_FRAG) & IPV4_MF_AND_OFFSET) !== 0) return false;
  const u = ip + (frame[ip]! & 0x0f) * 4;
  const end = ip + readU16(frame, ip + IPV4_TOTAL_LEN);
  return end - u >= UDP_HEADER_LEN && readU16(frame, u) === DHCP_CLIENT_PORT && readU16(frame, u + 2) === DHCP_SERVER_PORT;
}

export function isUnspecified(ip: IpAddr): boolean {
  return ip === 0 || ip === IPV6_UNSPECIFIED;
}

/** What the transmit check needs of a port: its MAC as two 24-bit halves (small integers). */
export interface SourceIdentity {
  readonly macHi: number;
  readonly macLo: number;
  /** One IPv4 address the port holds (its first), or -1: checked in place before any table. */
  readonly ip4: number;
}

/** Who holds which address: the switch's one table (Switch.ownerOfAddr). */
export interface AddressOwners<P> {
  ownerOfAddr(ip: IpAddr): P | undefined;
}

/**
 * A guest's frame on transmit, against its port's identity: its Ethernet source (and an ARP
 * sender's MAC) must be the port's MAC, its IPv4, ARP or IPv6 source an address `owners` says the
 * port holds, or unspecified where that is allowed; a frame whose Ethernet, IPv4, ARP or IPv6
 * header does not parse is 'malformed'. Every field is read in place and compared with small
 * integers, and the address is looked up in the switch's one table rather than in a set of the
 * port's own: this runs on every frame a guest sends, and with 256 guests each port's boxed MAC
 * and address set were three more cache lines to fetch per frame.
 */
export function checkSource<P extends SourceIdentity>(port: P, frame: Uint8Array, owners: AddressOwners<P>): SourceVerdict {
  const l3 = ethernetHeaderLen(frame);
  if (l3 === 0) return 'malformed';
  const hi = port.macHi;
  const lo = port.macLo;
  const spoofedMac = macHighAt(frame, ETHERNET_SRC) !== hi || macLowAt(frame, ETHERNET_SRC) !== lo;
  let ip: IpAddr;
  switch (payloadEtherType(frame, l3)) {
    case EtherType.Ipv4: {
      if (ipv4Problem(frame, l3, frame.length) !== Ipv4Problem.None) return 'malformed';
      if (spoofedMac) return 'spoofed-mac';
      ip = readIpv4(frame, l3 + IPV4_SRC);
      if (ip === 0) return isDhcpClientBroadcast(frame, l3) ? 'ok' : 'spoofed-ip';
      break;
    }
    case EtherType.Arp:
      if (arpProblem(frame, l3, frame.length) !== ArpProblem.None) return 'malformed';
      if (spoofedMac || macHighAt(frame, l3 + ARP_SENDER_MAC) !== hi || macLowAt(frame, l3 + ARP_SENDER_MAC) !== lo) return 'spoofed-mac';
      ip = readIpv4(frame, l3 + ARP_SENDER_IP);
      break;
    case EtherType.Ipv6:
      if (frame.length - l3 < IPV6_MIN_LEN || frame[l3]! >>> 4 !== 6) return 'malformed';
      if (spoofedMac) return 'spoofed-mac';
      ip = readIpv6(frame, l3 + IPV6_SRC);
      break;
    default:
      return spoofedMac ? 'spoofed-mac' : 'ok';
  }
  return ip === port.ip4 || isUnspecified(ip) || owners.ownerOfAddr(ip) === port ? 'ok' : 'spoofed-ip';
}
