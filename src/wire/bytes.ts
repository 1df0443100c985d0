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
