// TCP header (RFC 9293 3.1) with its options (MSS, window scale RFC 7323, SACK-permitted RFC 2018,
// timestamps RFC 7323). The checksum covers a pseudo-header the caller sums (pseudoHeaderSum for
// IPv4; an IPv6 pseudo-header sum works the same way), so this codec serves both families.

import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { WireError } from './error.js';

/** Byte offsets of the fixed header. */
const field = {
  srcPort: 0,
  dstPort: 2,
  seqNum: 4,
  ackNum: 8,
  dataOffFlags: 12,
  window: 14,
  checksum: 16,
  urgent: 18,
  options: 20,
} as const;

/** Length of the TCP header without options. */
export const TCP_HEADER_LEN: number = field.options;
/** Largest header: data offset 15 words. */
export const TCP_MAX_HEADER_LEN = 60;

/** Control bits (the low 9 bits of bytes 12..13). */
export const TcpFlag = {
  Fin: 0x001,
  Syn: 0x002,
  Rst: 0x004,
  Psh: 0x008,
  Ack: 0x010,
  Urg: 0x020,
  Ece: 0x040,
  Cwr: 0x080,
} as const;

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const TcpOptionKind = {
  End: 0,
  Nop: 1,
  Mss: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamps: 8,
} as const;

const OPT_LEN = { mss: 4, windowScale: 3, sackPermitted: 2, timestamps: 10 } as const;
/** RFC 7323 2.3: a shift above 14 is used as 14. */
export const TCP_MAX_WINDOW_SCALE = 14;

/** Options we understand; others are skipped and counted in `unknown`. */
export interface TcpOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  timestamps?: { tsVal: number; tsEcr: number };
  /** Options of a kind we do not interpret (SACK blocks included). */
  unknown?: number;
}

/** A zero-copy view of a TCP segment whose lengths (and checksum, if asked) have been checked. */
export class TcpPacket {
  private constructor(readonly buffer: Uint8Array) {}

  /**
   * Check the data offset against the buffer; with `pseudoSum` (the unfolded pseudo-header sum
   * for a segment of buf.length bytes) also verify the checksum. `buf` is exactly the segment:
   * the IP layer has already cut it to its payload length.
   */
  static checked(buf: Uint8Array, pseudoSum?: number): TcpPacket | WireError {
    if (buf.length < TCP_HEADER_LEN) {
      return new WireError('tcp', 'truncated', buf.length, `truncated header (${buf.length} of ${TCP_HEADER_LEN} bytes)`);
    }
    const hl = (buf[field.dataOffFlags]! >>> 4) * 4;
    if (hl < TCP_HEADER_LEN || hl > buf.length) {
      return new WireError('tcp', 'bad-header-len', field.dataOffFlags, `bad data offset ${hl} (${buf.length} bytes available)`);
    }
    if (pseudoSum !== undefined && internetChecksum(buf, pseudoSum) !== 0) {
      return new WireError('tcp', 'bad-checksum', field.checksum, 'bad checksum');
    }
    return new TcpPacket(buf);
  }

  srcPort(): number {
    return readU16(this.buffer, field.srcPort);
  }
  dstPort(): number {
    return readU16(this.buffer, field.dstPort);
  }
  /** Sequence number (u32). */
  seqNum(): number {
    return readU32(this.buffer, field.seqNum);
  }
  /** Acknowledgment number (u32; meaningful only with ACK). */
  ackNum(): number {
    return readU32(this.buffer, field.ackNum);
  }
  /** Header length in bytes (data offset × 4). */
  headerLen(): number {
    return (this.buffer[field.dataOffFlags]! >>> 4) * 4;
  }
  /** Control bits, see TcpFlag. */
  flags(): number {
    return readU16(this.buffer, field.dataOffFlags) & 0x1ff;
  }
  has(flag: number): boolean {
    return (this.flags() & flag) !== 0;
  }
  /** Window field as sent (unscaled). */
  window(): number {
    return readU16(this.buffer, field.window);
  }
  checksum(): number {
    return readU16(this.buffer, field.checksum);
  }
  urgentPointer(): number {
    return readU16(this.buffer, field.urgent);
  }
  /** Raw option bytes. */
  optionBytes(): Uint8Array {
    return this.buffer.subarray(field.options, this.headerLen());
  }
  /** Payload bytes after the header. */
  payload(): Uint8Array {
    return this.buffer.subarray(this.headerLen());
  }
  /** Segment length in sequence space: payload plus one each for SYN and FIN. */
  segLen(): number {
    const f = this.flags();
    return this.buffer.length - this.headerLen() + (f & TcpFlag.Syn ? 1 : 0) + (f & TcpFlag.Fin ? 1 : 0);
  }
}

