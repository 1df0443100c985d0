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
const SCRATCH = new Uint8Array(0);

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

/**
 * A zero-copy view of an IPv4 packet whose lengths and header checksum have been checked: the
 * packet starts at `offset` in `bytes` (a whole frame, say), so a receive path needs no subarray
 * to look at it.
 */
export class Ipv4Packet {
  private constructor(
    private buf: Uint8Array,
    private off: number,
  ) {}

  /**
   * Check header, lengths and header checksum of the packet at buf[off..]; bytes past totalLen
   * (Ethernet padding) are ignored. With `reuse`, a receive path that looks at one packet at a
   * time points that one view at it instead of making a new one per packet.
   */
  static checked(buf: Uint8Array, off = 0, reuse?: Ipv4Packet): Ipv4Packet | WireError {
    const problem = off >= 0 && off <= buf.length ? ipv4Problem(buf, off, buf.length) : Ipv4Problem.Truncated;
    if (problem === Ipv4Problem.None) {
      if (reuse === undefined) return new Ipv4Packet(buf, off);
      reuse.buf = buf;
      reuse.off = off;
      return reuse;
    }
    const len = buf.length - off;
    const hdrLen = (buf[off + field.verIhl]! & IHL_MASK) * IHL_UNIT;
    const totalLen = readU16(buf, off + field.totalLen);
    switch (problem) {
      case Ipv4Problem.Truncated:
        return new WireError('ipv4', 'truncated', len, `truncated header (${len} of ${IPV4_HEADER_LEN} bytes)`);
      case Ipv4Problem.Version:
        return new WireError('ipv4', 'bad-version', field.verIhl, `bad version ${buf[off + field.verIhl]! >>> 4}`);
      case Ipv4Problem.HeaderLen:
        return new WireError('ipv4', 'bad-header-len', field.verIhl, `bad header length ${hdrLen}`);
      case Ipv4Problem.TotalLen:
        return new WireError('ipv4', 'bad-total-len', field.totalLen, `bad total length ${totalLen} (header is ${hdrLen})`);
      case Ipv4Problem.TruncatedPacket:
        return new WireError('ipv4', 'truncated', len, `truncated packet (${len} of total length ${totalLen})`);
      case Ipv4Problem.Checksum:
        return new WireError('ipv4', 'bad-checksum', field.checksum, 'bad header checksum');
    }
  }

  /** A view for checked()'s `reuse`; it shows nothing until checked() points it at a packet. */
  static scratch(): Ipv4Packet {
    return new Ipv4Packet(SCRATCH, 0);
  }

  /** The array the packet is in (a whole frame, say): see `offset`. */
  get bytes(): Uint8Array {
    return this.buf;
  }

  /** Where the packet's header starts in `bytes`. */
  get offset(): number {
    return this.off;
  }

  /** The packet's bytes from its header on (link padding included): a subarray when `offset` is not 0. */
  get buffer(): Uint8Array {
    return this.off === 0 ? this.buf : this.buf.subarray(this.off);
  }

  /** Version field (always 4 on a checked packet). */
  version(): number {
    return this.buf[this.off + field.verIhl]! >>> 4;
  }

  /** Header length in bytes (IHL * 4), options included. */
  headerLen(): number {
    return (this.buf[this.off + field.verIhl]! & IHL_MASK) * IHL_UNIT;
  }

  /** Differentiated services code point. */
  dscp(): number {
    return this.buf[this.off + field.dscpEcn]! >>> DSCP_SHIFT;
  }

  /** Explicit congestion notification bits. */
  ecn(): number {
    return this.buf[this.off + field.dscpEcn]! & ECN_MASK;
  }

  /** Total length field: header plus payload. */
  totalLen(): number {
    return readU16(this.buf, this.off + field.totalLen);
  }

  /** Identification field. */
  ident(): number {
    return readU16(this.buf, this.off + field.ident);
  }

