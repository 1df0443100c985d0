// Classic pcap encoding (the format tcpdump and Wireshark read): a 24-byte global header, then
// a 16-byte record header before each frame. Little endian, LINKTYPE_ETHERNET.
// Microsecond files use magic a1b2c3d4, nanosecond files a1b23c4d.

export type PcapPrecision = 'us' | 'ns';

export const LINKTYPE_ETHERNET = 1;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
export const PCAP_SNAPLEN = 262144;

const field = {
  magic: 0,
  versionMajor: 4,
  versionMinor: 6,
  thiszone: 8,
  sigfigs: 12,
  snaplen: 16,
  network: 20,
} as const;

const record = { tsSec: 0, tsFrac: 4, capLen: 8, origLen: 12 } as const;

export function pcapGlobalHeader(precision: PcapPrecision, snaplen = PCAP_SNAPLEN, linktype = LINKTYPE_ETHERNET): Uint8Array {
  const buf = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  const v = new DataView(buf.buffer);
  v.setUint32(field.magic, precision === 'ns' ? 0xa1b23c4d : 0xa1b2c3d4, true);
  v.setUint16(field.versionMajor, 2, true);
  v.setUint16(field.versionMinor, 4, true);
  v.setInt32(field.thiszone, 0, true);
  v.setUint32(field.sigfigs, 0, true);
  v.setUint32(field.snaplen, snaplen, true);
  v.setUint32(field.network, linktype, true);
  return buf;
}

/** Little-endian stores into a byte array (the capture hot path makes no DataView per block). */
export function setU16le(out: Uint8Array, off: number, v: number): void {
  out[off] = v;
  out[off + 1] = v >>> 8;
}

export function setU32le(out: Uint8Array, off: number, v: number): void {
  out[off] = v;
  out[off + 1] = v >>> 8;
  out[off + 2] = v >>> 16;
  out[off + 3] = v >>> 24;
}

/** Write one record (header + frame, truncated to snaplen) into `out` at `off`; returns bytes written. */
export function writePcapRecord(out: Uint8Array, off: number, frame: Uint8Array, tsNs: bigint, precision: PcapPrecision, snaplen = PCAP_SNAPLEN): number {
  const sec = tsNs / 1_000_000_000n;
  return writePcapRecordAt(out, off, frame, Number(sec), Number(tsNs - sec * 1_000_000_000n), precision, snaplen);
}

/** writePcapRecord with the timestamp as whole seconds and nanoseconds within the second (no BigInt per record). */
export function writePcapRecordAt(out: Uint8Array, off: number, frame: Uint8Array, sec: number, fracNs: number, precision: PcapPrecision, snaplen = PCAP_SNAPLEN): number {
  const capLen = Math.min(frame.length, snaplen);
  setU32le(out, off + record.tsSec, sec >>> 0);
  setU32le(out, off + record.tsFrac, precision === 'ns' ? fracNs : Math.floor(fracNs / 1000));
  setU32le(out, off + record.capLen, capLen);
  setU32le(out, off + record.origLen, frame.length);
  out.set(capLen === frame.length ? frame : frame.subarray(0, capLen), off + PCAP_RECORD_HEADER_LEN);
  return PCAP_RECORD_HEADER_LEN + capLen;
}
