// IPv4 header (RFC 791). Options are skipped by IHL and exposed raw; reassembly is not ours.

import { readIpv4, writeIpv4, type Ipv4 } from './address.js';
import { readU16, writeU16 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { WireError } from './error.js';

/** IP protocol numbers we name; any other value passes through as a plain number. */
export const IpProtocol = {
  Icmp: 1,
  Tcp: 6,
  Udp: 17,
} as const;

/** Byte offsets of the fixed header. */
const field = {
  verIhl: 0,
  dscpEcn: 1,
  totalLen: 2,
  ident: 4,
  flagsFrag: 6,
  ttl: 8,
  protocol: 9,
  checksum: 10,
  src: 12,
  dst: 16,
  options: 20,
} as const;

/** Length of the header without options. */
export const IPV4_HEADER_LEN: number = field.options;

const VERSION = 4;
const IHL_MASK = 0x0f;
const IHL_UNIT = 4;
const MIN_IHL = IPV4_HEADER_LEN / IHL_UNIT;
const DSCP_SHIFT = 2;
const ECN_MASK = 0x3;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_MASK = 0x1fff;
const FRAG_UNIT = 8;
const MAX_TOTAL_LEN = 0xffff;

/** What is wrong with an IPv4 header, in the order Ipv4Packet.checked looks. */
export const Ipv4Problem = {
  None: 0,
  Truncated: 1,
  Version: 2,
  HeaderLen: 3,
  TotalLen: 4,
  TruncatedPacket: 5,
  Checksum: 6,
} as const;
export type Ipv4Problem = (typeof Ipv4Problem)[keyof typeof Ipv4Problem];

/**
 * The checks of Ipv4Packet.checked on buf[off..end) without a view (the switch runs them on every
 * frame a guest sends, so they allocate nothing): the first problem, or Ipv4Problem.None.
 */
export function ipv4Problem(buf: Uint8Array, off: number, end: number): Ipv4Problem {
  const len = end - off;
  if (len < IPV4_HEADER_LEN) return Ipv4Problem.Truncated;
  const verIhl = buf[off + field.verIhl]!;
  if (verIhl >>> 4 !== VERSION) return Ipv4Problem.Version;
  const hdrLen = (verIhl & IHL_MASK) * IHL_UNIT;
  if (hdrLen < IPV4_HEADER_LEN) return Ipv4Problem.HeaderLen;
  const totalLen = readU16(buf, off + field.totalLen);
  if (totalLen < hdrLen) return Ipv4Problem.TotalLen;
  // totalLen >= hdrLen, so this also guarantees the options are present.
  if (totalLen > len) return Ipv4Problem.TruncatedPacket;
  if (internetChecksum(buf, 0, off, off + hdrLen) !== 0) return Ipv4Problem.Checksum;
  return Ipv4Problem.None;
}

/** A zero-copy view of an IPv4 packet whose lengths and header checksum have been checked. */
export class Ipv4Packet {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check header, lengths and header checksum; bytes past totalLen (Ethernet padding) are ignored. */
  static checked(buf: Uint8Array): Ipv4Packet | WireError {
    const hdrLen = (buf[field.verIhl]! & IHL_MASK) * IHL_UNIT;
    const totalLen = readU16(buf, field.totalLen);
    switch (ipv4Problem(buf, 0, buf.length)) {
      case Ipv4Problem.None:
        return new Ipv4Packet(buf);
      case Ipv4Problem.Truncated:
        return new WireError('ipv4', 'truncated', buf.length, `truncated header (${buf.length} of ${IPV4_HEADER_LEN} bytes)`);
      case Ipv4Problem.Version:
        return new WireError('ipv4', 'bad-version', field.verIhl, `bad version ${buf[field.verIhl]! >>> 4}`);
      case Ipv4Problem.HeaderLen:
        return new WireError('ipv4', 'bad-header-len', field.verIhl, `bad header length ${hdrLen}`);
      case Ipv4Problem.TotalLen:
        return new WireError('ipv4', 'bad-total-len', field.totalLen, `bad total length ${totalLen} (header is ${hdrLen})`);
      case Ipv4Problem.TruncatedPacket:
        return new WireError('ipv4', 'truncated', buf.length, `truncated packet (${buf.length} of total length ${totalLen})`);
      case Ipv4Problem.Checksum:
        return new WireError('ipv4', 'bad-checksum', field.checksum, 'bad header checksum');
    }
  }

  /** Version field (always 4 on a checked packet). */
  version(): number {
    return this.buffer[field.verIhl]! >>> 4;
  }

  /** Header length in bytes (IHL * 4), options included. */
  headerLen(): number {
    return (this.buffer[field.verIhl]! & IHL_MASK) * IHL_UNIT;
  }

  /** Differentiated services code point. */
  dscp(): number {
    return this.buffer[field.dscpEcn]! >>> DSCP_SHIFT;
  }

  /** Explicit congestion notification bits. */
  ecn(): number {
    return this.buffer[field.dscpEcn]! & ECN_MASK;
  }

  /** Total length field: header plus payload. */
  totalLen(): number {
    return readU16(this.buffer, field.totalLen);
  }

  /** Identification field. */
  ident(): number {
    return readU16(this.buffer, field.ident);
  }

  /** Don't Fragment flag. */
  dontFrag(): boolean {
    return (readU16(this.buffer, field.flagsFrag) & FLAG_DF) !== 0;
  }

  /** More Fragments flag. */
  moreFrags(): boolean {
    return (readU16(this.buffer, field.flagsFrag) & FLAG_MF) !== 0;
  }

  /** Fragment offset in bytes. */
  fragOffset(): number {
    return (readU16(this.buffer, field.flagsFrag) & FRAG_MASK) * FRAG_UNIT;
  }

  /** True if this is any fragment of a larger datagram (MF set or offset non-zero). */
  isFragment(): boolean {
    return (readU16(this.buffer, field.flagsFrag) & (FLAG_MF | FRAG_MASK)) !== 0;
  }

  /** Time to live. */
  ttl(): number {
    return this.buffer[field.ttl]!;
  }

  /** Payload protocol number (see IpProtocol). */
  protocol(): number {
    return this.buffer[field.protocol]!;
  }

  /** Header checksum field as received. */
  checksum(): number {
    return readU16(this.buffer, field.checksum);
  }

  /** Source address. */
  srcAddr(): Ipv4 {
    return readIpv4(this.buffer, field.src);
  }

  /** Destination address. */
  dstAddr(): Ipv4 {
    return readIpv4(this.buffer, field.dst);
  }

  /** Raw option bytes (empty when IHL is 5). */
  options(): Uint8Array {
    return this.buffer.subarray(field.options, this.headerLen());
  }

  /** Bytes headerLen..totalLen: the payload without options or link padding. */
  payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen(), this.totalLen());
  }
}

