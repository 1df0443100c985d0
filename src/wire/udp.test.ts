import { describe, expect, it } from 'vitest';
import { hex, UDP_VLAN_FRAME } from '../../test/fixtures/wire-frames.js';
import { parseIpv4 } from './address.js';
import { isWireError, WireError } from './error.js';
import { UDP_HEADER_LEN, UdpPacket, UdpRepr } from './udp.js';

const SRC = parseIpv4('10.77.0.1')!;
const DST = parseIpv4('10.77.0.11')!;
const UDP = UDP_VLAN_FRAME.subarray(18 + 20);

function packet(buf: Uint8Array, src?: number, dst?: number): UdpPacket {
  const p = UdpPacket.checked(buf, src, dst);
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

describe('UdpPacket', () => {
  it('reads every field and verifies the pseudo-header checksum', () => {
    const p = packet(UDP, SRC, DST);
    expect(p.srcPort()).toBe(5000);
    expect(p.dstPort()).toBe(7);
    expect(p.len()).toBe(11);
    expect(p.checksum()).toBe(0x653a);
    expect(new TextDecoder().decode(p.payload())).toBe('hi\n');
    expect(p.payload().buffer).toBe(UDP.buffer);
  });

  it('payload stops at the length field', () => {
    const b = new Uint8Array(UDP.length + 5);
    b.set(UDP);
    expect(packet(b, SRC, DST).payload().length).toBe(3);
  });

  it('rejects truncation at every length below 8', () => {
    for (let n = 0; n < UDP_HEADER_LEN; n++) {
      expect(UdpPacket.checked(UDP.subarray(0, n))).toMatchObject({ protocol: 'udp', reason: 'truncated', offset: n });
    }
  });

  it('rejects a length field below 8 or beyond the buffer', () => {
    for (const len of [0, 7, 12, 0xffff]) {
      const b = UDP.slice();
      b[4] = len >>> 8;
      b[5] = len & 0xff;
      expect(UdpPacket.checked(b)).toMatchObject({ reason: 'bad-length', offset: 4 });
    }
    expect(UdpPacket.checked(UDP.subarray(0, 10))).toMatchObject({ reason: 'bad-length' });
  });

  it('rejects a bad checksum only when addresses are given', () => {
    const b = UDP.slice();
    b[8]! ^= 1;
    const e = UdpPacket.checked(b, SRC, DST) as WireError;
    expect(e).toMatchObject({ reason: 'bad-checksum', offset: 6 });
    expect(e.message).toBe('udp: bad checksum (byte 6)');
    expect(isWireError(UdpPacket.checked(b))).toBe(false);
    // The pseudo-header counts: right bytes, wrong destination.
    expect(isWireError(UdpPacket.checked(UDP, SRC, parseIpv4('10.77.0.10')))).toBe(true);
  });

  it('accepts checksum 0 (not computed) without verifying', () => {
    const b = UDP.slice();
    b[6] = 0;
    b[7] = 0;
    expect(isWireError(UdpPacket.checked(b, SRC, DST))).toBe(false);
  });
});

describe('UdpRepr', () => {
  it('round trips the header', () => {
    const r = UdpRepr.parse(packet(UDP));
    expect(r).toEqual(new UdpRepr(5000, 7));
    expect(r.bufferLen()).toBe(8);
    const out = new Uint8Array(UDP.length);
    out.set(UDP.subarray(8), 8);
    r.emit(out, SRC, DST);
    expect(out).toEqual(UDP);
  });

  it('sends a computed checksum of 0 as 0xffff', () => {
    // Choose payload words so the datagram sums to 0xffff: checksum would be 0.
    const out = new Uint8Array(10);
    const r = new UdpRepr(0, 0);
    r.emit(out, 0, 0); // sum = 17 + 10 + 10 (length twice) = 37 = 0x25
    out[8] = 0xff;
    out[9] = 0xff - 0x25;
    r.emit(out, 0, 0);
    expect(out).toEqual(hex('00 00 00 00 | ports\n 00 0a | length\n ff ff | checksum 0 sent as ffff\n ff da | payload'));
    expect(isWireError(UdpPacket.checked(out, 0, 0))).toBe(false);
  });

  it('refuses datagrams that cannot exist', () => {
    expect(() => new UdpRepr(1, 2).emit(new Uint8Array(7), 0, 0)).toThrow(RangeError);
    expect(() => new UdpRepr(1, 2).emit(new Uint8Array(0x10000), 0, 0)).toThrow(RangeError);
  });
});
