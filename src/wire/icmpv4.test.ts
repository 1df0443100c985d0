import { describe, expect, it } from 'vitest';
import { hex, ICMP_ECHO_FRAME } from '../../test/fixtures/wire-frames.js';
import { internetChecksum } from './checksum.js';
import { isWireError, WireError } from './error.js';
import {
  emitIcmpv4,
  ICMPV4_HEADER_LEN,
  Icmpv4DstUnreachable,
  Icmpv4Packet,
  type Icmpv4Repr,
  icmpv4ReprLen,
  Icmpv4Type,
  parseIcmpv4Repr,
} from './icmpv4.js';

const ICMP = ICMP_ECHO_FRAME.subarray(14 + 20);

function packet(buf: Uint8Array): Icmpv4Packet {
  const p = Icmpv4Packet.checked(buf);
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

function emitted(r: Icmpv4Repr): Uint8Array {
  const out = new Uint8Array(icmpv4ReprLen(r));
  emitIcmpv4(r, out);
  return out;
}

/** Destination unreachable (port) quoting the IP header and first 8 bytes of a UDP datagram. */
const PORT_UNREACHABLE = hex(`
  03 03               | type 3 dst-unreachable, code 3 port
  84 28               | checksum
  00 00 00 00         | unused
  45 00 00 1f be ef 40 00 40 11 67 39 0a 4d 00 01 0a 4d 00 0b | original IPv4 header
  13 88 00 07 00 0b 65 3a                                     | original UDP header
`);

describe('Icmpv4Packet', () => {
  it('reads an echo request', () => {
    const p = packet(ICMP);
    expect(p.msgType()).toBe(Icmpv4Type.EchoRequest);
    expect(p.msgCode()).toBe(0);
    expect(p.checksum()).toBe(0x3331);
    expect(p.echoIdent()).toBe(7);
    expect(p.echoSeqNo()).toBe(1);
    expect(new TextDecoder().decode(p.data())).toBe('abcd');
    expect(p.data().buffer).toBe(ICMP.buffer);
  });

  it('rejects truncation at every length below 8', () => {
    for (let n = 0; n < ICMPV4_HEADER_LEN; n++) {
      const e = Icmpv4Packet.checked(ICMP.subarray(0, n));
      expect(e).toMatchObject({ protocol: 'icmpv4', reason: 'truncated', offset: n });
    }
  });

  it('rejects a bad checksum over header or data', () => {
    for (const at of [0, 5, ICMP.length - 1]) {
      const b = ICMP.slice();
      b[at]! ^= 0x10;
      const e = Icmpv4Packet.checked(b) as WireError;
      expect(e).toMatchObject({ reason: 'bad-checksum', offset: 2 });
      expect(e.message).toBe('icmpv4: bad checksum (byte 2)');
    }
  });

  it('checks the checksum over the whole buffer (a dropped byte is detected)', () => {
    expect(isWireError(Icmpv4Packet.checked(ICMP.subarray(0, ICMP.length - 1)))).toBe(true);
  });
});

describe('Icmpv4Repr', () => {
  it('round trips an echo request', () => {
    const r = parseIcmpv4Repr(packet(ICMP));
    expect(r).toMatchObject({ kind: 'echo-request', ident: 7, seqNo: 1 });
    expect(emitted(r)).toEqual(ICMP);
  });

  it('emits an echo reply with a valid checksum', () => {
    const out = emitted({ kind: 'echo-reply', ident: 7, seqNo: 1, data: hex('61 62 63 64') });
    expect(out).toEqual(hex('00 00 | reply\n 3b 31 | checksum\n 00 07 00 01 | id seq\n 61 62 63 64 | data'));
    expect(internetChecksum(out)).toBe(0);
  });

  it('round trips destination unreachable', () => {
    const r = parseIcmpv4Repr(packet(PORT_UNREACHABLE));
    expect(r.kind).toBe('dst-unreachable');
    if (r.kind !== 'dst-unreachable') return;
    expect(r.code).toBe(Icmpv4DstUnreachable.PortUnreachable);
    expect(r.original.length).toBe(28);
    expect(r.nextHopMtu).toBeUndefined();
    expect(emitted(r)).toEqual(PORT_UNREACHABLE);
  });

  it('keeps the next-hop MTU of fragmentation-needed', () => {
    const out = emitted({ kind: 'dst-unreachable', code: Icmpv4DstUnreachable.FragRequired, original: new Uint8Array(28), nextHopMtu: 1400 });
    const r = parseIcmpv4Repr(packet(out));
    expect(r).toMatchObject({ kind: 'dst-unreachable', code: 4, nextHopMtu: 1400 });
  });

  it('passes unknown types (and echo with a non-zero code) through as other, round tripping', () => {
    const timestamp = emitted({ kind: 'other', type: 13, code: 0, rest: hex('12 34 00 01 00 00 00 01 00 00 00 02 00 00 00 03') });
    const r = parseIcmpv4Repr(packet(timestamp));
    expect(r).toMatchObject({ kind: 'other', type: 13, code: 0 });
    expect(emitted(r)).toEqual(timestamp);

    const oddEcho = emitted({ kind: 'other', type: Icmpv4Type.EchoRequest, code: 1, rest: hex('00 01 00 02') });
    expect(parseIcmpv4Repr(packet(oddEcho))).toMatchObject({ kind: 'other', type: 8, code: 1 });

    const ttl = emitted({ kind: 'other', type: Icmpv4Type.TimeExceeded, code: 0, rest: new Uint8Array(32) });
    expect(parseIcmpv4Repr(packet(ttl))).toMatchObject({ kind: 'other', type: 11 });
  });

  it('emits in place when the data already sits in the buffer', () => {
    const buf = new Uint8Array(12);
    buf.set(hex('61 62 63 64'), 8);
    emitIcmpv4({ kind: 'echo-request', ident: 7, seqNo: 1, data: buf.subarray(8) }, buf);
    expect(buf).toEqual(ICMP);
  });

  it('refuses a short buffer', () => {
    expect(() => emitIcmpv4({ kind: 'echo-reply', ident: 0, seqNo: 0, data: new Uint8Array(4) }, new Uint8Array(11))).toThrow(RangeError);
  });
});
