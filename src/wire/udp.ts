// UDP header (RFC 768) with the IPv4 pseudo-header checksum.

import type { Ipv4 } from './address.js';
import { ByteRangeView, readU16, writeU16 } from './bytes.js';
import { internetChecksum, pseudoHeaderSum } from './checksum.js';
import { WireError } from './error.js';
import { IpProtocol } from './ipv4.js';

/** Byte offsets of the header. */
const field = {
  srcPort: 0,
  dstPort: 2,
  length: 4,
  checksum: 6,
  payload: 8,
} as const;

/** Length of the UDP header. */
export const UDP_HEADER_LEN: number = field.payload;

const MAX_LEN = 0xffff;
/** A computed checksum of 0 is sent as all ones; 0 on the wire means "none". */
const CHECKSUM_NONE = 0;
const CHECKSUM_ZERO_AS = 0xffff;

/**
 * A zero-copy view of a UDP datagram whose length (and checksum, if asked) has been checked: the
 * datagram starts at `offset` in `bytes` (a whole frame, say), so a receive path needs no
 * subarray to look at it.
 */
export class UdpPacket extends ByteRangeView {
  private constructor(buf?: Uint8Array, off?: number, stop?: number) {
    super(buf, off, stop);
  }

  /**
   * Check lengths of the datagram in buf[off..end) (pass exactly the IP payload); with src/dst,
   * also verify a non-zero checksum over the pseudo-header. With `reuse`, a receive path that
   * looks at one datagram at a time points that one view at it instead of making one per datagram.
   */
  static checked(buf: Uint8Array, src?: Ipv4, dst?: Ipv4, off = 0, end: number = buf.length, reuse?: UdpPacket): UdpPacket | WireError {
    const avail = end - off;
    if (!(off >= 0) || end > buf.length || avail < UDP_HEADER_LEN) {
      return new WireError('udp', 'truncated', avail, `truncated header (${avail} of ${UDP_HEADER_LEN} bytes)`);
    }
    const len = readU16(buf, off + field.length);
    if (len < UDP_HEADER_LEN || len > avail) {
      return new WireError('udp', 'bad-length', field.length, `bad length ${len} (${avail} bytes available)`);
    }
    if (src !== undefined && dst !== undefined && readU16(buf, off + field.checksum) !== CHECKSUM_NONE) {
      const pseudo = pseudoHeaderSum(src, dst, IpProtocol.Udp, len);
      if (internetChecksum(buf, pseudo, off, off + len) !== 0) {
        return new WireError('udp', 'bad-checksum', field.checksum, 'bad checksum');
      }
    }
    return reuse === undefined ? new UdpPacket(buf, off, end) : reuse.point(buf, off, end);
  }

  /** A view for checked()'s `reuse`; it shows nothing until checked() points it at a datagram. */
  static scratch(): UdpPacket {
    return new UdpPacket();
  }

  /** Source port. */
  srcPort(): number {
    return readU16(this.buf, this.off + field.srcPort);
  }

  /** Destination port. */
  dstPort(): number {
    return readU16(this.buf, this.off + field.dstPort);
  }

  /** Length field: header plus payload. */
  len(): number {
    return readU16(this.buf, this.off + field.length);
  }

  /** Checksum field as received (0 = not computed by the sender). */
  checksum(): number {
    return readU16(this.buf, this.off + field.checksum);
  }

  /** Payload bytes 8..len. */
  payload(): Uint8Array {
    return this.buf.subarray(this.off + field.payload, this.off + this.len());
  }
}

/** A UDP header as a plain value: the ports (length and checksum are derived on emit). */
export class UdpRepr {
  constructor(
    public srcPort: number,
    public dstPort: number,
  ) {}

  /** Read the ports of a checked datagram. */
  static parse(p: UdpPacket): UdpRepr {
    return new UdpRepr(p.srcPort(), p.dstPort());
  }

  /** Always UDP_HEADER_LEN (8). */
  bufferLen(): number {
    return UDP_HEADER_LEN;
  }

  /** `buf` is the whole datagram with the payload already at buf[8..]; writes ports, length and checksum. */
  emit(buf: Uint8Array, src: Ipv4, dst: Ipv4): void {
    emitUdpHeader(buf, 0, buf.length, this.srcPort, this.dstPort, src, dst);
  }
}

/**
 * UdpRepr's emit without a repr or a view: the datagram is buf[off..end) with its payload
 * already at off+8; writes ports, length and the checksum. Throws RangeError on a length
 * outside 8..65535 or a range outside `buf`.
 */
export function emitUdpHeader(buf: Uint8Array, off: number, end: number, srcPort: number, dstPort: number, src: Ipv4, dst: Ipv4): void {
  const len = end - off;
  if (!(off >= 0) || end > buf.length || len < UDP_HEADER_LEN || len > MAX_LEN) {
    throw new RangeError(`udp: datagram length ${len} outside ${UDP_HEADER_LEN}..${MAX_LEN}`);
  }
  writeU16(buf, off + field.srcPort, srcPort);
  writeU16(buf, off + field.dstPort, dstPort);
  writeU16(buf, off + field.length, len);
  writeU16(buf, off + field.checksum, 0);
  const sum = internetChecksum(buf, pseudoHeaderSum(src, dst, IpProtocol.Udp, len), off, end);
  writeU16(buf, off + field.checksum, sum === 0 ? CHECKSUM_ZERO_AS : sum);
}
