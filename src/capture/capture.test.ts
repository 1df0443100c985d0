import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Capture, decisionComment, formatOf, type Decision } from './capture.js';
import { openCapture } from './open.js';
import { readCapture, directionOf } from './reader.js';
import { rotatedName } from './rotating-sink.js';
import { skipWithoutTshark, tsharkFrames, tsharkInterfaces } from '../../test/tshark.js';
import { withTmpDir } from '../../test/lab.js';

const frame = (n: number, len = 60): Uint8Array => {
  const f = new Uint8Array(len).fill(n); // byte 0 (the destination MAC) tells the frames apart
  f[12] = 0x88; // EtherType 0x88b5 (local experimental): Wireshark shows data, no expert errors
  f[13] = 0xb5;
  return f;
};

const DECISIONS: Array<[Decision, string]> = [
  [{ kind: 'rx', to: ['gpos'], cast: 'unicast' }, 'rx -> gpos'],
  [{ kind: 'rx', to: ['rtos', 'gpos'], cast: 'broadcast' }, 'rx -> rtos,gpos (broadcast)'],
  [{ kind: 'rx', to: ['rtos'], cast: 'multicast' }, 'rx -> rtos (multicast)'],
  [{ kind: 'tx', from: 'rtos' }, 'tx rtos'],
  [{ kind: 'local', from: 'rtos', to: 'gpos' }, 'local rtos -> gpos'],
  [{ kind: 'drop', reason: 'rxUnknownUnicast', text: 'unknown unicast', side: 'rx', port: undefined }, 'drop: unknown unicast'],
  [{ kind: 'drop', reason: 'rxQueueFull', text: 'queue full', side: 'rx', port: 'gpos' }, 'drop: queue full'],
  [{ kind: 'drop', reason: 'txSpoofedMac', text: 'spoofed source MAC', side: 'tx', port: 'gpos' }, 'drop: spoofed source MAC'],
];

/** Where each decision's frame goes: [view, direction] pairs. */
const EXPECTED_VIEWS: Array<Array<[string, 'in' | 'out']>> = [
  [['wire', 'in'], ['gpos', 'in']],
  [['wire', 'in'], ['rtos', 'in'], ['gpos', 'in']],
  [['wire', 'in'], ['rtos', 'in']],
  [['rtos', 'out'], ['wire', 'out']],
  [['rtos', 'out'], ['gpos', 'in']],
  [['wire', 'in']],
  [['gpos', 'in']],
  [['gpos', 'out']],
];

describe('decisions', () => {
  it('name what the nanokernel did, in the words of the packet comment', () => {
    for (const [d, text] of DECISIONS) expect(decisionComment(d)).toBe(text);
  });

  it('the format follows the extension; stdout is pcapng', () => {
    expect([formatOf('a.pcapng'), formatOf('A.PCAPNG'), formatOf('-'), formatOf('a.pcap'), formatOf('a')]).toEqual(['pcapng', 'pcapng', 'pcapng', 'pcap', 'pcap']);
  });
});

