// Test helpers for link/tso.ts (not part of the product): IPv4 TCP segments with valid checksums,
// and what the kernel does with a super-segment written behind a virtio-net header
// (tcp_gso_segment, inet_gso_segment), so a test can check that the cut gives back the very
// segments that were joined.
import { readU16, readU32, writeU16, writeU32 } from '../wire/bytes.js';
import { internetChecksum, onesComplementSum, pseudoHeaderSum } from '../wire/checksum.js';

export const ACK = 0x10;
export const PSH = 0x08;

export interface SegmentFields {
  payload: Uint8Array;
  seq: number;
  ident: number;
  flags?: number;
  ack?: number;
  window?: number;
  /** TCP options (a multiple of 4 bytes). */
  options?: Uint8Array;
  src?: number;
  dst?: number;
  srcPort?: number;
  dstPort?: number;
  ttl?: number;
  /** Bytes 6-7 of the IPv4 header (flags and fragment offset); default DF. */
  fragment?: number;
}


/** Fill in the IPv4 header checksum and the TCP checksum of an untagged IPv4 TCP frame. */
export function fixChecksums(f: Uint8Array): void {
  const ihl = (f[14]! & 0x0f) * 4;
  const ipLen = readU16(f, 16);
  writeU16(f, 24, 0);
  writeU16(f, 24, internetChecksum(f, 0, 14, 14 + ihl));
  const tcp = 14 + ihl;
  writeU16(f, tcp + 16, 0);
  const src = readU32(f, 26);
  const dst = readU32(f, 30);
  writeU16(f, tcp + 16, internetChecksum(f, pseudoHeaderSum(src, dst, 6, ipLen - ihl), tcp, 14 + ipLen));
}

/** One untagged IPv4 TCP frame (no IPv4 options) from the gpos's MAC and address to the host's. */
export function segment(s: SegmentFields): Uint8Array {
  const opts = s.options ?? new Uint8Array(0);
  const hdr = 14 + 20 + 20 + opts.length;
  const f = new Uint8Array(hdr + s.payload.length);
  f.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0x4e, 0x53, 0, 0, 0x0b, 0x08, 0x00]);
  f[14] = 0x45;
  writeU16(f, 16, 20 + 20 + opts.length + s.payload.length);
  writeU16(f, 18, s.ident & 0xffff);
  writeU16(f, 20, s.fragment ?? 0x4000);
  f[22] = s.ttl ?? 64;
  f[23] = 6;
  writeU32(f, 26, s.src ?? 0x0a4d000b);
  writeU32(f, 30, s.dst ?? 0x0a4d0001);
  writeU16(f, 34, s.srcPort ?? 19);
  writeU16(f, 36, s.dstPort ?? 40000);
  writeU32(f, 38, s.seq >>> 0);
  writeU32(f, 42, (s.ack ?? 1000) >>> 0);
  f[46] = ((20 + opts.length) / 4) << 4;
  f[47] = s.flags ?? ACK;
  writeU16(f, 48, s.window ?? 64240);
  f.set(opts, 54);
  f.set(s.payload, hdr);
  fixChecksums(f);
  return f;
}

/** `count` back-to-back segments of `mss` bytes (the last `lastLen`), idents and sequence numbers counting up. */
export function stream(count: number, mss: number, lastLen = mss, first: Partial<SegmentFields> = {}): Uint8Array[] {
  const out: Uint8Array[] = [];
  let seq = first.seq ?? 0xfffff000; // wraps past 2^32 within a few segments
  let ident = first.ident ?? 0xfffe;
  for (let i = 0; i < count; i++) {
    const len = i === count - 1 ? lastLen : mss;
    const payload = new Uint8Array(len).map((_, j) => (seq + j) & 0xff);
    out.push(segment({ ...first, payload, seq, ident, flags: i === count - 1 ? (first.flags ?? ACK) : ACK }));
    seq = (seq + len) >>> 0;
    ident = (ident + 1) & 0xffff;
  }
  return out;
}

/**
 * What the kernel makes of a super-segment: `head` (hdrLen bytes) and the payload, cut at gsoSize.
 * Also checks the head is what VIRTIO_NET_HDR_F_NEEDS_CSUM asks (a valid IPv4 header checksum and
 * the pseudo-header sum in the TCP checksum field); throws if not.
 */
export function kernelCut(head: Uint8Array, hdrLen: number, payload: Uint8Array, gsoSize: number): Uint8Array[] {
  if (internetChecksum(head, 0, 14, 34) !== 0) throw new Error('the super-segment\'s IPv4 header checksum is wrong');
  const tcpLen = hdrLen - 34 + payload.length;
  if (readU16(head, 16) !== 20 + tcpLen) throw new Error('the super-segment\'s IPv4 total length is wrong');
  // A device finishing NEEDS_CSUM sums from csum_start to the end, the field included, and stores
  // the complement there; the result must check as the TCP checksum of the whole super-segment.
  const whole = new Uint8Array(hdrLen + payload.length);
  whole.set(head.subarray(0, hdrLen));
  whole.set(payload, hdrLen);
  writeU16(whole, 50, internetChecksum(whole, 0, 34));
  if (internetChecksum(whole, onesComplementSum(whole, 6 + tcpLen, 26, 34), 34) !== 0) {
    throw new Error('the TCP checksum field does not hold the pseudo-header sum');
  }
  const out: Uint8Array[] = [];
  const seq0 = readU32(head, 38);
  const ident0 = readU16(head, 18);
  const n = Math.ceil(payload.length / gsoSize);
  for (let i = 0; i < n; i++) {
    const part = payload.subarray(i * gsoSize, Math.min(payload.length, (i + 1) * gsoSize));
    const f = new Uint8Array(hdrLen + part.length);
    f.set(head.subarray(0, hdrLen));
    f.set(part, hdrLen);
    writeU16(f, 16, hdrLen - 14 + part.length);
    writeU16(f, 18, (ident0 + i) & 0xffff);
    writeU32(f, 38, (seq0 + i * gsoSize) >>> 0);
    if (i < n - 1) f[47] = f[47]! & ~(PSH | 0x01); // FIN and PSH stay on the last segment only
    if (i > 0) f[47] = f[47]! & ~0x80; // CWR on the first only
    fixChecksums(f);
    out.push(f);
  }
  return out;
}