/** Parse an option list; a length that runs past the end or is below 2 is malformed. */
export function parseTcpOptions(opts: Uint8Array): TcpOptions | WireError {
  const out: TcpOptions = {};
  let i = 0;
  while (i < opts.length) {
    const kind = opts[i]!;
    if (kind === TcpOptionKind.End) break;
    if (kind === TcpOptionKind.Nop) {
      i++;
      continue;
    }
    const len = opts[i + 1];
    if (len === undefined || len < 2 || i + len > opts.length) {
      return new WireError('tcp', 'bad-option', field.options + i, `bad option length ${len ?? 'missing'} (kind ${kind})`);
    }
    const at = i + 2;
    switch (kind) {
      case TcpOptionKind.Mss:
        if (len !== OPT_LEN.mss) return badOptLen(i, kind, len);
        out.mss = readU16(opts, at);
        break;
      case TcpOptionKind.WindowScale:
        if (len !== OPT_LEN.windowScale) return badOptLen(i, kind, len);
        out.windowScale = Math.min(opts[at]!, TCP_MAX_WINDOW_SCALE);
        break;
      case TcpOptionKind.SackPermitted:
        if (len !== OPT_LEN.sackPermitted) return badOptLen(i, kind, len);
        out.sackPermitted = true;
        break;
      case TcpOptionKind.Timestamps:
        if (len !== OPT_LEN.timestamps) return badOptLen(i, kind, len);
        out.timestamps = { tsVal: readU32(opts, at), tsEcr: readU32(opts, at + 4) };
        break;
      default:
        out.unknown = (out.unknown ?? 0) + 1;
    }
    i += len;
  }
  return out;
}

function badOptLen(i: number, kind: number, len: number): WireError {
  return new WireError('tcp', 'bad-option', field.options + i, `bad option length ${len} (kind ${kind})`);
}

/** A TCP segment as a plain value. `payload` is a view; emit copies it. */
export class TcpRepr {
  constructor(
    public srcPort: number,
    public dstPort: number,
    public seqNum: number,
    public ackNum: number,
    public flags: number,
    /** Window field as sent (already scaled down by the sender's shift). */
    public window: number,
    public options: TcpOptions = {},
    public payload: Uint8Array = EMPTY,
  ) {}

  /** Read a checked segment; malformed options are an error value. */
  static parse(p: TcpPacket): TcpRepr | WireError {
    const opts = parseTcpOptions(p.optionBytes());
    if (opts instanceof WireError) return opts;
    return new TcpRepr(p.srcPort(), p.dstPort(), p.seqNum(), p.ackNum(), p.flags(), p.window(), opts, p.payload());
  }

  /** Bytes of options we emit, padded to a multiple of 4. */
  optionsLen(): number {
    const o = this.options;
    let n = 0;
    if (o.mss !== undefined) n += OPT_LEN.mss;
    if (o.windowScale !== undefined) n += OPT_LEN.windowScale + 1; // NOP first, to align
    if (o.sackPermitted) n += OPT_LEN.sackPermitted + 2; // two NOPs
    if (o.timestamps) n += OPT_LEN.timestamps + 2;
    return n;
  }

  headerLen(): number {
    return TCP_HEADER_LEN + this.optionsLen();
  }

  /** Header, options and payload. */
  bufferLen(): number {
    return this.headerLen() + this.payload.length;
  }

  /**
   * Write header, options and payload into `buf` (exactly bufferLen() bytes) and the checksum
   * over `pseudoSum` (the unfolded pseudo-header sum for bufferLen() bytes).
   */
  emit(buf: Uint8Array, pseudoSum: number): void {
    const hl = this.headerLen();
    if (buf.length !== hl + this.payload.length) {
      throw new RangeError(`tcp: buffer of ${buf.length} bytes for a ${hl + this.payload.length}-byte segment`);
    }
    writeU16(buf, field.srcPort, this.srcPort);
    writeU16(buf, field.dstPort, this.dstPort);
    writeU32(buf, field.seqNum, this.seqNum);
    writeU32(buf, field.ackNum, this.ackNum);
    writeU16(buf, field.dataOffFlags, ((hl / 4) << 12) | (this.flags & 0x1ff));
    writeU16(buf, field.window, this.window);
    writeU16(buf, field.checksum, 0);
    writeU16(buf, field.urgent, 0);
    let i = field.options;
    const o = this.options;
    if (o.mss !== undefined) {
      buf[i] = TcpOptionKind.Mss;
      buf[i + 1] = OPT_LEN.mss;
      writeU16(buf, i + 2, o.mss);
      i += OPT_LEN.mss;
    }
    if (o.windowScale !== undefined) {
      buf[i++] = TcpOptionKind.Nop;
      buf[i] = TcpOptionKind.WindowScale;
      buf[i + 1] = OPT_LEN.windowScale;
      buf[i + 2] = o.windowScale;
      i += OPT_LEN.windowScale;
    }
    if (o.sackPermitted) {
      buf[i++] = TcpOptionKind.Nop;
      buf[i++] = TcpOptionKind.Nop;
      buf[i] = TcpOptionKind.SackPermitted;
      buf[i + 1] = OPT_LEN.sackPermitted;
      i += OPT_LEN.sackPermitted;
    }
    if (o.timestamps) {
      buf[i++] = TcpOptionKind.Nop;
      buf[i++] = TcpOptionKind.Nop;
      buf[i] = TcpOptionKind.Timestamps;
      buf[i + 1] = OPT_LEN.timestamps;
      writeU32(buf, i + 2, o.timestamps.tsVal);
      writeU32(buf, i + 6, o.timestamps.tsEcr);
      i += OPT_LEN.timestamps;
    }
    // A payload already written in place (the caller filled buf[hl..]) is not copied onto itself.
    const p = this.payload;
    if (p.length > 0 && !(p.buffer === buf.buffer && p.byteOffset === buf.byteOffset + hl)) buf.set(p, hl);
    writeU16(buf, field.checksum, internetChecksum(buf, pseudoSum));
  }
}

const EMPTY = new Uint8Array(0);

