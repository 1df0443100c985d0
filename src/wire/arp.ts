// ARP for Ethernet/IPv4 (RFC 826). Other hardware or protocol types are reported 'unsupported'.

import { readIpv4, readMac, writeIpv4, writeMac, type Ipv4, type Mac } from './address.js';
import { readU16, writeU16 } from './bytes.js';
import { WireError } from './error.js';
import { EtherType } from './ethernet.js';

/** ARP opcodes we name; others are passed on as numbers. */
export const ArpOperation = {
  Request: 1,
  Reply: 2,
} as const;

const HW_ETHERNET = 1;
const MAC_LEN = 6;
const IPV4_LEN = 4;

/** Byte offsets for the Ethernet/IPv4 layout. */
const field = {
  htype: 0,
  ptype: 2,
  hlen: 4,
  plen: 5,
  oper: 6,
  sha: 8,
  spa: 8 + MAC_LEN,
  tha: 8 + MAC_LEN + IPV4_LEN,
  tpa: 8 + 2 * MAC_LEN + IPV4_LEN,
  end: 8 + 2 * MAC_LEN + 2 * IPV4_LEN,
} as const;

/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_PACKET_LEN: number = field.end;

/** What is wrong with an ARP packet, in the order ArpPacket.checked looks. */
export const ArpProblem = {
  None: 0,
  Truncated: 1,
  Htype: 2,
  Ptype: 3,
  Hlen: 4,
  Plen: 5,
} as const;
export type ArpProblem = (typeof ArpProblem)[keyof typeof ArpProblem];

/**
 * The checks of ArpPacket.checked on buf[off..end) without a view (the switch runs them on every
 * frame it passes, so they allocate nothing): the first problem, or ArpProblem.None.
 */
export function arpProblem(buf: Uint8Array, off: number, end: number): ArpProblem {
  if (end - off < ARP_PACKET_LEN) return ArpProblem.Truncated;
  if (readU16(buf, off + field.htype) !== HW_ETHERNET) return ArpProblem.Htype;
  if (readU16(buf, off + field.ptype) !== EtherType.Ipv4) return ArpProblem.Ptype;
  if (buf[off + field.hlen] !== MAC_LEN) return ArpProblem.Hlen;
  if (buf[off + field.plen] !== IPV4_LEN) return ArpProblem.Plen;
  return ArpProblem.None;
}

/** A zero-copy view of an Ethernet/IPv4 ARP packet. */
export class ArpPacket {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check length and that this is Ethernet/IPv4 ARP, or return why not. Trailing bytes (padding) are ignored. */
  static checked(buf: Uint8Array): ArpPacket | WireError {
    switch (arpProblem(buf, 0, buf.length)) {
      case ArpProblem.None:
        return new ArpPacket(buf);
      case ArpProblem.Truncated:
        return new WireError('arp', 'truncated', buf.length, `truncated packet (${buf.length} of ${ARP_PACKET_LEN} bytes)`);
      case ArpProblem.Htype:
        return new WireError('arp', 'unsupported', field.htype, `unsupported hardware type ${readU16(buf, field.htype)}`);
      case ArpProblem.Ptype:
        return new WireError('arp', 'unsupported', field.ptype, `unsupported protocol type 0x${readU16(buf, field.ptype).toString(16).padStart(4, '0')}`);
      case ArpProblem.Hlen:
        return new WireError('arp', 'unsupported', field.hlen, `unsupported hardware length ${buf[field.hlen]}`);
      case ArpProblem.Plen:
        return new WireError('arp', 'unsupported', field.plen, `unsupported protocol length ${buf[field.plen]}`);
    }
  }

  /** Opcode (1 request, 2 reply, or any other value as received). */
  operation(): number {
    return readU16(this.buffer, field.oper);
  }

  /** Sender hardware address. */
  senderHwAddr(): Mac {
    return readMac(this.buffer, field.sha);
  }

  /** Sender protocol address. */
  senderProtoAddr(): Ipv4 {
    return readIpv4(this.buffer, field.spa);
  }

  /** Target hardware address. */
  targetHwAddr(): Mac {
    return readMac(this.buffer, field.tha);
  }

  /** Target protocol address. */
  targetProtoAddr(): Ipv4 {
    return readIpv4(this.buffer, field.tpa);
  }
}

/** An Ethernet/IPv4 ARP packet as a plain value. */
export class ArpRepr {
  constructor(
    public operation: number,
    public senderHw: Mac,
    public senderIp: Ipv4,
    public targetHw: Mac,
    public targetIp: Ipv4,
  ) {}

  /** Read the fields of a checked packet. */
  static parse(p: ArpPacket): ArpRepr {
    return new ArpRepr(p.operation(), p.senderHwAddr(), p.senderProtoAddr(), p.targetHwAddr(), p.targetProtoAddr());
  }

  /** Always ARP_PACKET_LEN (28). */
  bufferLen(): number {
    return ARP_PACKET_LEN;
  }

  /** Write the packet at buf[0..28). */
  emit(buf: Uint8Array): void {
    if (buf.length < ARP_PACKET_LEN) throw new RangeError(`arp: emit needs ${ARP_PACKET_LEN} bytes, got ${buf.length}`);
    writeU16(buf, field.htype, HW_ETHERNET);
    writeU16(buf, field.ptype, EtherType.Ipv4);
    buf[field.hlen] = MAC_LEN;
    buf[field.plen] = IPV4_LEN;
    writeU16(buf, field.oper, this.operation);
    writeMac(buf, field.sha, this.senderHw);
    writeIpv4(buf, field.spa, this.senderIp);
    writeMac(buf, field.tha, this.targetHw);
    writeIpv4(buf, field.tpa, this.targetIp);
  }
}
