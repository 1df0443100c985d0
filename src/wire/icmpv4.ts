// ICMP for IPv4 (RFC 792): echo, destination unreachable, and any other type passed on raw.

import { readU16, writeU16 } from './bytes.js';
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

/** A zero-copy view of an ICMPv4 message whose checksum has been checked. */
export class Icmpv4Packet {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check length (>= 8) and the checksum over the whole of `buf` (pass exactly the IP payload). */
  static checked(buf: Uint8Array): Icmpv4Packet | WireError {
    if (buf.length < ICMPV4_HEADER_LEN) {
      return new WireError('icmpv4', 'truncated', buf.length, `truncated header (${buf.length} of ${ICMPV4_HEADER_LEN} bytes)`);
    }
    if (internetChecksum(buf) !== 0) return new WireError('icmpv4', 'bad-checksum', field.checksum, 'bad checksum');
    return new Icmpv4Packet(buf);
  }

  /** Message type (see Icmpv4Type). */
  msgType(): number {
    return this.buffer[field.type]!;
  }

  /** Message code. */
  msgCode(): number {
    return this.buffer[field.code]!;
  }

  /** Checksum field as received. */
  checksum(): number {
    return readU16(this.buffer, field.checksum);
  }

  /** Echo identifier (meaningful for echo request/reply). */
  echoIdent(): number {
    return readU16(this.buffer, field.echoIdent);
  }

  /** Echo sequence number (meaningful for echo request/reply). */
  echoSeqNo(): number {
    return readU16(this.buffer, field.echoSeqNo);
  }

  /** Next-hop MTU of a "fragmentation needed" message (RFC 1191); 0 if not given. */
  nextHopMtu(): number {
    return readU16(this.buffer, field.unreachMtu);
  }

  /** The 4 rest-of-header bytes plus the data: everything after type, code, checksum. */
  rest(): Uint8Array {
    return this.buffer.subarray(field.rest);
  }

  /** The bytes after the 8-byte header. */
  data(): Uint8Array {
    return this.buffer.subarray(field.data);
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
      buf[field.type] = r.kind === 'echo-request' ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply;
      buf[field.code] = 0;
      writeU16(buf, field.echoIdent, r.ident);
      writeU16(buf, field.echoSeqNo, r.seqNo);
      buf.set(r.data, field.data);
      break;
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
