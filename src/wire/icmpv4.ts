// ICMP for IPv4 (RFC 792): echo, destination unreachable, and any other type passed on raw.

import { ByteRangeView, readU16, writeU16 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { WireError } from './error.js';

/** ICMP types we name; any other value passes through as a plain number. */
export const Icmpv4Type = {
  EchoReply: 0,
  DstUnreachable: 3,
  EchoRequest: 8,
  TimeExceeded: 11,
} as const;

/** Codes of Destination Unreachable (type 3). */
export const Icmpv4DstUnreachable = {
  NetUnreachable: 0,
  HostUnreachable: 1,
  ProtocolUnreachable: 2,
  PortUnreachable: 3,
  FragRequired: 4,
  SrcRouteFailed: 5,
  DstNetUnknown: 6,
  DstHostUnknown: 7,
  NetProhibited: 9,
  HostProhibited: 10,
  CommProhibited: 13,
} as const;

/** Codes of Time Exceeded (type 11). */
export const Icmpv4TimeExceeded = {
  TtlExpired: 0,
  FragReassembly: 1,
} as const;

/** Byte offsets; bytes 4..8 are "rest of header", whose meaning depends on the type. */
const field = {
  type: 0,
  code: 1,
  checksum: 2,
  rest: 4,
  echoIdent: 4,
  echoSeqNo: 6,
  unreachMtu: 6,
  data: 8,
} as const;

/** Length of the ICMP header, rest-of-header included. */
export const ICMPV4_HEADER_LEN: number = field.data;

/**
 * A zero-copy view of an ICMPv4 message whose checksum has been checked: the message is
 * bytes[offset..end) (the IP payload inside a whole frame, say), so a receive path needs no
 * subarray to look at it.
 */
export class Icmpv4Packet extends ByteRangeView {
  private constructor(buf?: Uint8Array, off?: number, stop?: number) {
    super(buf, off, stop);
  }

  /**
   * Check length (>= 8) and the checksum over the whole of buf[off..end) (pass exactly the IP
   * payload). With `reuse`, a receive path that looks at one message at a time points that one
   * view at it instead of making a new one per message.
   */
  static checked(buf: Uint8Array, off = 0, end: number = buf.length, reuse?: Icmpv4Packet): Icmpv4Packet | WireError {
    const len = end - off;
    if (!(off >= 0) || end > buf.length || len < ICMPV4_HEADER_LEN) {
      return new WireError('icmpv4', 'truncated', len, `truncated header (${len} of ${ICMPV4_HEADER_LEN} bytes)`);
    }
    if (internetChecksum(buf, 0, off, end) !== 0) return new WireError('icmpv4', 'bad-checksum', field.checksum, 'bad checksum');
    return reuse === undefined ? new Icmpv4Packet(buf, off, end) : reuse.point(buf, off, end);
  }

  /** A view for checked()'s `reuse`; it shows nothing until checked() points it at a message. */
  static scratch(): Icmpv4Packet {
    return new Icmpv4Packet();
  }

  /** Message type (see Icmpv4Type). */
  msgType(): number {
    return this.buf[this.off + field.type]!;
  }

  /** Message code. */
  msgCode(): number {
    return this.buf[this.off + field.code]!;
  }

  /** Checksum field as received. */
  checksum(): number {
    return readU16(this.buf, this.off + field.checksum);
  }

  /** Echo identifier (meaningful for echo request/reply). */
  echoIdent(): number {
    return readU16(this.buf, this.off + field.echoIdent);
  }

  /** Echo sequence number (meaningful for echo request/reply). */
  echoSeqNo(): number {
    return readU16(this.buf, this.off + field.echoSeqNo);
  }

  /** Next-hop MTU of a "fragmentation needed" message (RFC 1191); 0 if not given. */
  nextHopMtu(): number {
    return readU16(this.buf, this.off + field.unreachMtu);
  }

  /** The 4 rest-of-header bytes plus the data: everything after type, code, checksum. */
  rest(): Uint8Array {
    return this.buf.subarray(this.off + field.rest, this.stop);
  }

  /** The bytes after the 8-byte header. */
  data(): Uint8Array {
    return this.buf.subarray(this.dataStart(), this.stop);
  }

  /** Where the data after the 8-byte header starts in `bytes`. */
  dataStart(): number {
    return this.off + field.data;
  }
}

/** An ICMPv4 message as a plain value; unknown types are kept whole in 'other'. */
export type Icmpv4Repr =
  | { kind: 'echo-request' | 'echo-reply'; ident: number; seqNo: number; data: Uint8Array }
  | {
      kind: 'dst-unreachable';
      code: number;
      /** Offending IP header + first 8 bytes of its payload. */
      original: Uint8Array;
      /** Next-hop MTU, for code FragRequired only. */
      nextHopMtu?: number;
    }
  | { kind: 'other'; type: number; code: number; rest: Uint8Array };

/** Interpret a checked message; data fields are views into the packet. Echo with a non-zero code is 'other'. */
export function parseIcmpv4Repr(p: Icmpv4Packet): Icmpv4Repr {
  const type = p.msgType();
  const code = p.msgCode();
  if (code === 0 && (type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply)) {
    return {
      kind: type === Icmpv4Type.EchoRequest ? 'echo-request' : 'echo-reply',
      ident: p.echoIdent(),
      seqNo: p.echoSeqNo(),
      data: p.data(),
    };
  }
  if (type === Icmpv4Type.DstUnreachable) {
    if (code === Icmpv4DstUnreachable.FragRequired) {
      return { kind: 'dst-unreachable', code, original: p.data(), nextHopMtu: p.nextHopMtu() };
    }
    return { kind: 'dst-unreachable', code, original: p.data() };
  }
  return { kind: 'other', type, code, rest: p.rest() };
}

/** Bytes needed to emit `r`: header plus data. */
export function icmpv4ReprLen(r: Icmpv4Repr): number {
  switch (r.kind) {
    case 'echo-request':
    case 'echo-reply':
      return ICMPV4_HEADER_LEN + r.data.length;
    case 'dst-unreachable':
      return ICMPV4_HEADER_LEN + r.original.length;
    case 'other':
      return field.rest + r.rest.length;
  }
}

/** Write header, data and checksum into buf[0..icmpv4ReprLen(r)); data may already sit in place. */
export function emitIcmpv4(r: Icmpv4Repr, buf: Uint8Array): void {
  const len = icmpv4ReprLen(r);
  if (buf.length < len) throw new RangeError(`icmpv4: emit needs ${len} bytes, got ${buf.length}`);
  switch (r.kind) {
    case 'echo-request':
    case 'echo-reply':
      buf.set(r.data, field.data);
      emitIcmpv4Echo(buf, 0, r.kind === 'echo-request' ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply, r.ident, r.seqNo, r.data.length);
      return;
    case 'dst-unreachable':
      buf[field.type] = Icmpv4Type.DstUnreachable;
      buf[field.code] = r.code & 0xff;
      writeU16(buf, field.rest, 0);
      writeU16(buf, field.unreachMtu, r.nextHopMtu ?? 0);
      buf.set(r.original, field.data);
      break;
    case 'other':
      buf[field.type] = r.type & 0xff;
      buf[field.code] = r.code & 0xff;
      buf.set(r.rest, field.rest);
      break;
  }
  writeU16(buf, field.checksum, 0);
  writeU16(buf, field.checksum, internetChecksum(buf, 0, 0, len));
}

/**
 * Write an echo request or reply (`type`) header in front of `dataLen` bytes of data already at
 * buf[off+8..), and the checksum over both: emitIcmpv4's echo without a repr, for a reply built
 * per request with no object made for it. Throws RangeError without the room.
 */
export function emitIcmpv4Echo(buf: Uint8Array, off: number, type: number, ident: number, seqNo: number, dataLen: number): void {
  const end = off + ICMPV4_HEADER_LEN + dataLen;
  if (!(off >= 0) || !(dataLen >= 0) || buf.length < end) throw new RangeError(`icmpv4: emit needs ${ICMPV4_HEADER_LEN + dataLen} bytes at ${off}, got ${buf.length}`);
  buf[off + field.type] = type;
  buf[off + field.code] = 0;
  writeU16(buf, off + field.echoIdent, ident);
  writeU16(buf, off + field.echoSeqNo, seqNo);
  writeU16(buf, off + field.checksum, 0);
  writeU16(buf, off + field.checksum, internetChecksum(buf, 0, off, end));
}
