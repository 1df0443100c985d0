// One reader for both capture formats nanoshare writes and meets: classic pcap (either byte
// order, micro- or nanosecond magic) and pcapng (any number of sections, interfaces with their
// names and timestamp resolutions, EPB/SPB/obsolete PB, epb_flags and comments). Used by the
// tests, the Docker smoke test and the pcap replay link. A capture file is someone else's bytes:
// the reader never throws; it returns every whole packet up to the first damaged or cut block
// and says where and why it stopped.
import { BLOCK, BYTE_ORDER_MAGIC, OPT } from './pcapng.js';

export interface CaptureInterface {
  /** if_name (pcapng); undefined for classic pcap. */
  name: string | undefined;
  description: string | undefined;
  linktype: number;
  snaplen: number;
  /** Nanoseconds per timestamp unit (1000 for microseconds); fractional for power-of-two resolutions. */
  tsUnitNs: number;
}

export interface CapturePacket {
  ifIndex: number;
  /** Timestamp in nanoseconds since the epoch (0 for a Simple Packet Block). */
  tsNs: bigint;
  data: Uint8Array;
  origLen: number;
  /** epb_flags (0 when absent); bits 0-1: 1 inbound, 2 outbound. */
  flags: number;
  /** opt_comment, the first one, when present. */
  comment: string | undefined;
}

export interface CaptureFile {
  format: 'pcap' | 'pcapng';
  interfaces: CaptureInterface[];
  packets: CapturePacket[];
  /** Bytes of whole blocks read; less than the input's length when `stopped` is set. */
  validBytes: number;
  /** Why reading stopped before the end: a cut or malformed block. */
  stopped: string | undefined;
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_HEADER = 24;
const PCAP_RECORD = 16;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Parse a pcap or pcapng file's bytes. Never throws. */
export function readCapture(bytes: Uint8Array): CaptureFile {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4 && v.getUint32(0, true) === BLOCK.sectionHeader) return readPcapng(bytes, v);
  return readPcap(bytes, v);
}

function empty(format: CaptureFile['format'], stopped: string): CaptureFile {
  return { format, interfaces: [], packets: [], validBytes: 0, stopped };
}

function readPcap(bytes: Uint8Array, v: DataView): CaptureFile {
  if (bytes.length < PCAP_HEADER) return empty('pcap', `file too short for a pcap header (${bytes.length} bytes)`);
  let le: boolean;
  let tsUnitNs: number;
  const m = v.getUint32(0, true);
  const mb = v.getUint32(0, false);
  if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS) {
    le = true;
    tsUnitNs = m === PCAP_MAGIC_NS ? 1 : 1000;
  } else if (mb === PCAP_MAGIC_US || mb === PCAP_MAGIC_NS) {
    le = false;
    tsUnitNs = mb === PCAP_MAGIC_NS ? 1 : 1000;
  } else {
    return empty('pcap', `not a pcap or pcapng file (magic ${m.toString(16).padStart(8, '0')})`);
  }
  const snaplen = v.getUint32(16, le);
  const cap: CaptureFile = {
    format: 'pcap',
    interfaces: [{ name: undefined, description: undefined, linktype: v.getUint32(20, le) & 0xffff, snaplen, tsUnitNs }],
    packets: [],
    validBytes: PCAP_HEADER,
    stopped: undefined,
  };
  let off = PCAP_HEADER;
  while (off < bytes.length) {
    if (off + PCAP_RECORD > bytes.length) return stop(cap, `record header cut at byte ${off}`);
    const capLen = v.getUint32(off + 8, le);
    if (off + PCAP_RECORD + capLen > bytes.length) return stop(cap, `record at byte ${off} cut (${capLen} bytes captured)`);
    const sec = BigInt(v.getUint32(off, le));
    const frac = BigInt(v.getUint32(off + 4, le));
    cap.packets.push({
      ifIndex: 0,
      tsNs: sec * 1_000_000_000n + frac * BigInt(tsUnitNs),
      data: bytes.subarray(off + PCAP_RECORD, off + PCAP_RECORD + capLen),
      origLen: v.getUint32(off + 12, le),
      flags: 0,
      comment: undefined,
    });
    off += PCAP_RECORD + capLen;
    cap.validBytes = off;
  }
  return cap;
}

function stop(cap: CaptureFile, why: string): CaptureFile {
  cap.stopped = why;
  return cap;
}

interface Options {
  strings: Map<number, string>;
  bytes: Map<number, Uint8Array>;
}

/** Options from `off` to `end`; undefined when one runs past the end. */
function readOptions(bytes: Uint8Array, v: DataView, off: number, end: number, le: boolean): Options | undefined {
  const o: Options = { strings: new Map(), bytes: new Map() };
  while (off + 4 <= end) {
    const code = v.getUint16(off, le);
    const len = v.getUint16(off + 2, le);
    if (code === OPT.endOfOpt) break;
    if (off + 4 + len > end) return undefined;
    const value = bytes.subarray(off + 4, off + 4 + len);
    if (!o.bytes.has(code)) {
      o.bytes.set(code, value);
      o.strings.set(code, utf8.decode(value));
    }
    off += 4 + ((len + 3) & ~3);
  }
  return o;
}

