// pcapng encoding (draft-ietf-opsawg-pcapng): the format that carries what classic pcap cannot,
// one interface per view (the wire and each guest) and per-frame options, so Wireshark shows
// which OS a frame belonged to and, in the packet comment, what the nanokernel decided.
// Pure: blocks are built into byte arrays, little endian; sinks write them whole.

import { LINKTYPE_ETHERNET, setU16le, setU32le } from './pcap.js';

export const BLOCK = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 0x00000001,
  packet: 0x00000002, // obsolete, read only
  simplePacket: 0x00000003,
  enhancedPacket: 0x00000006,
} as const;

export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes: common, SHB, IDB and EPB ones this file writes or reads. */
export const OPT = {
  endOfOpt: 0,
  comment: 1,
  shbUserAppl: 4,
  ifName: 2,
  ifDescription: 3,
  ifTsresol: 9,
  epbFlags: 2,
} as const;

/** epb_flags bits 0-1: the direction of the frame relative to the interface. */
export const EPB_INBOUND = 1;
export const EPB_OUTBOUND = 2;
export type Direction = 'in' | 'out';

/** Fixed parts of each block, after the 8-byte type + length header. */
const shb = { magic: 8, major: 12, minor: 14, sectionLength: 16, options: 24 } as const;
const idb = { linktype: 8, reserved: 10, snaplen: 12, options: 16 } as const;
const epb = { ifIndex: 8, tsHigh: 12, tsLow: 16, capLen: 20, origLen: 24, data: 28 } as const;
const BLOCK_TRAILER = 4;

const utf8 = new TextEncoder();
const pad4 = (n: number): number => (n + 3) & ~3;

export interface PcapngInterface {
  name: string;
  description: string;
  snaplen: number;
}

type Option = [code: number, value: Uint8Array];

function optionsLen(opts: readonly Option[]): number {
  if (opts.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const [, v] of opts) n += 4 + pad4(v.length);
  return n;
}

function writeOptions(out: Uint8Array, v: DataView, off: number, opts: readonly Option[]): number {
  if (opts.length === 0) return off;
  for (const [code, value] of opts) {
    v.setUint16(off, code, true);
    v.setUint16(off + 2, value.length, true);
    out.set(value, off + 4);
    out.fill(0, off + 4 + value.length, off + 4 + pad4(value.length));
    off += 4 + pad4(value.length);
  }
  v.setUint32(off, 0, true); // opt_endofopt, length 0
  return off + 4;
}

/** Frame a block: type, total length, body, total length again. */
function block(type: number, bodyLen: number, fill: (out: Uint8Array, v: DataView) => void): Uint8Array {
  const total = 8 + bodyLen + BLOCK_TRAILER;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, total, true);
  fill(out, v);
  v.setUint32(total - 4, total, true);
  return out;
}

/** Section Header Block: byte-order magic, version 1.0, section length unknown (-1). */
export function sectionHeaderBlock(userAppl = 'nanoshare'): Uint8Array {
  const opts: Option[] = [[OPT.shbUserAppl, utf8.encode(userAppl)]];
  return block(BLOCK.sectionHeader, shb.options - 8 + optionsLen(opts), (out, v) => {
    v.setUint32(shb.magic, BYTE_ORDER_MAGIC, true);
    v.setUint16(shb.major, 1, true);
    v.setUint16(shb.minor, 0, true);
    v.setBigInt64(shb.sectionLength, -1n, true);
    writeOptions(out, v, shb.options, opts);
  });
}

/** Interface Description Block: Ethernet, the view's name and description, nanosecond timestamps. */
export function interfaceDescriptionBlock(intf: PcapngInterface): Uint8Array {
  const opts: Option[] = [
    [OPT.ifName, utf8.encode(intf.name)],
    [OPT.ifDescription, utf8.encode(intf.description)],
    [OPT.ifTsresol, Uint8Array.of(9)], // 10^-9 s
  ];
  return block(BLOCK.interfaceDescription, idb.options - 8 + optionsLen(opts), (out, v) => {
    v.setUint16(idb.linktype, LINKTYPE_ETHERNET, true);
    v.setUint16(idb.reserved, 0, true);
    v.setUint32(idb.snaplen, intf.snaplen, true);
    writeOptions(out, v, idb.options, opts);
  });
}

/** The section's header: one SHB and the IDBs, in interface-index order. Every file starts with it. */
export function pcapngHeader(interfaces: readonly PcapngInterface[]): Uint8Array {
  return new Uint8Array(Buffer.concat([sectionHeaderBlock(), ...interfaces.map(interfaceDescriptionBlock)]));
}

/** Length of the EPB that `writeEnhancedPacket` writes for these arguments. */
export function enhancedPacketLen(frameLen: number, snaplen: number, comment: Uint8Array | undefined): number {
  const capLen = Math.min(frameLen, snaplen);
  return epb.data + pad4(capLen) + 8 /* epb_flags */ + (comment ? 4 + pad4(comment.length) : 0) + 4 /* endofopt */ + BLOCK_TRAILER;
}

/**
 * Write one Enhanced Packet Block into `out` at `off` (sized by `enhancedPacketLen`): the frame
 * cut to `snaplen`, timestamp in nanoseconds, direction in epb_flags, the decision as opt_comment.
 * Returns the bytes written.
 */
export function writeEnhancedPacket(
  out: Uint8Array, off: number, ifIndex: number, tsNs: bigint, frame: Uint8Array, snaplen: number, dir: Direction, comment: Uint8Array | undefined,
): number {
  return writeEnhancedPacketAt(out, off, ifIndex, Number(tsNs >> 32n), Number(BigInt.asUintN(32, tsNs)), frame, snaplen, dir, comment);
}

/** writeEnhancedPacket with the timestamp as its high and low 32 bits (no BigInt per block). */
export function writeEnhancedPacketAt(
  out: Uint8Array, off: number, ifIndex: number, tsHigh: number, tsLow: number, frame: Uint8Array, snaplen: number, dir: Direction, comment: Uint8Array | undefined,
): number {
  const total = enhancedPacketLen(frame.length, snaplen, comment);
  const capLen = Math.min(frame.length, snaplen);
  setU32le(out, off, BLOCK.enhancedPacket);
  setU32le(out, off + 4, total);
  setU32le(out, off + epb.ifIndex, ifIndex);
  setU32le(out, off + epb.tsHigh, tsHigh);
  setU32le(out, off + epb.tsLow, tsLow);
  setU32le(out, off + epb.capLen, capLen);
  setU32le(out, off + epb.origLen, frame.length);
  out.set(capLen === frame.length ? frame : frame.subarray(0, capLen), off + epb.data);
  let o = off + epb.data + capLen;
  const padded = off + epb.data + pad4(capLen);
  while (o < padded) out[o++] = 0;
  setU16le(out, o, OPT.epbFlags);
  setU16le(out, o + 2, 4);
  setU32le(out, o + 4, dir === 'in' ? EPB_INBOUND : EPB_OUTBOUND);
  o += 8;
  if (comment) {
    setU16le(out, o, OPT.comment);
    setU16le(out, o + 2, comment.length);
    out.set(comment, o + 4);
    const end = o + 4 + pad4(comment.length);
    for (let z = o + 4 + comment.length; z < end; z++) out[z] = 0;
    o = end;
  }
  setU32le(out, o, 0);
  setU32le(out, o + 4, total);
  return total;
}
