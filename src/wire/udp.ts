// UDP header (RFC 768) with the IPv4 pseudo-header checksum.

import type { Ipv4 } from './address.js';
import { readU16, writeU16 } from './bytes.js';
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

/** A zero-copy view of a UDP datagram whose length (and checksum, if asked) has been checked. */
export class UdpPacket {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check lengths; with src/dst, also verify a non-zero checksum over the pseudo-header. */
  static checked(buf: Uint8Array, src?: Ipv4, dst?: Ipv4): UdpPacket | WireError {
    if (buf.length < UDP_HEADER_LEN) {
      return new WireError('udp', 'truncated', buf.length, `truncated header (${buf.length} of ${UDP_HEADER_LEN} bytes)`);
    }
    const len = readU16(buf, field.length);
    if (len < UDP_HEADER_LEN || len > buf.length) {
      return new WireError('udp', 'bad-length', field.length, `bad length ${len} (${buf.length} bytes available)`);
    }
    if (src !== undefined && dst !== undefined && readU16(buf, field.checksum) !== CHECKSUM_NONE) {
      const pseudo = pseudoHeaderSum(src, dst, IpProtocol.Udp, len);
      if (internetChecksum(buf, pseudo, 0, len) !== 0) {
        return new WireError('udp', 'bad-checksum', field.checksum, 'bad checksum');
      }
    }
    return new UdpPacket(buf);
  }

  /** Source port. */
  srcPort(): number {
    return readU16(this.buffer, field.srcPort);
  }

  /** Destination port. */
  dstPort(): number {
    return readU16(this.buffer, field.dstPort);
  }

  /** Length field: header plus payload. */
  len(): number {
    return readU16(this.buffer, field.length);
  }

  /** Checksum field as received (0 = not computed by the sender). */
  checksum(): number {
    return readU16(this.buffer, field.checksum);
  }

  /** Payload bytes 8..len. */
  payload(): Uint8Array {
    return this.buffer.subarray(field.payload, this.len());
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
    if (buf.length < UDP_HEADER_LEN || buf.length > MAX_LEN) {
      throw new RangeError(`udp: datagram length ${buf.length} outside ${UDP_HEADER_LEN}..${MAX_LEN}`);
    }
    writeU16(buf, field.srcPort, this.srcPort);
    writeU16(buf, field.dstPort, this.dstPort);
    writeU16(buf, field.length, buf.length);
    writeU16(buf, field.checksum, 0);
    const sum = internetChecksum(buf, pseudoHeaderSum(src, dst, IpProtocol.Udp, buf.length));
    writeU16(buf, field.checksum, sum === 0 ? CHECKSUM_ZERO_AS : sum);
  }
}
