// The committed sample captures (pcaps/, made by scripts/make-sample-pcap*.sh) read back in CI:
// every file whole with our reader, the pcapng's views and decisions, pcap-parser's and
// tshark's agreement, and a README line for each file.
import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture, directionOf } from '../src/capture/reader.js';
import { skipWithoutTshark, tsharkFrames, tsharkInterfaces } from './tshark.js';

const require = createRequire(import.meta.url);
const PCAPS = fileURLToPath(new URL('../pcaps/', import.meta.url));
const files = readdirSync(PCAPS).filter((f) => /\.pcap(ng)?$/.test(f));

describe('pcaps/', () => {
  it('has a README line for every capture', () => {
    const readme = readFileSync(join(PCAPS, 'README.md'), 'utf8');
    for (const f of files) expect(readme, f).toMatch(new RegExp(`^- \`${f.replace(/\./g, '\\.')}\`: .{20,}`, 'm'));
  });

  for (const f of files) {
    it(`${f} reads whole`, () => {
      const cap = readCapture(readFileSync(join(PCAPS, f)));
      expect(cap.stopped).toBeUndefined();
      expect(cap.packets.length).toBeGreaterThan(5);
    });
  }

  it('pcap-parser reads every classic pcap the same as our reader', async () => {
    const pp = require('pcap-parser') as { parse(input: NodeJS.ReadableStream): NodeJS.EventEmitter };
    for (const f of files.filter((x) => x.endsWith('.pcap'))) {
      const theirs = await new Promise<string[]>((resolve, reject) => {
        const out: string[] = [];
        const p = pp.parse(createReadStream(join(PCAPS, f)));
        p.on('packet', (pkt: { data: Buffer }) => out.push(pkt.data.toString('hex')));
        p.on('error', reject);
        p.on('end', () => resolve(out));
      });
      expect(readCapture(readFileSync(join(PCAPS, f))).packets.map((p) => Buffer.from(p.data).toString('hex')), f).toEqual(theirs);
    }
  });

  it('nanoshare.pcapng shows the wire and both guests, with every decision of the scripted run', () => {
    const cap = readCapture(readFileSync(join(PCAPS, 'nanoshare.pcapng')));
    expect(cap.interfaces.map((i) => i.name)).toEqual(['wire', 'rtos', 'gpos']);
    const seen = new Set(cap.packets.map((p) => `${cap.interfaces[p.ifIndex]!.name} ${directionOf(p.flags)} ${p.comment}`));
    for (const c of [
      'wire in rx -> rtos', 'wire in rx -> gpos', 'wire out tx rtos', 'wire out tx gpos', 'rtos out tx rtos', 'gpos in rx -> gpos',
      'wire in rx -> rtos,gpos (broadcast)', 'wire in drop: unknown unicast', 'wire in drop: spoofed source MAC from the wire',
    ]) expect(seen, c).toContain(c);
    // UDP echo replies from port 7 of both guests, on the wire.
    const udpFrom7 = cap.packets.filter((p) => cap.interfaces[p.ifIndex]!.name === 'wire' && p.data[23] === 17 && ((p.data[34]! << 8) | p.data[35]!) === 7);
    expect(new Set(udpFrom7.map((p) => p.comment))).toEqual(new Set(['tx rtos', 'tx gpos']));
    // HTTP over TCP: the gpos's segments from port 80 leave on the wire, one of them an HTTP/1.1 response.
    const tcpFrom80 = cap.packets.filter((p) => cap.interfaces[p.ifIndex]!.name === 'wire' && p.data[23] === 6 && ((p.data[34]! << 8) | p.data[35]!) === 80);
    expect(new Set(tcpFrom80.map((p) => p.comment))).toEqual(new Set(['tx gpos']));
    expect(tcpFrom80.some((p) => Buffer.from(p.data).includes('HTTP/1.1 200 OK'))).toBe(true);
  });

  it.skipIf(skipWithoutTshark())('tshark reads every capture: nothing malformed, no expert error, the pcapng interfaces by name', () => {
    for (const f of files) {
      const frames = tsharkFrames(join(PCAPS, f));
      expect(frames.length, f).toBe(readCapture(readFileSync(join(PCAPS, f))).packets.length);
      expect(frames.filter((x) => x.malformed || x.expertErrors > 0), f).toEqual([]);
    }
    expect(tsharkInterfaces(join(PCAPS, 'nanoshare.pcapng'))).toEqual(['wire', 'rtos', 'gpos']);
  });
});
