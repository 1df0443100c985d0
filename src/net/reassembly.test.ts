// The reassembler on its own: completion in any order, the bounds (datagrams, bytes), the
// deadline, and every refusal by name. Packets are built with wire/'s emitters.
import { describe, expect, it } from 'vitest';
import { EthernetFrame, IPV4_HEADER_LEN, IpProtocol, Ipv4Packet, isWireError } from '../wire/index.js';
import { Ipv4Reassembler } from './reassembly.js';
import { PEER_IP, fragmentFrame, ip } from './testing.js';

function packet(frame: Uint8Array): Ipv4Packet {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) throw new Error(eth.message);
  const p = Ipv4Packet.checked(eth.payload());
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

/** l4 bytes 0..n-1 with a recognisable pattern. */
function body(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

const frag = (l4: Uint8Array, off: number, len: number, more: boolean, ident = 0x4242, src = PEER_IP): Ipv4Packet =>
  packet(fragmentFrame(src, IpProtocol.Udp, l4, off, len, more, ident));

const T0 = 5_000_000;

describe('Ipv4Reassembler', () => {
  it('rebuilds a datagram from fragments in any order, with a valid header and no fragment bits', () => {
    const l4 = body(3000);
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const r = new Ipv4Reassembler();
      const parts = [frag(l4, 0, 1480, true), frag(l4, 1480, 1480, true), frag(l4, 2960, 40, false)];
      const results = order.map((i) => r.push(parts[i]!, T0));
      expect(results.slice(0, 2).map((x) => x.kind)).toEqual(['held', 'held']);
      const done = results[2]!;
      if (done.kind !== 'complete') throw new Error(`expected complete, got ${done.kind}`);
      const p = done.packet;
      expect(p.isFragment()).toBe(false);
      expect(p.totalLen()).toBe(IPV4_HEADER_LEN + 3000);
      expect(p.srcAddr()).toBe(PEER_IP);
      expect(p.ident()).toBe(0x4242);
      expect(Array.from(p.payload())).toEqual(Array.from(l4));
      expect(r.size).toBe(0);
      expect(r.bytes).toBe(0);
      expect(r.counters.ipv4Reassembled).toBe(1);
    }
  });

  it('keeps datagrams apart by source and ident', () => {
    const r = new Ipv4Reassembler();
    const a = body(16);
    expect(r.push(frag(a, 0, 8, true, 1), T0).kind).toBe('held');
    expect(r.push(frag(a, 8, 8, false, 2), T0).kind).toBe('held'); // another ident
    expect(r.push(frag(a, 8, 8, false, 1, ip('10.77.0.2')), T0).kind).toBe('held'); // another source
    expect(r.size).toBe(3);
    expect(r.push(frag(a, 8, 8, false, 1), T0).kind).toBe('complete');
  });

  it('drops the whole datagram on any overlap, duplicates included', () => {
    const l4 = body(48);
    for (const [off, len] of [
      [0, 16], // exact duplicate
      [8, 16], // overlaps the tail
      [0, 8], // inside
    ] as const) {
      const r = new Ipv4Reassembler();
      expect(r.push(frag(l4, 0, 16, true), T0).kind).toBe('held');
      expect(r.push(frag(l4, off, len, true), T0)).toEqual({ kind: 'dropped', reason: 'frag-overlap' });
      expect(r.size).toBe(0);
      expect(r.bytes).toBe(0);
      // The rest arriving later does not complete the dropped datagram: it starts a new one.
      expect(r.push(frag(l4, 16, 32, false), T0).kind).toBe('held');
    }
  });

  it('refuses a non-last fragment that is not a multiple of 8, an empty one, and one past 65535', () => {
    const r = new Ipv4Reassembler();
    const l4 = body(64);
    expect(r.push(frag(l4, 0, 12, true), T0)).toEqual({ kind: 'dropped', reason: 'frag-bad-length' });
    expect(r.push(frag(l4, 8, 0, false), T0)).toEqual({ kind: 'dropped', reason: 'frag-bad-length' });
    // Offset 65512 (the largest 13-bit offset in 8s is 65528) plus 24 bytes ends past 65515.
    const big = new Uint8Array(65536);
    expect(r.push(frag(big, 65512, 24, false), T0)).toEqual({ kind: 'dropped', reason: 'frag-too-big' });
    expect(r.size).toBe(0);
  });

  it('refuses fragments that disagree with the end the last fragment set', () => {
    const l4 = body(64);
    const r = new Ipv4Reassembler();
    expect(r.push(frag(l4, 16, 16, false), T0).kind).toBe('held'); // end = 32
    expect(r.push(frag(l4, 32, 16, true), T0)).toEqual({ kind: 'dropped', reason: 'frag-conflict' });
    expect(r.size).toBe(0);
    expect(r.push(frag(l4, 16, 16, false), T0).kind).toBe('held');
    expect(r.push(frag(l4, 40, 8, false), T0)).toEqual({ kind: 'dropped', reason: 'frag-conflict' }); // another end
    expect(r.push(frag(l4, 32, 16, true), T0).kind).toBe('held');
    expect(r.push(frag(l4, 0, 16, false), T0)).toEqual({ kind: 'dropped', reason: 'frag-conflict' }); // a last one before held data
  });

  it('drops an incomplete datagram at its deadline and says when that is', () => {
    const r = new Ipv4Reassembler({ maxDatagrams: 4, maxBytes: 0xffff, timeoutUs: 30_000_000 });
    const l4 = body(16);
    expect(r.pollAt()).toBeUndefined();
    r.push(frag(l4, 0, 8, true, 1), T0);
    r.push(frag(l4, 0, 8, true, 2), T0 + 1_000_000);
    expect(r.pollAt()).toBe(T0 + 30_000_000);
    r.expire(T0 + 30_000_000 - 1);
    expect(r.size).toBe(2);
    r.expire(T0 + 30_000_000);
    expect(r.size).toBe(1);
    expect(r.counters.ipv4ReassemblyTimeouts).toBe(1);
    expect(r.pollAt()).toBe(T0 + 31_000_000);
    // The second half of datagram 1 after its deadline does not complete it.
    expect(r.push(frag(l4, 8, 8, false, 1), T0 + 30_000_001).kind).toBe('held');
    expect(r.bytes).toBe(16);
  });

  it('bounds the datagrams in reassembly: a new one evicts the oldest', () => {
    const r = new Ipv4Reassembler({ maxDatagrams: 2, maxBytes: 0xffff, timeoutUs: 30_000_000 });
    const l4 = body(16);
    r.push(frag(l4, 0, 8, true, 1), T0);
    r.push(frag(l4, 0, 8, true, 2), T0);
    r.push(frag(l4, 0, 8, true, 3), T0);
    expect(r.size).toBe(2);
    expect(r.counters.ipv4ReassemblyEvicted).toBe(1);
    expect(r.push(frag(l4, 8, 8, false, 1), T0).kind).toBe('held'); // 1 was evicted: a new datagram
    expect(r.push(frag(l4, 8, 8, false, 3), T0).kind).toBe('complete');
  });

  it('bounds the bytes held: the oldest datagrams go to make room', () => {
    const r = new Ipv4Reassembler({ maxDatagrams: 16, maxBytes: 0xffff, timeoutUs: 30_000_000 });
    const l4 = new Uint8Array(30_000);
    r.push(frag(l4, 0, 29_992, true, 1), T0);
    r.push(frag(l4, 0, 29_992, true, 2), T0);
    expect(r.bytes).toBe(59_984);
    r.push(frag(l4, 0, 29_992, true, 3), T0);
    expect(r.bytes).toBeLessThanOrEqual(0xffff);
    expect(r.size).toBe(2);
    expect(r.counters.ipv4ReassemblyEvicted).toBe(1);
  });

  it('refuses limits that could not hold one datagram', () => {
    expect(() => new Ipv4Reassembler({ maxDatagrams: 0, maxBytes: 0xffff, timeoutUs: 1 })).toThrow(/maxDatagrams/);
    expect(() => new Ipv4Reassembler({ maxDatagrams: 1, maxBytes: 1000, timeoutUs: 1 })).toThrow(/maxBytes/);
    expect(() => new Ipv4Reassembler({ maxDatagrams: 1, maxBytes: 0xffff, timeoutUs: 0 })).toThrow(/timeoutUs/);
  });
});
