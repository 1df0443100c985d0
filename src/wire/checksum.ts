// The Internet checksum (RFC 1071): a ones' complement sum of 16-bit big-endian words.
// Sums are kept unfolded so pieces (pseudo-header, header, payload) can be chained cheaply, and
// taken over a range [start, end) of a buffer, so a frame built with headroom (net/'s
// PacketBuffer) or a segment kept for retransmission is summed in place, with no view made.

import type { Ipv4 } from './address.js';

const WORD = 0x1_0000;
const U32_MAX = 0xffff_ffff;
/** Ranges at least this long are summed a 16-bit word per load (the view costs more below it). */
const WIDE_MIN = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Add buf[start, end) as big-endian 16-bit words (an odd tail padded with zero) to `initial`;
 * the result stays <= 2^32-1. The range defaults to the whole buffer and is clamped to it.
 */
export function onesComplementSum(buf: Uint8Array, initial = 0, start = 0, end = buf.length): number {
  let sum = initial;
  let from = start < 0 ? 0 : start;
  const to = end > buf.length ? buf.length : end;
  if (to - from >= WIDE_MIN && ((buf.byteOffset + from) & 1) === 0) {
    // A long, even-aligned range (a TCP or UDP payload): one 16-bit load per word in the
    // machine's byte order, swapped once at the end. The ones' complement sum does not depend
    // on byte order (RFC 1071 2(B)), so the folded sum of swapped words is the swapped sum.
    const words = (to - from) >>> 1;
    const u16 = new Uint16Array(buf.buffer, buf.byteOffset + from, words);
    let w = 0;
    let i = 0;
    for (const n = words & ~3; i < n; i += 4) w += u16[i]! + u16[i + 1]! + u16[i + 2]! + u16[i + 3]!;
    for (; i < words; i++) w += u16[i]!;
    while (w > 0xffff) w = (w & 0xffff) + Math.floor(w / WORD);
    sum += LITTLE_ENDIAN ? ((w & 0xff) << 8) | (w >>> 8) : w;
    from += words * 2;
  }
  const even = from + ((to - from) & ~1);
  for (let i = from; i < even; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (even < to) sum += buf[even]! << 8;
  // Plain doubles are exact far past 2^32; fold only so callers may use 32-bit ops on the result.
  while (sum > U32_MAX) sum = (sum % WORD) + Math.floor(sum / WORD);
  return sum;
}

/** Fold carries into 16 bits and complement: the value to store in a checksum field. */
export function foldChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % WORD) + Math.floor(s / WORD);
  return ~s & 0xffff;
}

/** The Internet checksum of buf[start, end), chained onto `initial`; 0 when verifying a range that holds a valid checksum. */
export function internetChecksum(buf: Uint8Array, initial = 0, start = 0, end = buf.length): number {
  return foldChecksum(onesComplementSum(buf, initial, start, end));
}

/** Unfolded sum of the IPv4 pseudo-header used by UDP and TCP checksums. */
export function pseudoHeaderSum(src: Ipv4, dst: Ipv4, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff);
}
