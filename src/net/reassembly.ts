// IPv4 reassembly (RFC 791 3.2, RFC 815's hole bookkeeping in its simplest form) as a pure
// module: fragments in, a whole datagram out, nothing else. Every fragment's fields are chosen
// by someone else, so memory is bounded twice (datagrams in reassembly, payload bytes held),
// every incomplete datagram dies at a deadline on the injected clock (RFC 1122 3.3.2 suggests
// 60-120 s; Linux uses 30 s, as we do), and any overlap drops the whole datagram (RFC 5722's
// rule for IPv6, applied to IPv4 as Linux does since 2018: overlaps are only ever attacks or
// broken middleboxes, and "first wins"/"last wins" policies are how IDS evasion works).

import { IPV4_HEADER_LEN, Ipv4Packet, rewriteIpv4Fragment } from '../wire/index.js';

/** Why a fragment, or a whole datagram in reassembly, was dropped. */
export const REASSEMBLY_DROP_REASONS = [
  'frag-overlap', // overlaps (or duplicates) a fragment already held: the whole datagram is dropped
  'frag-bad-length', // a non-last fragment whose payload is not a multiple of 8, or an empty one
  'frag-too-big', // offset + length past 65535 - header, or past the length the last fragment set
  'frag-conflict', // a second "last" fragment with another end, or data past that end
] as const;
export type ReassemblyDropReason = (typeof REASSEMBLY_DROP_REASONS)[number];

export interface ReassemblyLimits {
  /** Datagrams in reassembly at once; a new one evicts the oldest. */
  maxDatagrams: number;
  /** Payload bytes held over all datagrams; the oldest datagrams are evicted to make room. */
  maxBytes: number;
  /** An incomplete datagram is dropped this long after its first fragment arrived. */
  timeoutUs: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { maxDatagrams: 16, maxBytes: 256 * 1024, timeoutUs: 30_000_000 };

/** Datagram-level outcomes, some not tied to the fragment being processed (NetCounters has them). */
export interface ReassemblyCounters {
  /** Datagrams completed and handed up. */
  ipv4Reassembled: number;
  /** Incomplete datagrams dropped at their deadline. */
  ipv4ReassemblyTimeouts: number;
  /** Incomplete datagrams dropped to make room for newer ones. */
  ipv4ReassemblyEvicted: number;
}

interface Piece {
  readonly offset: number;
  readonly data: Uint8Array;
}

interface Datagram {
  readonly key: string;
  readonly deadline: number;
  /** The fragment at offset 0's header (options included), once it has arrived. */
  header: Uint8Array | undefined;
  /** Sorted by offset, never overlapping. */
  readonly pieces: Piece[];
  /** Payload length, once the last fragment (MF clear) has arrived. */
  end: number | undefined;
  bytes: number;
}

/** 65535 minus the smallest header: no fragment may carry a byte past it. */
const MAX_PAYLOAD_END = 0xffff - IPV4_HEADER_LEN;
const FRAG_UNIT = 8;

export type ReassemblyResult =
  | { readonly kind: 'held' }
  | { readonly kind: 'complete'; readonly packet: Ipv4Packet }
  | { readonly kind: 'dropped'; readonly reason: ReassemblyDropReason };

const HELD: ReassemblyResult = { kind: 'held' };

/** Fragments of datagrams being reassembled, keyed by (src, dst, protocol, ident) as RFC 791 says. */
export class Ipv4Reassembler {
  /** Insertion order is age order (Map keeps it), so the first entry is the oldest. */
  private readonly datagrams = new Map<string, Datagram>();
  private heldBytes = 0;

  constructor(
    readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS,
    readonly counters: ReassemblyCounters = { ipv4Reassembled: 0, ipv4ReassemblyTimeouts: 0, ipv4ReassemblyEvicted: 0 },
  ) {
    const { maxDatagrams, maxBytes, timeoutUs } = limits;
    if (!Number.isInteger(maxDatagrams) || maxDatagrams < 1) throw new RangeError('reassembly: maxDatagrams must be an integer >= 1');
    if (!Number.isInteger(maxBytes) || maxBytes < 0xffff) throw new RangeError('reassembly: maxBytes must be >= 65535');
    if (!(timeoutUs > 0)) throw new RangeError('reassembly: timeoutUs must be > 0');
  }

  /** Datagrams in reassembly now. */
  get size(): number {
    return this.datagrams.size;
  }