/** An IPv4 header (without options) as a plain value. */
export class Ipv4Repr {
  constructor(
    public src: Ipv4,
    public dst: Ipv4,
    public protocol: number,
    public payloadLen: number,
    public ttl = 64,
    public ident = 0,
    public dontFrag = true,
    public dscp = 0,
  ) {}

  /** Read a checked packet; options are dropped, payloadLen = totalLen - headerLen. */
  static parse(p: Ipv4Packet): Ipv4Repr {
    return new Ipv4Repr(
      p.srcAddr(),
      p.dstAddr(),
      p.protocol(),
      p.totalLen() - p.headerLen(),
      p.ttl(),
      p.ident(),
      p.dontFrag(),
      p.dscp(),
    );
  }

  /** Always IPV4_HEADER_LEN (20): this repr emits no options. */
  bufferLen(): number {
    return IPV4_HEADER_LEN;
  }

  /** Write the 20-byte header, checksum included, at buf[0..20). */
  emit(buf: Uint8Array): void {
    if (buf.length < IPV4_HEADER_LEN) throw new RangeError(`ipv4: emit needs ${IPV4_HEADER_LEN} bytes, got ${buf.length}`);
    if (this.payloadLen < 0 || IPV4_HEADER_LEN + this.payloadLen > MAX_TOTAL_LEN) {
      throw new RangeError(`ipv4: payload length ${this.payloadLen} does not fit in a datagram`);
    }
    buf[field.verIhl] = (VERSION << 4) | MIN_IHL;
    buf[field.dscpEcn] = (this.dscp << DSCP_SHIFT) & 0xff;
    writeU16(buf, field.totalLen, IPV4_HEADER_LEN + this.payloadLen);
    writeU16(buf, field.ident, this.ident);
    writeU16(buf, field.flagsFrag, this.dontFrag ? FLAG_DF : 0);
    buf[field.ttl] = this.ttl & 0xff;
    buf[field.protocol] = this.protocol & 0xff;
    writeU16(buf, field.checksum, 0);
    writeIpv4(buf, field.src, this.src);
    writeIpv4(buf, field.dst, this.dst);
    writeU16(buf, field.checksum, internetChecksum(buf, 0, 0, IPV4_HEADER_LEN));
  }
}

/**
 * Rewrite a header in place (options included: `header` is exactly the header) for one piece of
 * a datagram: total length, fragment offset in bytes (a multiple of 8), MF, DF cleared, and the
 * checksum. Used to cut a datagram into fragments and to rebuild one from them.
 */
export function rewriteIpv4Fragment(header: Uint8Array, totalLen: number, offset: number, moreFrags: boolean): void {
  if (offset % FRAG_UNIT !== 0 || offset / FRAG_UNIT > FRAG_MASK) throw new RangeError(`ipv4: bad fragment offset ${offset}`);
  if (totalLen < header.length || totalLen > MAX_TOTAL_LEN) throw new RangeError(`ipv4: bad total length ${totalLen}`);
  writeU16(header, field.totalLen, totalLen);
  writeU16(header, field.flagsFrag, (moreFrags ? FLAG_MF : 0) | (offset / FRAG_UNIT));
  writeU16(header, field.checksum, 0);
  writeU16(header, field.checksum, internetChecksum(header));
}
