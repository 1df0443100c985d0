// link/tso: which segments may be joined, and that the kernel's cut of the super-segment gives
// back the very segments that were joined (checked against tso-testing's model of tcp_gso_segment).
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ACK, fixChecksums, kernelCut, PSH, segment, stream } from './tso-testing.js';
import { TSO_HEAD_MAX, tsoContinues, tsoHead, tsoHeaderLen } from './tso.js';

const HDR = 54; // Ethernet 14 + IPv4 20 + TCP 20

/** Join segs with tsoContinues as TapLink does; returns how many were taken. */
function joinable(segs: Uint8Array[]): number {
  let payload = segs[0]!.length - HDR;
  for (let i = 1; i < segs.length; i++) {
    const h = tsoHeaderLen(segs[i]!);
    if (h === 0 || !tsoContinues(segs[0]!, segs[i - 1]!, payload, segs[i]!, h)) return i;
    payload += segs[i]!.length - h;
  }
  return segs.length;
}

function superSegment(segs: Uint8Array[], hdrLen = HDR): Uint8Array[] {
  const head = new Uint8Array(TSO_HEAD_MAX);
  const payloads = segs.map((s) => s.subarray(hdrLen));
  const payload = new Uint8Array(payloads.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of payloads) {
    payload.set(p, off);
    off += p.length;
  }
  tsoHead(segs, segs.length, hdrLen, payload.length, head);
  return kernelCut(head, hdrLen, payload, segs[0]!.length - hdrLen);
}

describe('tsoHeaderLen: which segments TSO may carry', () => {
  const data = segment({ payload: new Uint8Array(100), seq: 1, ident: 1 });

  it('an ACK or ACK|PSH segment with payload: its header length, options included', () => {
    expect(tsoHeaderLen(data)).toBe(HDR);
    expect(tsoHeaderLen(segment({ payload: new Uint8Array(10), seq: 1, ident: 1, flags: ACK | PSH }))).toBe(HDR);
    const opts = new Uint8Array([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]); // NOP NOP timestamps
    expect(tsoHeaderLen(segment({ payload: new Uint8Array(10), seq: 1, ident: 1, options: opts }))).toBe(HDR + 12);
  });

  it('refuses a segment whose IPv4 or TCP checksum is wrong: the kernel would send it out right', () => {
    const badIp = data.slice();
    badIp[24] ^= 0xff;
    expect(tsoHeaderLen(badIp)).toBe(0);
    const badTcp = data.slice();
    badTcp[51] ^= 0x01;
    expect(tsoHeaderLen(badTcp)).toBe(0);
    const badPayload = data.slice();
    badPayload[HDR + 50] ^= 0x80;
    expect(tsoHeaderLen(badPayload)).toBe(0);
    const [a, b] = stream(2, 1000);
    b![HDR + 999] ^= 1; // the second of a run, corrupt: not joined to the first
    expect(joinable([a!, b!])).toBe(1);
  });

  it('refuses SYN, FIN, RST, URG, CWR/ECE and a bare ACK', () => {
    for (const flags of [0x02, 0x12, 0x11, 0x14, 0x04, 0x30, 0x90, 0x50, 0x01]) {
      expect(tsoHeaderLen(segment({ payload: new Uint8Array(10), seq: 1, ident: 1, flags })), `flags ${flags}`).toBe(0);
    }
    expect(tsoHeaderLen(segment({ payload: new Uint8Array(0), seq: 1, ident: 1 }))).toBe(0);
  });

  it('refuses fragments, other protocols, IPv4 options, VLAN tags, other EtherTypes and short or padded frames', () => {
    // Checksums made right again after each edit, so only the edited field can be the reason.
    const edit = (i: number, v: number): Uint8Array => {
      const f = data.slice();
      f[i] = v;
      fixChecksums(f);
      return f;
    };
    expect(tsoHeaderLen(segment({ payload: new Uint8Array(100), seq: 1, ident: 1, fragment: 0x2000 }))).toBe(0); // MF
    expect(tsoHeaderLen(segment({ payload: new Uint8Array(100), seq: 1, ident: 1, fragment: 0x0001 }))).toBe(0); // offset 8
    expect(tsoHeaderLen(segment({ payload: new Uint8Array(100), seq: 1, ident: 1, fragment: 0x0100 }))).toBe(0); // offset 2048
    expect(tsoHeaderLen(edit(23, 17))).toBe(0); // UDP
    expect(tsoHeaderLen(edit(14, 0x46))).toBe(0); // IHL 6
    expect(tsoHeaderLen(edit(14, 0x65))).toBe(0); // version 6
    expect(tsoHeaderLen(edit(12, 0x81))).toBe(0); // 802.1Q
    expect(tsoHeaderLen(edit(13, 0x06))).toBe(0); // ARP
    expect(tsoHeaderLen(edit(46, 0x40))).toBe(0); // data offset 16 bytes
    expect(tsoHeaderLen(data.subarray(0, 60))).toBe(0); // cut short of its total length
    const padded = new Uint8Array(data.length + 6);
    padded.set(data);
    expect(tsoHeaderLen(padded)).toBe(0); // bytes past the IPv4 total length
    expect(tsoHeaderLen(data.subarray(0, 40))).toBe(0);
    const allHeader = segment({ payload: new Uint8Array(1), seq: 1, ident: 1 });
    expect(tsoHeaderLen(allHeader)).toBe(HDR);
    allHeader[46] = 0x60; // data offset 24: the header would end past the datagram
    expect(tsoHeaderLen(allHeader)).toBe(0);
  });
});

