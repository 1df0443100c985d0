import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pcapGlobalHeader, writePcapRecord, PCAP_RECORD_HEADER_LEN } from './pcap.js';
import { FileSink, FLUSH_MS } from './file-sink.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Read a classic little-endian pcap file: header fields and records, checking every length. */
function readPcap(bytes: Uint8Array): { magic: number; snaplen: number; linktype: number; records: Array<{ sec: number; frac: number; data: Uint8Array; origLen: number }> } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records = [];
  let off = 24;
  while (off < bytes.length) {
    expect(off + 16).toBeLessThanOrEqual(bytes.length); // never half a record header
    const capLen = v.getUint32(off + 8, true);
    expect(off + 16 + capLen).toBeLessThanOrEqual(bytes.length); // never half a record
    records.push({ sec: v.getUint32(off, true), frac: v.getUint32(off + 4, true), origLen: v.getUint32(off + 12, true), data: bytes.subarray(off + 16, off + 16 + capLen) });
    off += 16 + capLen;
  }
  return { magic: v.getUint32(0, true), snaplen: v.getUint32(16, true), linktype: v.getUint32(20, true), records };
}

describe('pcap encoding', () => {
  it('writes the global header tcpdump expects', () => {
    // magic a1b2c3d4 (LE), version 2.4, thiszone 0, sigfigs 0, snaplen 262144, LINKTYPE_ETHERNET
    expect(hex(pcapGlobalHeader('us'))).toBe('d4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + '00000400' + '01000000');
    expect(hex(pcapGlobalHeader('ns')).slice(0, 8)).toBe('4d3cb2a1'); // a1b23c4d: nanosecond timestamps
  });

  it('stamps records in micro- or nanoseconds and truncates to the snaplen', () => {
    const frame = Uint8Array.from({ length: 100 }, (_, i) => i);
    const out = new Uint8Array(200);
    const ts = 1_700_000_000_123_456_789n;
    expect(writePcapRecord(out, 0, frame, ts, 'us')).toBe(PCAP_RECORD_HEADER_LEN + 100);
    const v = new DataView(out.buffer);
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)]).toEqual([1_700_000_000, 123_456, 100, 100]);
    writePcapRecord(out, 0, frame, ts, 'ns', 60);
    expect([v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)]).toEqual([123_456_789, 60, 100]);
    expect(hex(out.subarray(16, 76))).toBe(hex(frame.subarray(0, 60)));
  });
});

describe('FileSink', () => {
  it('is a valid file after every flush and after close, whatever the buffer boundaries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanoshare-obs-pcap-'));
    try {
      const path = join(dir, 'x.pcap');
      const sink = new FileSink(path, pcapGlobalHeader('ns'));
      expect(readPcap(readFileSync(path)).records).toHaveLength(0); // the header is there at once
      const frames = Array.from({ length: 500 }, (_, i) => Uint8Array.from({ length: 60 + (i % 1400) }, (_, j) => (i + j) & 0xff));
      const scratch = new Uint8Array(PCAP_RECORD_HEADER_LEN + 1500);
      let t = 5_000_000_000n;
      const put = (f: Uint8Array): void => sink.write(scratch.subarray(0, writePcapRecord(scratch, 0, f, (t += 1000n), 'ns')));
      for (const f of frames.slice(0, 250)) put(f);
      sink.flush();
      expect(readPcap(readFileSync(path)).records).toHaveLength(250);
      for (const f of frames.slice(250)) put(f); // crosses the 256 KiB buffer at least once
      await new Promise((r) => setTimeout(r, FLUSH_MS + 20)); // flushed within FLUSH_MS without being asked
      const mid = readPcap(readFileSync(path));
      expect(mid.records).toHaveLength(500);
      sink.close();
      const file = readPcap(readFileSync(path));
      expect(file.magic).toBe(0xa1b23c4d);
      expect(file.records.map((r) => hex(r.data))).toEqual(frames.map(hex)); // the scratch buffer's reuse did not leak in
      expect(file.records[1]!.frac - file.records[0]!.frac).toBe(1000); // ns resolution kept
      expect(sink.counters.blocks).toBe(500);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes each block at once when asked to (the live stream)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanoshare-obs-pcap-'));
    try {
      const path = join(dir, 'live.pcap');
      const sink = new FileSink(path, pcapGlobalHeader('us'), { flushEachBlock: true });
      const rec = new Uint8Array(PCAP_RECORD_HEADER_LEN + 60);
      writePcapRecord(rec, 0, new Uint8Array(60).fill(7), 1n, 'us');
      sink.write(rec);
      expect(readPcap(readFileSync(path)).records).toHaveLength(1); // no turn of the event loop needed
      sink.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
