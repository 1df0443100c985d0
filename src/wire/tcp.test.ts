import { describe, expect, it } from 'vitest';
import { hex } from '../../test/fixtures/wire-frames.js';
import { prng } from '../../test/prng.js';
import { parseIpv4 } from './address.js';
import { pseudoHeaderSum } from './checksum.js';
import { isWireError } from './error.js';
import { IpProtocol } from './ipv4.js';
import { TCP_HEADER_LEN, TcpFlag, TcpPacket, TcpRepr, parseTcpOptions } from './tcp.js';

const HOST = parseIpv4('10.77.0.1')!;
const GPOS = parseIpv4('10.77.0.11')!;
const sum = (src: number, dst: number, len: number): number => pseudoHeaderSum(src, dst, IpProtocol.Tcp, len);

// Checksums computed independently (Python struct + RFC 1071 fold over pseudo-header + segment).
/** A Linux-style SYN: 10.77.0.1:40000 > 10.77.0.11:80, options as Linux orders them. */
const SYN = hex(`
  9c 40         | source port 40000
  00 50         | destination port 80
  01 02 03 04   | sequence number
  00 00 00 00   | acknowledgment number (no ACK)
  a0 02         | data offset 10 words (40 bytes), flags SYN
  fa f0         | window 64240
  35 c9         | checksum
  00 00         | urgent pointer
  02 04 05 b4   | MSS 1460
  04 02         | SACK permitted
  08 0a 00 bc 61 4e 00 00 00 00 | timestamps: TSval 12345678, TSecr 0
  01            | NOP
  03 03 07      | window scale 7
`);

/** A data segment back: 10.77.0.11:80 > 10.77.0.1:40000, PSH|ACK, "hi\\n". */
const DATA = hex(`
  00 50 9c 40   | ports 80 > 40000
  0a 0b 0c 0d   | sequence number
  01 02 03 05   | acknowledgment number
  50 18         | data offset 5 words, flags PSH|ACK
  01 f6         | window 502
  70 15         | checksum
  00 00         | urgent pointer
  68 69 0a      | payload "hi\\n"
`);