function tsUnitNsOf(resol: Uint8Array | undefined): number {
  if (!resol || resol.length < 1) return 1000; // default: microseconds
  const r = resol[0]!;
  return r & 0x80 ? 1e9 / 2 ** (r & 0x7f) : 1e9 / 10 ** r;
}

function readPcapng(bytes: Uint8Array, v: DataView): CaptureFile {
  const cap: CaptureFile = { format: 'pcapng', interfaces: [], packets: [], validBytes: 0, stopped: undefined };
  let le = true;
  /** Index of this section's first interface in `cap.interfaces` (interface ids are per section). */
  let base = 0;
  let off = 0;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) return stop(cap, `block header cut at byte ${off}`);
    const type = v.getUint32(off, true);
    if (type === BLOCK.sectionHeader) {
      const magic = v.getUint32(off + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (v.getUint32(off + 8, false) === BYTE_ORDER_MAGIC) le = false;
      else return stop(cap, `section header at byte ${off}: bad byte-order magic`);
      base = cap.interfaces.length;
    }
    const t = v.getUint32(off, le);
    const len = v.getUint32(off + 4, le);
    if (len < 12 || len % 4 !== 0) return stop(cap, `block at byte ${off}: bad length ${len}`);
    if (off + len > bytes.length) return stop(cap, `block at byte ${off} cut (${len} bytes, ${bytes.length - off} present)`);
    if (v.getUint32(off + len - 4, le) !== len) return stop(cap, `block at byte ${off}: trailing length does not match`);
    const end = off + len - 4;
    if (t === BLOCK.interfaceDescription) {
      if (len < 20) return stop(cap, `interface block at byte ${off} too short`);
      const o = readOptions(bytes, v, off + 16, end, le);
      if (!o) return stop(cap, `interface block at byte ${off}: option runs past the block`);
      cap.interfaces.push({
        name: o.strings.get(OPT.ifName),
        description: o.strings.get(OPT.ifDescription),
        linktype: v.getUint16(off + 8, le),
        snaplen: v.getUint32(off + 12, le),
        tsUnitNs: tsUnitNsOf(o.bytes.get(OPT.ifTsresol)),
      });
    } else if (t === BLOCK.enhancedPacket || t === BLOCK.packet) {
      if (len < 32) return stop(cap, `packet block at byte ${off} too short`);
      const ifIndex = t === BLOCK.packet ? v.getUint16(off + 8, le) : v.getUint32(off + 8, le);
      const intf = cap.interfaces[base + ifIndex];
      if (!intf) return stop(cap, `packet block at byte ${off}: interface ${ifIndex} not described`);
      const capLen = v.getUint32(off + 20, le);
      const dataEnd = off + 28 + capLen;
      if (dataEnd > end) return stop(cap, `packet block at byte ${off}: captured length ${capLen} runs past the block`);
      const o = readOptions(bytes, v, off + 28 + ((capLen + 3) & ~3), end, le);
      if (!o) return stop(cap, `packet block at byte ${off}: option runs past the block`);
      const ts = (BigInt(v.getUint32(off + 12, le)) << 32n) | BigInt(v.getUint32(off + 16, le));
      const flags = o.bytes.get(OPT.epbFlags);
      cap.packets.push({
        ifIndex: base + ifIndex,
        tsNs: scaleTs(ts, intf.tsUnitNs),
        data: bytes.subarray(off + 28, dataEnd),
        origLen: v.getUint32(off + 24, le),
        flags: t === BLOCK.enhancedPacket && flags && flags.length === 4 ? new DataView(flags.buffer, flags.byteOffset, 4).getUint32(0, le) : 0,
        comment: o.strings.get(OPT.comment),
      });
    } else if (t === BLOCK.simplePacket) {
      const intf = cap.interfaces[base];
      if (!intf) return stop(cap, `simple packet block at byte ${off}: no interface described`);
      const origLen = v.getUint32(off + 8, le);
      const capLen = Math.min(origLen, intf.snaplen || origLen, len - 16);
      cap.packets.push({ ifIndex: base, tsNs: 0n, data: bytes.subarray(off + 12, off + 12 + capLen), origLen, flags: 0, comment: undefined });
    }
    // Other blocks (name resolution, statistics, custom) are skipped whole.
    off += len;
    cap.validBytes = off;
  }
  return cap;
}

function scaleTs(ts: bigint, unitNs: number): bigint {
  return Number.isInteger(unitNs) ? ts * BigInt(unitNs) : BigInt(Math.round(Number(ts) * unitNs));
}

/** The direction bits of epb_flags as a word. */
export function directionOf(flags: number): 'in' | 'out' | undefined {
  const d = flags & 3;
  return d === 1 ? 'in' : d === 2 ? 'out' : undefined;
}