describe('tsoContinues: one flow, back to back', () => {
  it('joins a stream of full segments and a short last one', () => {
    expect(joinable(stream(10, 1448, 300))).toBe(10);
  });

  it('a short segment or a PSH ends the super-segment: what follows is not joined', () => {
    const short = stream(3, 1448, 1000);
    const next = segment({ payload: new Uint8Array(1448), seq: 0xfffff000 + 2 * 1448 + 1000, ident: 0xfffe + 3 });
    expect(joinable([...short, next])).toBe(3);
    const psh = stream(3, 1448, 1448, { flags: ACK | PSH });
    const after = segment({ payload: new Uint8Array(1448), seq: (0xfffff000 + 3 * 1448) >>> 0, ident: 1 });
    expect(joinable([...psh, after])).toBe(3);
  });

  it('a longer segment than the first is not joined (every one but the last carries gso_size)', () => {
    const s = stream(2, 1000);
    const longer = segment({ payload: new Uint8Array(1200), seq: 0xfffff000 + 2000, ident: 0 });
    expect(joinable([...s, longer])).toBe(2);
  });

  it('refuses a gap or overlap in sequence numbers, and idents that do not count up by one', () => {
    const [a, b] = stream(2, 1000);
    const gap = segment({ payload: new Uint8Array(1000), seq: 0xfffff000 + 1001, ident: 0xffff });
    const sameIdent = segment({ payload: new Uint8Array(1000), seq: 0xfffff000 + 1000, ident: 0xfffe });
    expect(joinable([a!, b!])).toBe(2);
    expect(joinable([a!, gap])).toBe(1);
    expect(joinable([a!, sameIdent])).toBe(1);
  });

  it('refuses a segment of another flow or with any other header field changed', () => {
    const base = { seq: 0xfffff000 + 1000, ident: 0xffff, payload: new Uint8Array(1000) };
    const [a] = stream(1, 1000);
    const changed: Array<[string, Uint8Array]> = [
      ['dst port', segment({ ...base, dstPort: 40001 })],
      ['src port', segment({ ...base, srcPort: 20 })],
      ['src', segment({ ...base, src: 0x0a4d000c })],
      ['dst', segment({ ...base, dst: 0x0a4d0002 })],
      ['ack', segment({ ...base, ack: 1001 })],
      ['window', segment({ ...base, window: 1000 })],
      ['ttl', segment({ ...base, ttl: 63 })],
      ['options', segment({ ...base, options: new Uint8Array([1, 1, 1, 1]) })],
    ];
    const edited = (i: number, v: number): Uint8Array => {
      const f = segment(base);
      f[i] = v;
      fixChecksums(f);
      return f;
    };
    changed.push(['dst MAC', edited(0, 0x04)], ['TOS', edited(15, 0x10)], ['urgent pointer', edited(53, 1)]);
    expect(joinable([a!, segment(base)])).toBe(2);
    for (const [what, f] of changed) expect(joinable([a!, f]), what).toBe(1);
  });

  it('stops before the IPv4 total length would pass 65535', () => {
    const s = stream(46, 1448); // 46 * 1448 + 40 = 66648 > 65535
    expect(joinable(s)).toBe(45);
    expect(20 + 20 + 45 * 1448).toBeLessThanOrEqual(65535);
  });
});

describe('tsoHead: the kernel cuts the super-segment back into the segments joined', () => {
  it('for a stream with a short last segment carrying PSH, across sequence and ident wrap-around', () => {
    const segs = stream(5, 1448, 77, { flags: ACK | PSH });
    expect(superSegment(segs)).toEqual(segs);
  });

  it('with TCP options in every segment', () => {
    const options = new Uint8Array([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7]);
    const segs = stream(3, 1000, 1000, { options });
    expect(superSegment(segs, HDR + 12)).toEqual(segs);
  });

  test.prop([fc.integer({ min: 2, max: 45 }), fc.integer({ min: 1, max: 1448 }), fc.integer({ min: 1, max: 1448 }), fc.nat(0xffff_ffff), fc.nat(0xffff), fc.boolean()], {
    numRuns: 60,
  })('any count, size, start and last flag', (count, mss, last, seq, ident, psh) => {
    const segs = stream(count, mss, Math.min(last, mss), { seq, ident, flags: psh ? ACK | PSH : ACK });
    expect(joinable(segs)).toBe(count);
    expect(superSegment(segs)).toEqual(segs);
  });
});