function packet(buf: Uint8Array, pseudo?: number): TcpPacket {
  const p = TcpPacket.checked(buf, pseudo);
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

describe('TcpPacket', () => {
  it('reads every field of a SYN and verifies the pseudo-header checksum', () => {
    const p = packet(SYN, sum(HOST, GPOS, SYN.length));
    expect(p.srcPort()).toBe(40000);
    expect(p.dstPort()).toBe(80);
    expect(p.seqNum()).toBe(0x01020304);
    expect(p.ackNum()).toBe(0);
    expect(p.headerLen()).toBe(40);
    expect(p.flags()).toBe(TcpFlag.Syn);
    expect(p.has(TcpFlag.Syn)).toBe(true);
    expect(p.has(TcpFlag.Ack)).toBe(false);
    expect(p.window()).toBe(64240);
    expect(p.checksum()).toBe(0x35c9);
    expect(p.payload().length).toBe(0);
    expect(p.segLen()).toBe(1);
  });

  it('parses the options Linux sends', () => {
    const r = TcpRepr.parse(packet(SYN));
    if (isWireError(r)) throw new Error(r.message);
    expect(r.options).toEqual({ mss: 1460, sackPermitted: true, timestamps: { tsVal: 12345678, tsEcr: 0 }, windowScale: 7 });
  });

  it('reads a data segment; payload is a view, segLen counts data', () => {
    const p = packet(DATA, sum(GPOS, HOST, DATA.length));
    expect(p.flags()).toBe(TcpFlag.Psh | TcpFlag.Ack);
    expect(p.ackNum()).toBe(0x01020305);
    expect(new TextDecoder().decode(p.payload())).toBe('hi\n');
    expect(p.payload().buffer).toBe(DATA.buffer);
    expect(p.segLen()).toBe(3);
  });

  it('segLen counts SYN and FIN as one each', () => {
    const b = DATA.slice();
    b[13] = TcpFlag.Fin | TcpFlag.Ack;
    expect(packet(b).segLen()).toBe(4);
  });

  it('rejects truncation below 20 bytes and a data offset outside 20..length', () => {
    for (let n = 0; n < TCP_HEADER_LEN; n++) expect(TcpPacket.checked(SYN.subarray(0, n))).toMatchObject({ protocol: 'tcp', reason: 'truncated' });
    expect(TcpPacket.checked(SYN.subarray(0, 39))).toMatchObject({ reason: 'bad-header-len', offset: 12 });
    const b = DATA.slice();
    b[12] = 0x40; // 16 bytes
    expect(TcpPacket.checked(b)).toMatchObject({ reason: 'bad-header-len' });
  });

  it('rejects a bad checksum, and the pseudo-header counts', () => {
    const b = DATA.slice();
    b[20]! ^= 1;
    expect(TcpPacket.checked(b, sum(GPOS, HOST, b.length))).toMatchObject({ reason: 'bad-checksum', offset: 16 });
    expect(isWireError(TcpPacket.checked(b))).toBe(false);
    expect(isWireError(TcpPacket.checked(DATA, sum(GPOS, parseIpv4('10.77.0.2')!, DATA.length)))).toBe(true);
  });
});

describe('parseTcpOptions', () => {
  it('skips NOPs and unknown kinds, stops at End, clamps window scale to 14', () => {
    expect(parseTcpOptions(hex('01 01 1e 04 aa bb 03 03 0f 00 ff ff'))).toEqual({ unknown: 1, windowScale: 14 });
  });

  it('rejects lengths below 2, past the end, or wrong for the kind', () => {
    for (const opts of ['02', '02 01', '02 05 05 b4', '08 0a 00 00', '02 03 05', '03 04 07 00', '04 03 00']) {
      expect(parseTcpOptions(hex(opts))).toMatchObject({ protocol: 'tcp', reason: 'bad-option' });
    }
  });
});

describe('TcpRepr', () => {
  it('re-emits the SYN with the same fields and options (our padding: NOP before each of WS, SACK-perm, TS)', () => {
    const r = TcpRepr.parse(packet(SYN));
    if (isWireError(r)) throw new Error(r.message);
    expect(r.bufferLen()).toBe(20 + 4 + 4 + 4 + 12);
    const out = new Uint8Array(r.bufferLen());
    r.emit(out, sum(HOST, GPOS, out.length));
    expect(TcpRepr.parse(packet(out, sum(HOST, GPOS, out.length)))).toEqual(r);
    expect(out.subarray(0, 12)).toEqual(SYN.subarray(0, 12));
    expect(out.subarray(20)).toEqual(hex('02 04 05 b4  01 03 03 07  01 01 04 02  01 01 08 0a 00 bc 61 4e 00 00 00 00'));
  });

  it('emits the data fixture exactly', () => {
    const r = new TcpRepr(80, 40000, 0x0a0b0c0d, 0x01020305, TcpFlag.Psh | TcpFlag.Ack, 502, {}, new TextEncoder().encode('hi\n'));
    const out = new Uint8Array(r.bufferLen());
    r.emit(out, sum(GPOS, HOST, out.length));
    expect(out).toEqual(DATA);
  });

  it('refuses a buffer of the wrong size (a caller bug)', () => {
    const r = new TcpRepr(1, 2, 0, 0, TcpFlag.Syn, 0, { mss: 1460 });
    expect(() => r.emit(new Uint8Array(20), 0)).toThrow(RangeError);
  });

  it('never throws on random bytes, and what parses re-emits to the same header fields', () => {
    const rnd = prng(9);
    for (let n = 0; n < 3000; n++) {
      const b = new Uint8Array(Math.floor(rnd() * 80));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
      if (b.length > 12 && rnd() < 0.7) b[12] = (5 + Math.floor(rnd() * 4)) << 4;
      const p = TcpPacket.checked(b);
      if (isWireError(p)) continue;
      const r = TcpRepr.parse(p);
      if (isWireError(r)) continue;
      const out = new Uint8Array(r.bufferLen());
      r.emit(out, 0);
      const again = TcpRepr.parse(packet(out, 0));
      expect(again).toMatchObject({ srcPort: r.srcPort, dstPort: r.dstPort, seqNum: r.seqNum, ackNum: r.ackNum, flags: r.flags, window: r.window });
      expect((again as TcpRepr).options).toEqual({ ...r.options, unknown: undefined });
    }
  });
});