  /** Payload bytes held now. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * One checked fragment (isFragment() true) at time `now`. Its bytes are copied, so the frame
   * may be reused. Returns the whole datagram (a fresh buffer with a valid header: offset and
   * MF cleared, total length and checksum rewritten) once every byte has arrived.
   */
  push(p: Ipv4Packet, now: number): ReassemblyResult {
    this.expire(now);
    const offset = p.fragOffset();
    const payload = p.payload();
    const len = payload.length;
    const last = !p.moreFrags();
    if (len === 0 || (!last && len % FRAG_UNIT !== 0)) return { kind: 'dropped', reason: 'frag-bad-length' };
    const fragEnd = offset + len;
    if (fragEnd > MAX_PAYLOAD_END) return { kind: 'dropped', reason: 'frag-too-big' };

    const key = `${p.srcAddr()}/${p.dstAddr()}/${p.protocol()}/${p.ident()}`;
    let d = this.datagrams.get(key);
    if (d !== undefined) {
      if (last && d.end !== undefined && d.end !== fragEnd) return this.dropDatagram(d, 'frag-conflict');
      const end = last ? fragEnd : d.end;
      if (end !== undefined && fragEnd > end) return this.dropDatagram(d, 'frag-conflict');
      if (last && d.pieces.length > 0 && d.pieces[d.pieces.length - 1]!.offset + d.pieces[d.pieces.length - 1]!.data.length > fragEnd) {
        return this.dropDatagram(d, 'frag-conflict');
      }
      if (overlaps(d.pieces, offset, fragEnd)) return this.dropDatagram(d, 'frag-overlap');
    } else {
      while (this.datagrams.size >= this.limits.maxDatagrams) this.evictOldest();
      d = { key, deadline: now + this.limits.timeoutUs, header: undefined, pieces: [], end: undefined, bytes: 0 };
      this.datagrams.set(key, d);
    }
    // maxBytes >= 65535 and one datagram never holds more than 65515 bytes, so evicting the
    // others always makes room and never reaches `d` itself.
    while (this.heldBytes + len > this.limits.maxBytes) this.evictOldest();

    insertSorted(d.pieces, { offset, data: payload.slice() });
    d.bytes += len;
    this.heldBytes += len;
    if (offset === 0) d.header = p.buffer.slice(0, p.headerLen());
    if (last) d.end = fragEnd;
    if (d.end === undefined || d.header === undefined || d.bytes !== d.end) return HELD;
    // No overlaps and bytes === end with every piece inside [0, end): the pieces tile it exactly.
    this.remove(d);
    this.counters.ipv4Reassembled++;
    return { kind: 'complete', packet: assemble(d.header, d.pieces, d.end) };
  }

  /** Drop every datagram whose deadline has passed. */
  expire(now: number): void {
    for (const d of this.datagrams.values()) {
      // Deadlines grow with insertion order, so the first live one ends the scan.
      if (d.deadline > now) return;
      this.remove(d);
      this.counters.ipv4ReassemblyTimeouts++;
    }
  }

  /** The earliest deadline, or undefined when nothing is in reassembly. */
  pollAt(): number | undefined {
    const first = this.datagrams.values().next();
    return first.done ? undefined : first.value.deadline;
  }

  private dropDatagram(d: Datagram, reason: ReassemblyDropReason): ReassemblyResult {
    this.remove(d);
    return { kind: 'dropped', reason };
  }

  private evictOldest(): void {
    const oldest = this.datagrams.values().next();
    if (oldest.done) return;
    this.remove(oldest.value);
    this.counters.ipv4ReassemblyEvicted++;
  }

  private remove(d: Datagram): void {
    this.datagrams.delete(d.key);
    this.heldBytes -= d.bytes;
  }
}

function overlaps(pieces: readonly Piece[], start: number, end: number): boolean {
  for (const p of pieces) {
    if (start < p.offset + p.data.length && p.offset < end) return true;
  }
  return false;
}

function insertSorted(pieces: Piece[], piece: Piece): void {
  let i = pieces.length;
  while (i > 0 && pieces[i - 1]!.offset > piece.offset) i--;
  pieces.splice(i, 0, piece);
}

function assemble(header: Uint8Array, pieces: readonly Piece[], end: number): Ipv4Packet {
  const hl = header.length;
  const buf = new Uint8Array(hl + end);
  buf.set(header);
  for (const p of pieces) buf.set(p.data, hl + p.offset);
  rewriteIpv4Fragment(buf.subarray(0, hl), hl + end, 0, false);
  const p = Ipv4Packet.checked(buf);
  // The header came from a checked packet and we rewrote only length, flags and checksum.
  if (!(p instanceof Ipv4Packet)) throw new Error(`reassembly: rebuilt header refused: ${p.message}`);
  return p;
}
