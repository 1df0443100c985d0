// IPv6 header (RFC 8200) and the address arithmetic a host needs on a link: link-local from a
// MAC (RFC 4291 2.5.1 / RFC 4862 5.3, modified EUI-64), solicited-node groups (RFC 4291
// 2.7.1), group MACs (RFC 2464 7), the upper-layer pseudo-header (RFC 8200 8.1). Extension
// headers are not walked here: the next-header value is passed on as a number.

import { readIpv6, writeIpv6, type Ipv6, type Mac } from './address.js';
import { readU16, writeU16 } from './bytes.js';
import { WireError } from './error.js';

/** Byte offsets of the fixed header. */
const field = {
  verTcFlow: 0,
  payloadLen: 4,
  nextHeader: 6,
  hopLimit: 7,
  src: 8,
  dst: 24,
  payload: 40,
} as const;

/** Length of the fixed header. */
export const IPV6_HEADER_LEN: number = field.payload;

/** Next-header values we name; any other value passes through as a plain number. */
export const Ipv6NextHeader = {
  HopByHop: 0,
  Tcp: 6,
  Udp: 17,
  Fragment: 44,
  Icmpv6: 58,
  NoNext: 59,
} as const;

const VERSION = 6;
const TWO_32 = 0x1_0000_0000;

/** A zero-copy view of an IPv6 packet whose version and lengths have been checked. */
export class Ipv6Packet {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check version and that payloadLen fits `buf`; bytes past it (Ethernet padding) are ignored. */
  static checked(buf: Uint8Array): Ipv6Packet | WireError {
    if (buf.length < IPV6_HEADER_LEN) {
      return new WireError('ipv6', 'truncated', buf.length, `truncated header (${buf.length} of ${IPV6_HEADER_LEN} bytes)`);
    }
    const version = buf[field.verTcFlow]! >>> 4;
    if (version !== VERSION) return new WireError('ipv6', 'bad-version', field.verTcFlow, `bad version ${version}`);
    const len = readU16(buf, field.payloadLen);
    // A payload length of 0 with a jumbo option (RFC 2675) cannot occur on Ethernet: treat as empty.
    if (IPV6_HEADER_LEN + len > buf.length) {
      return new WireError('ipv6', 'truncated', buf.length, `truncated packet (${buf.length} bytes, payload length ${len})`);
    }
    return new Ipv6Packet(buf);
  }

  /** Traffic class (DSCP and ECN). */
  trafficClass(): number {
    return ((readU16(this.buffer, field.verTcFlow) >>> 4) & 0xff) >>> 0;
  }

  /** Flow label (20 bits). */
  flowLabel(): number {
    return ((this.buffer[1]! & 0x0f) << 16) | readU16(this.buffer, 2);
  }

  /** Payload length field (extension headers included). */
  payloadLen(): number {
    return readU16(this.buffer, field.payloadLen);
  }

  /** Next header: the protocol or extension header after the fixed header (see Ipv6NextHeader). */
  nextHeader(): number {
    return this.buffer[field.nextHeader]!;
  }

  /** Hop limit. */
  hopLimit(): number {
    return this.buffer[field.hopLimit]!;
  }

  /** Source address. */
  srcAddr(): Ipv6 {
    return readIpv6(this.buffer, field.src);
  }

  /** Destination address. */
  dstAddr(): Ipv6 {
    return readIpv6(this.buffer, field.dst);
  }

  /** Bytes 40..40+payloadLen. */
  payload(): Uint8Array {
    return this.buffer.subarray(field.payload, field.payload + this.payloadLen());
  }
}

/** An IPv6 fixed header as a plain value. */
export class Ipv6Repr {
  constructor(
    public src: Ipv6,
    public dst: Ipv6,
    public nextHeader: number,
    public payloadLen: number,
    public hopLimit = 64,
  ) {}

  static parse(p: Ipv6Packet): Ipv6Repr {
    return new Ipv6Repr(p.srcAddr(), p.dstAddr(), p.nextHeader(), p.payloadLen(), p.hopLimit());
  }

  /** Always IPV6_HEADER_LEN (40). */
  bufferLen(): number {
    return IPV6_HEADER_LEN;
  }