describe('Capture to pcapng', () => {
  it('writes each frame into the views it concerns, with direction and decision, and counts them', () => {
    withTmpDir('obs-cap', (dir) => {
      const path = join(dir, 'c.pcapng');
      let t = 1_700_000_000_000_000_000n;
      const { capture, sink } = openCapture(path, { guests: ['rtos', 'gpos'], now: () => (t += 1n) });
      DECISIONS.forEach(([d], i) => capture.record(frame(i), d));
      sink.close();
      const cap = readCapture(readFileSync(path));
      expect(cap.stopped).toBeUndefined();
      expect(cap.interfaces.map((i) => [i.name, i.tsUnitNs])).toEqual([['wire', 1], ['rtos', 1], ['gpos', 1]]);
      const got = cap.packets.map((p) => [p.data[0], cap.interfaces[p.ifIndex]!.name, directionOf(p.flags), p.comment]);
      const want = DECISIONS.flatMap(([, text], i) => EXPECTED_VIEWS[i]!.map(([v, dir]) => [i, v, dir, text]));
      expect(got).toEqual(want);
      expect(capture.counters).toEqual({ wire: { in: 4, out: 1 }, rtos: { in: 2, out: 2 }, gpos: { in: 4, out: 1 } });
      // Nanosecond timestamps, one per decision: every view shows the same instant of a frame
      // (the wire's and the guest's copy of the first), and the next decision is stamped later.
      expect(cap.packets[1]!.tsNs - cap.packets[0]!.tsNs).toBe(0n);
      expect(cap.packets[2]!.tsNs - cap.packets[1]!.tsNs).toBe(1n);
    });
  });

  it('keeps each comment under the whole decision: the same port under another cast, sender or receiver says so', () => {
    withTmpDir('obs-cap', (dir) => {
      const path = join(dir, 'k.pcapng');
      const guests = Array.from({ length: 40 }, (_, i) => `g${i}`);
      const { capture, sink } = openCapture(path, { guests, now: () => 1n });
      const want: string[] = [];
      const add = (d: Decision, n: number): void => {
        capture.record(frame(want.length), d);
        for (let i = 0; i < n; i++) want.push(decisionComment(d));
      };
      for (let round = 0; round < 2; round++) {
        add({ kind: 'rx', to: ['g1'], cast: 'unicast' }, 2);
        add({ kind: 'rx', to: ['g1'], cast: 'multicast' }, 2);
        add({ kind: 'rx', to: ['g1'], cast: 'broadcast' }, 2);
        add({ kind: 'rx', to: ['g1', 'g2'], cast: 'broadcast' }, 3);
        add({ kind: 'rx', to: ['g2', 'g1'], cast: 'broadcast' }, 3);
        add({ kind: 'tx', from: 'g1' }, 2);
        add({ kind: 'tx', from: 'g2' }, 2);
        add({ kind: 'drop', reason: 'rxQueueFull', text: 'queue full', side: 'rx', port: 'g1' }, 1);
        add({ kind: 'drop', reason: 'txMalformed', text: 'malformed', side: 'tx', port: 'g1' }, 1);
      }
      // More local pairs than comments are kept (1024): those past the bound are still right.
      for (let a = 0; a < 40; a++) for (let b = 0; b < 40; b++) if (a !== b) add({ kind: 'local', from: `g${a}`, to: `g${b}` }, 2);
      add({ kind: 'local', from: 'g0', to: 'g1' }, 2);
      add({ kind: 'local', from: 'g39', to: 'g38' }, 2);
      sink.close();
      expect(readCapture(readFileSync(path)).packets.map((p) => p.comment)).toEqual(want);
    });
  });

  it('writes only the views asked for, and cuts frames to the snaplen', () => {
    withTmpDir('obs-cap', (dir) => {
      const path = join(dir, 'v.pcapng');
      const { capture, sink } = openCapture(path, { guests: ['rtos', 'gpos'], views: ['gpos', 'wire'], snaplen: 20, now: () => 1n });
      DECISIONS.forEach(([d], i) => capture.record(frame(i, 100), d));
      sink.close();
      const cap = readCapture(readFileSync(path));
      expect(cap.interfaces.map((i) => i.name)).toEqual(['wire', 'gpos']); // interface order is fixed, not the flag's
      expect(cap.packets.every((p) => p.data.length === 20 && p.origLen === 100)).toBe(true);
      expect(cap.packets.filter((p) => cap.interfaces[p.ifIndex]!.name === 'gpos')).toHaveLength(5);
      expect(() => new Capture({ format: 'pcapng', guests: ['rtos'], views: ['gpos'], now: () => 0n })).toThrow(/unknown capture view "gpos"/);
    });
  });

  it('classic pcap holds the wire view only', () => {
    withTmpDir('obs-cap', (dir) => {
      const path = join(dir, 'w.pcap');
      const { capture, sink } = openCapture(path, { guests: ['rtos', 'gpos'], now: () => 1n });
      DECISIONS.forEach(([d], i) => capture.record(frame(i), d));
      sink.close();
      const cap = readCapture(readFileSync(path));
      expect(cap.format).toBe('pcap');
      expect(cap.packets.map((p) => p.data[0])).toEqual([0, 1, 2, 3, 5]);
    });
  });

  it.skipIf(skipWithoutTshark())('tshark reads it: named interfaces, comments, directions, nothing malformed', () => {
    withTmpDir('obs-cap', (dir) => {
      const path = join(dir, 't.pcapng');
      const { capture, sink } = openCapture(path, { guests: ['rtos', 'gpos'], now: () => 1_700_000_000_000_000_000n });
      DECISIONS.forEach(([d], i) => capture.record(frame(i), d));
      sink.close();
      expect(tsharkInterfaces(path)).toEqual(['wire', 'rtos', 'gpos']);
      const frames = tsharkFrames(path);
      const want = DECISIONS.flatMap(([, text], i) => EXPECTED_VIEWS[i]!.map(([v, dir]) => ({ iface: v, comment: text, dir: dir === 'in' ? 1 : 2, malformed: false, expertErrors: 0 })));
      expect(frames).toEqual(want);
    });
  });
});

describe('rotation (tcpdump -C/-W)', () => {
  it('starts a new file, each with its own header, and keeps a ring of K files', () => {
    withTmpDir('obs-cap', (dir) => {
      const path = join(dir, 'r.pcapng');
      const { capture, sink } = openCapture(path, { guests: ['rtos', 'gpos'], now: () => 1n, rotation: { maxBytes: 2000, files: 3 } });
      // Each frame: an EPB of 60 + 28 + 8 + comment + 8 bytes in two views; ~40 frames make > 3 files.
      for (let i = 0; i < 40; i++) capture.record(frame(i), { kind: 'rx', to: ['gpos'], cast: 'unicast' });
      sink.close();
      expect(sink.counters.files).toBeGreaterThan(3); // the ring wrapped
      expect(existsSync(rotatedName(path, 3))).toBe(false);
      let total = 0;
      for (let i = 0; i < 3; i++) {
        const bytes = readFileSync(rotatedName(path, i));
        expect(bytes.length).toBeLessThanOrEqual(2000);
        const cap = readCapture(bytes);
        expect(cap.stopped).toBeUndefined();
        expect(cap.interfaces.map((x) => x.name)).toEqual(['wire', 'rtos', 'gpos']);
        total += cap.packets.length;
      }
      expect(total).toBeLessThan(80); // the oldest files were overwritten
      const newest = readCapture(readFileSync(rotatedName(path, (sink.counters.files - 1) % 3)));
      expect(newest.packets.at(-1)!.data[0]).toBe(39);
      expect(rotatedName('/a.b/cap', 2)).toBe('/a.b/cap.2');
      expect(rotatedName('/x/cap.pcap', 0)).toBe('/x/cap.0.pcap');
    });
  });
});
