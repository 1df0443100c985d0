// Big-endian (network order) integer access on byte arrays; callers have checked the length.

/** Read a big-endian u16 at `off`. */
export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/** Write a big-endian u16 at `off`. */
export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}

/** Read a big-endian u32 at `off` (0..2^32-1). */
export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** Write a big-endian u32 at `off` (v taken modulo 2^32). */
export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/** Up to this many bytes copyBytes copies in a loop; past it one subarray costs less than the loop. */
const COPY_LOOP_MAX = 256;

/**
 * Copy src[srcOff..srcOff+len) to dst[dstOff..), ranges not overlapping: a short run (an echo's
 * data) byte by byte, so copying it makes no view; a long one with one set(). Callers have
 * checked both ranges.
 */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  if (len > COPY_LOOP_MAX) {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
    return;
  }
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
}

const NO_BYTES = new Uint8Array(0);

/**
 * A view of the bytes [offset, end) of an array (an IP payload inside a whole frame, say), which a
 * receive path points at one message after another (point(), from a checked(..., reuse)) instead
 * of making a view per message. The shared half of Icmpv4Packet and UdpPacket.
 */
export abstract class ByteRangeView {
  protected constructor(
    protected buf: Uint8Array = NO_BYTES,
    protected off = 0,
    protected stop = 0,
  ) {}

  /** Show buf[off..end) from now on (what the view showed before is gone). */
  protected point(buf: Uint8Array, off: number, end: number): this {
    this.buf = buf;
    this.off = off;
    this.stop = end;
    return this;
  }

  /** The array the message is in: see `offset` and `end`. */
  get bytes(): Uint8Array {
    return this.buf;
  }

  /** Where the message starts in `bytes`. */
  get offset(): number {
    return this.off;
  }

  /** One past the message's last byte in `bytes`. */
  get end(): number {
    return this.stop;
  }

  /** The message's length in bytes, header included. */
  get length(): number {
    return this.stop - this.off;
  }

  /** The message's bytes: a subarray unless the view covers all of `bytes`. */
  get buffer(): Uint8Array {
    return this.off === 0 && this.stop === this.buf.length ? this.buf : this.buf.subarray(this.off, this.stop);
  }
}