  /** Write the 40-byte header (traffic class and flow label zero) at buf[0..40). */
  emit(buf: Uint8Array): void {
    if (buf.length < IPV6_HEADER_LEN) throw new RangeError(`ipv6: emit needs ${IPV6_HEADER_LEN} bytes, got ${buf.length}`);
    if (!Number.isInteger(this.payloadLen) || this.payloadLen < 0 || this.payloadLen > 0xffff) {
      throw new RangeError(`ipv6: payload length ${this.payloadLen} does not fit`);
    }
    buf[0] = VERSION << 4;
    buf[1] = 0;
    buf[2] = 0;
    buf[3] = 0;
    writeU16(buf, field.payloadLen, this.payloadLen);
    buf[field.nextHeader] = this.nextHeader & 0xff;
    buf[field.hopLimit] = this.hopLimit & 0xff;
    writeIpv6(buf, field.src, this.src);
    writeIpv6(buf, field.dst, this.dst);
  }
}

/** Unfolded sum of the IPv6 pseudo-header (RFC 8200 8.1) for an upper-layer checksum. */
export function pseudoHeaderSumV6(src: Ipv6, dst: Ipv6, nextHeader: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < 32; i += 4) sum += parseInt(src.slice(i, i + 4), 16) + parseInt(dst.slice(i, i + 4), 16);
  // 32-bit upper-layer length, then 3 zero bytes and the next header.
  return sum + Math.floor(length / 0x1_0000) + (length & 0xffff) + (nextHeader & 0xff);
}

/** The unspecified address "::", the source of a DAD probe. */
export const IPV6_UNSPECIFIED = '0'.repeat(32) as Ipv6;
/** ff02::1, all nodes on the link. */
export const IPV6_ALL_NODES = 'ff020000000000000000000000000001' as Ipv6;
/** ff02::2, all routers on the link. */
export const IPV6_ALL_ROUTERS = 'ff020000000000000000000000000002' as Ipv6;

/** True for ff00::/8. */
export function isMulticastIpv6(ip: Ipv6): boolean {
  return ip.startsWith('ff');
}

/** True for fe80::/10. */
export function isLinkLocalIpv6(ip: Ipv6): boolean {
  return ip.startsWith('fe') && (parseInt(ip[2]!, 16) & 0xc) === 0x8;
}

/** True for ::1. */
export function isLoopbackIpv6(ip: Ipv6): boolean {
  return ip === `${'0'.repeat(31)}1`;
}

/** The modified EUI-64 interface identifier of a MAC (U/L bit flipped, ff:fe in the middle), 16 hex digits. */
export function interfaceIdFromMac(mac: Mac): string {
  const hex = Math.floor(mac).toString(16).padStart(12, '0');
  const first = (parseInt(hex.slice(0, 2), 16) ^ 0x02).toString(16).padStart(2, '0');
  return `${first}${hex.slice(2, 6)}fffe${hex.slice(6, 12)}`;
}

/** fe80::/64 with the MAC's modified EUI-64 interface identifier. */
export function linkLocalFromMac(mac: Mac): Ipv6 {
  return `fe80000000000000${interfaceIdFromMac(mac)}` as Ipv6;
}

/** A /64 prefix (its first 16 hex digits are used) joined with a 16-digit interface identifier. */
export function withInterfaceId(prefix: Ipv6, iid: string): Ipv6 {
  return `${prefix.slice(0, 16)}${iid}` as Ipv6;
}

/** True if the first `len` bits of `a` and `b` agree. */
export function ipv6PrefixMatch(a: Ipv6, b: Ipv6, len: number): boolean {
  const full = Math.floor(len / 4);
  if (a.slice(0, full) !== b.slice(0, full)) return false;
  const bits = len % 4;
  if (bits === 0) return true;
  const mask = (0xf << (4 - bits)) & 0xf;
  return (parseInt(a[full]!, 16) & mask) === (parseInt(b[full]!, 16) & mask);
}

/** ff02::1:ffXX:XXXX, the solicited-node group of `ip` (its low 24 bits). */
export function solicitedNode(ip: Ipv6): Ipv6 {
  return `ff0200000000000000000001ff${ip.slice(26)}` as Ipv6;
}

/** 33:33 and the group's low 32 bits (RFC 2464 7). */
export function multicastMacIpv6(ip: Ipv6): Mac {
  return 0x3333 * TWO_32 + parseInt(ip.slice(24), 16);
}
