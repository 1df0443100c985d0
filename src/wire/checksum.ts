// The Internet checksum (RFC 1071): a ones' complement sum of 16-bit big-endian words.
// Sums are kept unfolded so pieces (pseudo-header, header, payload) can be chained cheaply, and
// taken over a range [start, end) of a buffer, so a frame built with headroom (net/'s
// PacketBuffer) or a segment kept for retransmission is summed in place, with no view made.

import type { Ipv4 } from './address.js';

const WORD = 0x1_0000;
const U32_MAX = 0xffff_ffff;

/**
 * Add buf[start, end) as big-endian 16-bit words (an odd tail padded with zero) to `initial`;
 * the result stays <= 2^32-1. The range defaults to the whole buffer and is clamped to it.
 */
export function onesComplementSum(buf: Uint8Array, initial = 0, start = 0, end = buf.length): number {
  const from = start < 0 ? 0 : start;
  const to = end > buf.length ? buf.length : end;
  if (to - from >= WIDE_MIN && ((buf.byteOffset + from) & 1) === 0) return wideSum(buf, initial, from, to);
  const even = from + ((to - from) & ~1);
  // The words' high bytes and low bytes summed apart, four words a turn: no shift or OR per
  // word and no view made; one multiply joins them (RFC 1071 2(C), deferred carries).
  let hi = 0;
  let lo = 0;
  let i = from;
  for (const n = even - 6; i < n; i += 8) {
    hi += buf[i]! + buf[i + 2]! + buf[i + 4]! + buf[i + 6]!;
    lo += buf[i + 1]! + buf[i + 3]! + buf[i + 5]! + buf[i + 7]!;
  }
  for (; i < even; i += 2) {
    hi += buf[i]!;
    lo += buf[i + 1]!;
  }
  if (even < to) hi += buf[even]!;
  let sum = initial + hi * 256 + lo;
  // Plain doubles are exact far past 2^32; fold only so callers may use 32-bit ops on the result.
  while (sum > U32_MAX) sum = (sum % WORD) + Math.floor(sum / WORD);
  return sum;
}

/** Ranges at least this long are summed four bytes a load (wideSum); never an on-heap array (<= 64 bytes). */
const WIDE_MIN = 128;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** A word view of the last backing store summed: frames come from a few large buffers, so one view serves many. */
let wideBuffer: ArrayBufferLike | undefined;
let wideWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * onesComplementSum for a range starting at an even address: 32-bit loads from a word view of
 * the backing store (RFC 1071 2(B): the sum is independent of byte order up to one swap at the
 * end, and of the word width), a 16-bit word first when the range starts 2 bytes off a 4-byte
 * boundary, the tail by the byte path.
 */
function wideSum(buf: Uint8Array, initial: number, from: number, to: number): number {
  let i = from;
  let sum = initial;
  if (((buf.byteOffset + i) & 2) !== 0) {
    sum += buf[i]! * 256 + buf[i + 1]!;
    i += 2;
  }
  const ab = buf.buffer;
  // A resizable or growable buffer may have changed length since its view was made.
  if (ab !== wideBuffer || wideWords.length !== ab.byteLength >>> 2) {
    wideBuffer = ab;
    wideWords = new Uint32Array(ab, 0, ab.byteLength >>> 2);
  }
  const words = wideWords;
  const n = (to - i) >>> 2;
  let w = (buf.byteOffset + i) >>> 2;
  const wEnd = w + n;
  // The two 16-bit halves of each word summed apart: small integers, no carry lost.
  let lo = 0;
  let hi = 0;
  for (const u = wEnd - 3; w < u; w += 4) {
    const a = words[w]!;
    const b = words[w + 1]!;
    const c = words[w + 2]!;
    const d = words[w + 3]!;
    lo += (a & 0xffff) + (b & 0xffff) + (c & 0xffff) + (d & 0xffff);
    hi += (a >>> 16) + (b >>> 16) + (c >>> 16) + (d >>> 16);
  }
  for (; w < wEnd; w++) {
    const a = words[w]!;
    lo += a & 0xffff;
    hi += a >>> 16;
  }
  let s = lo + hi;
  while (s > 0xffff) s = (s % WORD) + Math.floor(s / WORD);
  sum += LITTLE_ENDIAN ? ((s & 0xff) << 8) | (s >>> 8) : s;
  // The 0 to 3 bytes left, and the fold, are onesComplementSum's byte path (too short to come back here).
  return onesComplementSum(buf, sum, i + n * 4, to);
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
