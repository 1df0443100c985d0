// VXLAN header (RFC 7348 section 5): the 8 bytes in front of an inner Ethernet frame inside a UDP
// datagram (IANA port 4789). The I flag must be set (a valid VNI follows); every other flag bit
// and the reserved fields are ignored on receipt and sent as zero, as the RFC says.
import { WireError } from './error.js';

/** Byte offsets of the header. */
const field = {
  flags: 0,
  reserved1: 1,
  vni: 4,
  reserved2: 7,
  payload: 8,
} as const;

/** Length of the VXLAN header. */
export const VXLAN_HEADER_LEN: number = field.payload;
/** The IANA-assigned UDP destination port (the kernel's `dstport 4789`). */
export const VXLAN_PORT = 4789;
/** The I flag: the VNI is valid. */
const FLAG_I = 0x08;
/** VNIs are 24 bits. */
export const VNI_MAX = 0xff_ffff;

/** A zero-copy view of a VXLAN datagram payload whose header has been checked. */
export class VxlanPacket {
  private constructor(readonly buffer: Uint8Array) {}

  /** Check the length and the I flag; other flags and reserved bits are ignored (RFC 7348). */
  static checked(buf: Uint8Array): VxlanPacket | WireError {
    if (buf.length < VXLAN_HEADER_LEN) {
      return new WireError('vxlan', 'truncated', buf.length, `truncated header (${buf.length} of ${VXLAN_HEADER_LEN} bytes)`);
    }
    if ((buf[field.flags]! & FLAG_I) === 0) {
      return new WireError('vxlan', 'unsupported', field.flags, `I flag not set (flags 0x${buf[field.flags]!.toString(16).padStart(2, '0')})`);
    }
    return new VxlanPacket(buf);
  }

  /** The 24-bit VXLAN Network Identifier. */
  vni(): number {
    const b = this.buffer;
    return (b[field.vni]! << 16) | (b[field.vni + 1]! << 8) | b[field.vni + 2]!;
  }

  /** The inner Ethernet frame (a view). */
  payload(): Uint8Array {
    return this.buffer.subarray(field.payload);
  }
}

/** A VXLAN header as a plain value. */
export class VxlanRepr {
  constructor(public vni: number) {}

  static parse(p: VxlanPacket): VxlanRepr {
    return new VxlanRepr(p.vni());
  }

  bufferLen(): number {
    return VXLAN_HEADER_LEN;
  }

  /** Write the 8 header bytes at buf[0..8]: I flag, zero reserved fields, the VNI. */
  emit(buf: Uint8Array): void {
    if (buf.length < VXLAN_HEADER_LEN) throw new RangeError(`vxlan: buffer of ${buf.length} bytes, need ${VXLAN_HEADER_LEN}`);
    if (!Number.isInteger(this.vni) || this.vni < 0 || this.vni > VNI_MAX) throw new RangeError(`vxlan: VNI ${this.vni} is not 24 bits`);
    buf.fill(0, 0, VXLAN_HEADER_LEN);
    buf[field.flags] = FLAG_I;
    buf[field.vni] = this.vni >>> 16;
    buf[field.vni + 1] = (this.vni >>> 8) & 0xff;
    buf[field.vni + 2] = this.vni & 0xff;
  }
}
