import { describe, expect, it } from 'vitest';
import { hex, ICMP_ECHO_FRAME, IPV4_WITH_OPTIONS } from '../../test/fixtures/wire-frames.js';
import { parseIpv4 } from './address.js';
import { internetChecksum } from './checksum.js';
import { isWireError, WireError } from './error.js';
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Packet, Ipv4Repr, rewriteIpv4Fragment } from './ipv4.js';

const IP = ICMP_ECHO_FRAME.subarray(14);

function packet(buf: Uint8Array): Ipv4Packet {
  const p = Ipv4Packet.checked(buf);
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

function error(buf: Uint8Array): WireError {
  const e = Ipv4Packet.checked(buf);
  if (!isWireError(e)) throw new Error('expected a WireError');
  return e;
}

/** Copy of `buf` with `edit` applied and the header checksum fixed up (so only the edit is wrong). */
function edited(buf: Uint8Array, edit: (b: Uint8Array) => void): Uint8Array {
  const b = buf.slice();
  edit(b);
  const ihl = Math.max(5, b[0]! & 0x0f) * 4;
  b[10] = 0;
  b[11] = 0;
  const c = internetChecksum(b.subarray(0, Math.min(ihl, b.length)));
  b[10] = c >>> 8;
  b[11] = c & 0xff;
  return b;
}

describe('Ipv4Packet', () => {
  it('reads every field', () => {
    const p = packet(IP);
    expect(p.version()).toBe(4);
    expect(p.headerLen()).toBe(20);
    expect(p.dscp()).toBe(0);
    expect(p.ecn()).toBe(0);
    expect(p.totalLen()).toBe(32);
    expect(p.ident()).toBe(0x1234);
    expect(p.dontFrag()).toBe(true);
    expect(p.moreFrags()).toBe(false);
    expect(p.fragOffset()).toBe(0);
    expect(p.isFragment()).toBe(false);
    expect(p.ttl()).toBe(64);
    expect(p.protocol()).toBe(IpProtocol.Icmp);
    expect(p.checksum()).toBe(0x1405);
    expect(p.srcAddr()).toBe(parseIpv4('10.77.0.1'));
    expect(p.dstAddr()).toBe(parseIpv4('10.77.0.10'));
    expect(p.options().length).toBe(0);
    expect(p.payload()).toEqual(IP.subarray(20));
  });

  it('skips options by IHL and exposes them raw', () => {
    const p = packet(IPV4_WITH_OPTIONS);
    expect(p.headerLen()).toBe(24);
    expect(p.options()).toEqual(hex('01 01 01 00'));
    expect(p.payload()).toEqual(hex('ca fe'));
    expect(p.protocol()).toBe(253); // unknown protocol is a value
  });

  it('ignores bytes past total length (Ethernet padding)', () => {
    const padded = new Uint8Array(IP.length + 14);
    padded.set(IP);
    padded.fill(0xee, IP.length);
    const p = packet(padded);
    expect(p.payload()).toEqual(IP.subarray(20));
  });

  it('payload is a view', () => {
    const p = packet(IP);
    expect(p.payload().buffer).toBe(IP.buffer);
  });

  it('reads DSCP/ECN and fragment fields', () => {
    const b = edited(IP, (x) => {
      x[1] = (46 << 2) | 1; // EF, ECT(1)
      x[6] = 0x20 | 0x01; // MF, offset high bits
      x[7] = 0x02; // offset 0x102 units = 2064 bytes
    });
    const p = packet(b);
    expect(p.dscp()).toBe(46);
    expect(p.ecn()).toBe(1);
    expect(p.dontFrag()).toBe(false);
    expect(p.moreFrags()).toBe(true);
    expect(p.fragOffset()).toBe(0x102 * 8);
    expect(p.isFragment()).toBe(true);
  });

  it('a last fragment (offset only) is a fragment', () => {
    expect(packet(edited(IP, (x) => { x[6] = 0; x[7] = 1; })).isFragment()).toBe(true);
  });

  it('rejects truncation at every length below the header', () => {
    for (let n = 0; n < IPV4_HEADER_LEN; n++) {
      const e = error(IP.subarray(0, n));
      expect(e.reason).toBe('truncated');
      expect(e.offset).toBe(n);
    }
  });

  it('rejects a packet shorter than its total length', () => {
    for (const n of [20, 21, 31]) {
      const e = error(IP.subarray(0, n));
      expect(e.reason).toBe('truncated');
      expect(e.message).toMatch(/total length 32/);
    }
  });

  it('rejects options cut off (IHL*4 beyond the buffer)', () => {
    expect(error(IPV4_WITH_OPTIONS.subarray(0, 22)).reason).toBe('truncated');
  });

  it('rejects a bad version', () => {
    const e = error(edited(IP, (x) => { x[0] = 0x65; }));
    expect(e).toMatchObject({ reason: 'bad-version', offset: 0 });
  });

  it('rejects IHL < 5', () => {
    for (const ihl of [0, 1, 4]) {
      const e = error(edited(IP, (x) => { x[0] = 0x40 | ihl; }));
      expect(e).toMatchObject({ reason: 'bad-header-len', offset: 0 });
    }
  });

  it('rejects total length smaller than the header', () => {
    const e = error(edited(IP, (x) => { x[2] = 0; x[3] = 19; }));
    expect(e).toMatchObject({ reason: 'bad-total-len', offset: 2 });
    // IHL 15 (60 bytes) with total length 32: also a bad total length, not an overrun.
    expect(error(edited(IP, (x) => { x[0] = 0x4f; })).reason).toBe('bad-total-len');
  });

  it('rejects a bad header checksum, naming the field and byte', () => {
    const b = IP.slice();
    b[8] = 63; // TTL changed, checksum not updated
    const e = error(b);
    expect(e).toMatchObject({ protocol: 'ipv4', reason: 'bad-checksum', offset: 10 });
    expect(e.message).toBe('ipv4: bad header checksum (byte 10)');
  });

  it('covers options in the checksum', () => {
    const b = IPV4_WITH_OPTIONS.slice();
    b[20] = 0x00;
    expect(error(b).reason).toBe('bad-checksum');
  });
});

describe('Ipv4Repr', () => {
  it('round trips the header', () => {
    const r = Ipv4Repr.parse(packet(IP));
    expect(r).toMatchObject({ protocol: IpProtocol.Icmp, payloadLen: 12, ttl: 64, ident: 0x1234, dontFrag: true, dscp: 0 });
    const out = new Uint8Array(r.bufferLen());
    r.emit(out);
    expect(out).toEqual(IP.subarray(0, 20));
  });

  it('drops options on parse (payloadLen excludes them)', () => {
    const r = Ipv4Repr.parse(packet(IPV4_WITH_OPTIONS));
    expect(r.payloadLen).toBe(2);
    expect(r.dontFrag).toBe(false);
  });

  it('emits defaults: TTL 64, DF, ident 0, valid checksum', () => {
    const r = new Ipv4Repr(parseIpv4('10.0.0.1')!, parseIpv4('10.0.0.2')!, IpProtocol.Udp, 8);
    const out = new Uint8Array(20);
    r.emit(out);
    expect(out).toEqual(
      hex(`
        45 00 00 1c   | v4 IHL 5, total 28
        00 00 40 00   | ident 0, DF
        40 11 26 cf   | TTL 64, UDP, checksum
        0a 00 00 01   | src
        0a 00 00 02   | dst
      `),
    );
    expect(internetChecksum(out)).toBe(0);
  });

  it('refuses an impossible payload length or a short buffer', () => {
    expect(() => new Ipv4Repr(0, 0, 17, 65516).emit(new Uint8Array(20))).toThrow(RangeError);
    expect(() => new Ipv4Repr(0, 0, 17, 0).emit(new Uint8Array(19))).toThrow(RangeError);
  });
});

describe('rewriteIpv4Fragment', () => {
  it('sets total length, offset and MF, clears DF, and leaves a valid checksum', () => {
    const buf = new Uint8Array(IPV4_HEADER_LEN + 16);
    new Ipv4Repr(parseIpv4('10.0.0.1')!, parseIpv4('10.0.0.2')!, IpProtocol.Udp, 100, 64, 0x77, true).emit(buf);
    rewriteIpv4Fragment(buf.subarray(0, IPV4_HEADER_LEN), IPV4_HEADER_LEN + 16, 1480, true);
    const p = Ipv4Packet.checked(buf);
    if (isWireError(p)) throw new Error(p.message);
    expect([p.totalLen(), p.fragOffset(), p.moreFrags(), p.dontFrag(), p.ident()]).toEqual([36, 1480, true, false, 0x77]);
    // Bytes 6-7: MF (0x2000) | 1480 / 8 = 185 (0x00b9).
    expect([buf[6], buf[7]]).toEqual([0x20, 0xb9]);
    rewriteIpv4Fragment(buf.subarray(0, IPV4_HEADER_LEN), IPV4_HEADER_LEN + 16, 0, false);
    const q = Ipv4Packet.checked(buf);
    if (isWireError(q)) throw new Error(q.message);
    expect(q.isFragment()).toBe(false);
  });

  it('refuses an offset that is not a multiple of 8 or does not fit 13 bits', () => {
    const h = new Uint8Array(IPV4_HEADER_LEN);
    expect(() => rewriteIpv4Fragment(h, 40, 12, false)).toThrow(RangeError);
    expect(() => rewriteIpv4Fragment(h, 40, 65536, false)).toThrow(RangeError);
    expect(() => rewriteIpv4Fragment(h, 10, 0, false)).toThrow(RangeError);
  });
});
