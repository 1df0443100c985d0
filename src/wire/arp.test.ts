import { describe, expect, it } from 'vitest';
import { ARP_REQUEST_FRAME, hex } from '../../test/fixtures/wire-frames.js';
import { parseIpv4, parseMac } from './address.js';
import { ARP_PACKET_LEN, ArpOperation, ArpPacket, ArpRepr } from './arp.js';
import { isWireError, WireError } from './error.js';

const ARP = ARP_REQUEST_FRAME.subarray(14, 14 + ARP_PACKET_LEN);

function packet(buf: Uint8Array): ArpPacket {
  const p = ArpPacket.checked(buf);
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

function error(buf: Uint8Array): WireError {
  const e = ArpPacket.checked(buf);
  if (!isWireError(e)) throw new Error('expected a WireError');
  return e;
}

describe('ArpPacket', () => {
  it('reads a request field by field', () => {
    const p = packet(ARP);
    expect(p.operation()).toBe(ArpOperation.Request);
    expect(p.senderHwAddr()).toBe(parseMac('02:4e:53:00:00:0a'));
    expect(p.senderProtoAddr()).toBe(parseIpv4('10.77.0.10'));
    expect(p.targetHwAddr()).toBe(0);
    expect(p.targetProtoAddr()).toBe(parseIpv4('10.77.0.1'));
  });

  it('ignores trailing Ethernet padding', () => {
    expect(packet(ARP_REQUEST_FRAME.subarray(14)).targetProtoAddr()).toBe(parseIpv4('10.77.0.1'));
  });

  it('passes an unknown opcode through', () => {
    const buf = ARP.slice();
    buf[7] = 9;
    expect(packet(buf).operation()).toBe(9);
  });

  it('rejects truncation at every length below 28', () => {
    for (let n = 0; n < ARP_PACKET_LEN; n++) {
      const e = error(ARP.subarray(0, n));
      expect(e.reason).toBe('truncated');
      expect(e.offset).toBe(n);
    }
  });

  it('rejects non-Ethernet/IPv4 ARP as unsupported, naming the field', () => {
    // [bytes to overwrite (offset -> value), offset reported, message]
    const cases: [Record<number, number>, number, RegExp][] = [
      [{ 1: 0x06 }, 0, /hardware type 6/], // IEEE 802 networks
      [{ 0: 0x01, 1: 0x00 }, 0, /hardware type 256/],
      [{ 2: 0x86, 3: 0xdd }, 2, /protocol type 0x86dd/],
      [{ 4: 8 }, 4, /hardware length 8/],
      [{ 5: 16 }, 5, /protocol length 16/],
    ];
    for (const [edits, offset, text] of cases) {
      const buf = ARP.slice();
      for (const [at, value] of Object.entries(edits)) buf[Number(at)] = value;
      const e = error(buf);
      expect(e.reason).toBe('unsupported');
      expect(e.offset).toBe(offset);
      expect(e.message).toMatch(text);
    }
  });
});

describe('ArpRepr', () => {
  it('round trips', () => {
    const r = ArpRepr.parse(packet(ARP));
    const out = new Uint8Array(r.bufferLen());
    r.emit(out);
    expect(out).toEqual(ARP);
  });

  it('emits a reply with known bytes', () => {
    const r = new ArpRepr(
      ArpOperation.Reply,
      parseMac('02:00:00:00:00:01')!,
      parseIpv4('10.77.0.1')!,
      parseMac('02:4e:53:00:00:0a')!,
      parseIpv4('10.77.0.10')!,
    );
    const out = new Uint8Array(ARP_PACKET_LEN);
    r.emit(out);
    expect(out).toEqual(
      hex(`
        00 01 08 00 06 04   | Ethernet, IPv4, hlen 6, plen 4
        00 02               | reply
        02 00 00 00 00 01   | sha
        0a 4d 00 01         | spa 10.77.0.1
        02 4e 53 00 00 0a   | tha
        0a 4d 00 0a         | tpa 10.77.0.10
      `),
    );
  });
});
