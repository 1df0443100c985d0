import { describe, expect, it } from 'vitest';
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { readCapture } from './reader.js';
import { pcapGlobalHeader, writePcapRecord } from './pcap.js';
import { prng } from '../../test/prng.js';

const SAMPLE = fileURLToPath(new URL('../../pcaps/sample.pcap', import.meta.url));
const require = createRequire(import.meta.url);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface ParsedByPcapParser {
  linkType: number;
  packets: Array<{ sec: number; usec: number; data: string; origLen: number }>;
}

/** pcap-parser, the independent reader of classic pcap. */
function pcapParser(path: string): Promise<ParsedByPcapParser> {
  const pp = require('pcap-parser') as { parse(input: NodeJS.ReadableStream): NodeJS.EventEmitter };
  return new Promise((resolve, reject) => {
    const out: ParsedByPcapParser = { linkType: -1, packets: [] };
    const p = pp.parse(createReadStream(path));
    p.on('globalHeader', (h: { linkLayerType: number }) => (out.linkType = h.linkLayerType));
    p.on('packet', (pkt: { header: { timestampSeconds: number; timestampMicroseconds: number; originalLength: number }; data: Buffer }) =>
      out.packets.push({ sec: pkt.header.timestampSeconds, usec: pkt.header.timestampMicroseconds, data: hex(pkt.data), origLen: pkt.header.originalLength }),
    );
    p.on('error', reject);
    p.on('end', () => resolve(out));
  });
}

describe('readCapture on classic pcap', () => {
  it('reads pcaps/sample.pcap exactly as pcap-parser does', async () => {
    const ours = readCapture(readFileSync(SAMPLE));
    const theirs = await pcapParser(SAMPLE);
    expect(ours.stopped).toBeUndefined();
    expect(ours.format).toBe('pcap');
    expect(ours.interfaces).toEqual([{ name: undefined, description: undefined, linktype: theirs.linkType, snaplen: 262144, tsUnitNs: 1000 }]);
    expect(ours.packets.length).toBeGreaterThan(5);
    expect(ours.packets.map((p) => ({ sec: Number(p.tsNs / 1_000_000_000n), usec: Number((p.tsNs % 1_000_000_000n) / 1000n), data: hex(p.data), origLen: p.origLen }))).toEqual(theirs.packets);
  });

  it('reads nanosecond and big-endian files', () => {
    const frame = new Uint8Array(60).fill(9);
    const le = new Uint8Array(24 + 16 + 60);
    le.set(pcapGlobalHeader('ns'));
    writePcapRecord(le, 24, frame, 1_000_000_123n, 'ns');
    expect(readCapture(le).packets.map((p) => [p.tsNs, p.data.length])).toEqual([[1_000_000_123n, 60]]);
    // The same file byte-swapped field by field (a file written on a big-endian host).
    const src = Buffer.from(le);
    const be = Buffer.from(le);
    for (const off of [0, 8, 12, 16, 20, 24, 28, 32, 36]) be.writeUInt32BE(src.readUInt32LE(off), off);
    be.writeUInt16BE(2, 4);
    be.writeUInt16BE(4, 6);
    const cap = readCapture(Uint8Array.from(be));
    expect(cap.stopped).toBeUndefined();
    expect(cap.interfaces[0]!.tsUnitNs).toBe(1);
    expect(cap.packets.map((p) => [p.tsNs, p.data.length])).toEqual([[1_000_000_123n, 60]]);
  });

  it('stops at the last whole record of a cut file', () => {
    const bytes = readFileSync(SAMPLE);
    const whole = readCapture(bytes);
    const cut = readCapture(bytes.subarray(0, bytes.length - 3));
    expect(cut.packets).toHaveLength(whole.packets.length - 1);
    expect(cut.stopped).toMatch(/cut/);
    expect(readCapture(bytes.subarray(0, 10)).stopped).toMatch(/too short/);
    expect(readCapture(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)).stopped).toMatch(/not a pcap/);
  });
});

describe('readCapture on bytes chosen by someone else', () => {
  it('never throws on random, truncated or mutated files, and never returns data outside the input', () => {
    const rnd = prng(0x0b5);
    const seeds = [readFileSync(SAMPLE), Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex')];
    for (let i = 0; i < 3000; i++) {
      const base = Uint8Array.from(seeds[i % seeds.length]!);
      const n = Math.floor(rnd() * base.length) + 1;
      const bytes = base.subarray(0, n);
      for (let k = 0; k < 4; k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      const cap = readCapture(bytes);
      expect(cap.validBytes).toBeLessThanOrEqual(bytes.length);
      for (const p of cap.packets) {
        expect(p.data.buffer).toBe(bytes.buffer);
        expect(p.data.byteOffset + p.data.length).toBeLessThanOrEqual(bytes.byteOffset + bytes.length);
      }
    }
  });
});