  /** Don't Fragment flag. */
  dontFrag(): boolean {
    return (readU16(this.buf, this.off + field.flagsFrag) & FLAG_DF) !== 0;
  }

  /** More Fragments flag. */
  moreFrags(): boolean {
    return (readU16(this.buf, this.off + field.flagsFrag) & FLAG_MF) !== 0;
  }

  /** Fragment offset in bytes. */
  fragOffset(): number {
    return (readU16(this.buf, this.off + field.flagsFrag) & FRAG_MASK) * FRAG_UNIT;
  }

  /** True if this is any fragment of a larger datagram (MF set or offset non-zero). */
  isFragment(): boolean {
    return (readU16(this.buf, this.off + field.flagsFrag) & (FLAG_MF | FRAG_MASK)) !== 0;
  }

  /** Time to live. */
  ttl(): number {
    return this.buf[this.off + field.ttl]!;
  }

  /** Payload protocol number (see IpProtocol). */
  protocol(): number {
    return this.buf[this.off + field.protocol]!;
  }

  /** Header checksum field as received. */
  checksum(): number {
    return readU16(this.buf, this.off + field.checksum);
  }

  /** Source address. */
  srcAddr(): Ipv4 {
    return readIpv4(this.buf, this.off + field.src);
  }

  /** Destination address. */
  dstAddr(): Ipv4 {
    return readIpv4(this.buf, this.off + field.dst);
  }

  /** Raw option bytes (empty when IHL is 5). */
  options(): Uint8Array {
    return this.buf.subarray(this.off + field.options, this.off + this.headerLen());
  }

  /** Bytes headerLen..totalLen: the payload without options or link padding. */
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadStart(), this.payloadEnd());
  }

  /** Where the payload starts in `bytes` (offset + headerLen). */
  payloadStart(): number {
    return this.off + this.headerLen();
  }

  /** One past the payload's last byte in `bytes` (offset + totalLen). */
  payloadEnd(): number {
    return this.off + this.totalLen();
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
    emitIpv4Header(buf, 0, this.src, this.dst, this.protocol, this.payloadLen, this.ttl, this.ident, this.dontFrag, this.dscp);
  }
}

/**
 * Write a 20-byte header (no options), checksum included, at buf[off..off+20): Ipv4Repr's emit
 * without a repr, for a sender that builds a datagram per packet and makes no object for it.
 * Throws RangeError without the room or for a payload that does not fit in a datagram.
 */
export function emitIpv4Header(
  buf: Uint8Array,
  off: number,
  src: Ipv4,
  dst: Ipv4,
  protocol: number,
  payloadLen: number,
  ttl: number,
  ident: number,
  dontFrag: boolean,
  dscp: number,
): void {
  if (!(off >= 0) || buf.length < off + IPV4_HEADER_LEN) throw new RangeError(`ipv4: emit needs ${IPV4_HEADER_LEN} bytes at ${off}, got ${buf.length}`);
  if (payloadLen < 0 || IPV4_HEADER_LEN + payloadLen > MAX_TOTAL_LEN) {
    throw new RangeError(`ipv4: payload length ${payloadLen} does not fit in a datagram`);
  }
  buf[off + field.verIhl] = (VERSION << 4) | MIN_IHL;
  buf[off + field.dscpEcn] = (dscp << DSCP_SHIFT) & 0xff;
  writeU16(buf, off + field.totalLen, IPV4_HEADER_LEN + payloadLen);
  writeU16(buf, off + field.ident, ident);
  writeU16(buf, off + field.flagsFrag, dontFrag ? FLAG_DF : 0);
  buf[off + field.ttl] = ttl & 0xff;
  buf[off + field.protocol] = protocol & 0xff;
  writeU16(buf, off + field.checksum, 0);
  writeIpv4(buf, off + field.src, src);
  writeIpv4(buf, off + field.dst, dst);
  writeU16(buf, off + field.checksum, internetChecksum(buf, 0, off, off + IPV4_HEADER_LEN));
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
