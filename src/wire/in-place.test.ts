// The in-place checks the switch runs on every frame (ethernetHeaderLen, ipv4Problem, arpProblem)
// say exactly what the views' checked() say, at any offset inside a larger buffer: the switch
// must accept and refuse the same frames as the guests' parsers, without making a view. And the
// guests' receive path, which points one reused view per protocol at an offset in the frame,
// sees exactly what a fresh view of the subarray sees; its emitters at an offset write exactly
// what the reprs write.
import { describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { ARP_REQUEST_FRAME, ICMP_ECHO_FRAME, IPV4_WITH_OPTIONS, UDP_VLAN_FRAME } from '../../test/fixtures/wire-frames.js';
import { ArpPacket, ArpProblem, arpProblem } from './arp.js';
import { isMulticastMac, isMulticastMacAt, isZeroMacAt, sameMacAt, writeMac } from './address.js';
import { copyBytes } from './bytes.js';
import { isWireError } from './error.js';
import { EthernetFrame, EthernetRepr, emitEthernetHeader, ethernetHeaderLen, payloadEtherType } from './ethernet.js';
import { Icmpv4Packet, Icmpv4Type, emitIcmpv4, emitIcmpv4Echo } from './icmpv4.js';
import { Ipv4Packet, Ipv4Problem, Ipv4Repr, emitIpv4Header, ipv4Problem } from './ipv4.js';
import { UdpPacket, UdpRepr, emitUdpHeader } from './udp.js';

const IPV4_REASON: Record<Ipv4Problem, string | undefined> = {
  [Ipv4Problem.None]: undefined,
  [Ipv4Problem.Truncated]: 'truncated',
  [Ipv4Problem.Version]: 'bad-version',
  [Ipv4Problem.HeaderLen]: 'bad-header-len',
  [Ipv4Problem.TotalLen]: 'bad-total-len',
  [Ipv4Problem.TruncatedPacket]: 'truncated',
  [Ipv4Problem.Checksum]: 'bad-checksum',
};

/** A sample, with a few of its bytes replaced and cut at some length, placed at `pad` in a larger buffer. */
const mangled = (sample: Uint8Array) =>
  fc.record({
    edits: fc.array(fc.tuple(fc.nat(sample.length - 1), fc.nat(255)), { maxLength: 2 }),
    len: fc.oneof(fc.constant(sample.length), fc.nat(sample.length + 4)), // whole, most often
    pad: fc.nat(6),
  }).map(({ edits, len, pad }) => {
    const body = new Uint8Array(len);
    body.set(sample.subarray(0, len));
    for (const [at, v] of edits) if (at < len) body[at] = v;
    const buf = new Uint8Array(pad + len + 5).fill(0x45); // bytes after `end` must not count
    buf.set(body, pad);
    return { buf, off: pad, end: pad + len, body };
  });

describe('in-place checks', () => {
  test.prop([fc.oneof(mangled(ICMP_ECHO_FRAME.subarray(14)), mangled(IPV4_WITH_OPTIONS.subarray(14)))], { numRuns: 2000 })('ipv4Problem agrees with Ipv4Packet.checked', ({ buf, off, end, body }) => {
    const view = Ipv4Packet.checked(body);
    const problem = ipv4Problem(buf, off, end);
    expect(IPV4_REASON[problem]).toBe(isWireError(view) ? view.reason : undefined);
    if (isWireError(view) && view.reason === 'truncated') expect(view.detail!.startsWith(problem === Ipv4Problem.Truncated ? 'truncated header' : 'truncated packet')).toBe(true);
  });

  test.prop([mangled(ARP_REQUEST_FRAME.subarray(14))], { numRuns: 2000 })('arpProblem agrees with ArpPacket.checked', ({ buf, off, end, body }) => {
    const view = ArpPacket.checked(body);
    const problem = arpProblem(buf, off, end);
    expect(problem === ArpProblem.None).toBe(!isWireError(view));
    if (isWireError(view)) expect(view.offset).toBe([NaN, body.length, 0, 2, 4, 5][problem]);
  });

  test.prop([fc.oneof(mangled(UDP_VLAN_FRAME), mangled(ICMP_ECHO_FRAME))], { numRuns: 1000 })('ethernetHeaderLen and payloadEtherType agree with EthernetFrame.checked', ({ body }) => {
    const view = EthernetFrame.checked(body);
    const len = ethernetHeaderLen(body);
    if (isWireError(view)) expect(len).toBe(0);
    else {
      expect(len).toBe(view.headerLen());
      expect(payloadEtherType(body, len)).toBe(view.etherType());
    }
  });

  it('finds the tagged and untagged header lengths and the inner EtherType', () => {
    expect(ethernetHeaderLen(UDP_VLAN_FRAME)).toBe(18);
    expect(payloadEtherType(UDP_VLAN_FRAME, 18)).toBe(0x0800);
    expect(ethernetHeaderLen(ICMP_ECHO_FRAME)).toBe(14);
    expect(ethernetHeaderLen(UDP_VLAN_FRAME.subarray(0, 17))).toBe(0);
    expect(ethernetHeaderLen(ICMP_ECHO_FRAME.subarray(0, 13))).toBe(0);
  });
});

/** Every accessor of an IPv4 view, as plain values. */
function ipv4Fields(p: Ipv4Packet) {
  return {
    version: p.version(), headerLen: p.headerLen(), dscp: p.dscp(), ecn: p.ecn(), totalLen: p.totalLen(), ident: p.ident(),
    dontFrag: p.dontFrag(), moreFrags: p.moreFrags(), fragOffset: p.fragOffset(), isFragment: p.isFragment(), ttl: p.ttl(),
    protocol: p.protocol(), checksum: p.checksum(), src: p.srcAddr(), dst: p.dstAddr(), options: [...p.options()], payload: [...p.payload()],
    buffer: [...p.buffer],
  };
}

describe('views at an offset, reused', () => {
  test.prop([fc.oneof(mangled(ICMP_ECHO_FRAME.subarray(14)), mangled(IPV4_WITH_OPTIONS.subarray(14)))], { numRuns: 1000 })('Ipv4Packet.checked(buf, off, reuse) reads what a view of the subarray reads', ({ buf, off, body }) => {
    // Bytes past `end` (0x45 filler) stand for link padding: a view of body + filler reads the same.
    const plain = Ipv4Packet.checked(buf.slice(off));
    const scratch = Ipv4Packet.scratch();
    const at = Ipv4Packet.checked(buf, off, scratch);
    expect(isWireError(at)).toBe(isWireError(plain));
    if (isWireError(at) || isWireError(plain)) {
      expect(at).toEqual(plain);
      return;
    }
    expect(at).toBe(scratch);
    expect(at.bytes).toBe(buf);
    expect(at.offset).toBe(off);
    expect(ipv4Fields(at)).toEqual(ipv4Fields(plain));
    expect(at.payloadEnd() - at.payloadStart()).toBe(plain.payload().length);
    expect([...buf.subarray(at.payloadStart(), at.payloadEnd())]).toEqual([...plain.payload()]);
    void body;
  });

  it('a reused view shows the last packet it was pointed at, and a refused one leaves it alone', () => {
    const scratch = Ipv4Packet.scratch();
    const a = Ipv4Packet.checked(ICMP_ECHO_FRAME, 14, scratch) as Ipv4Packet;
    const src = a.srcAddr();
    const b = Ipv4Packet.checked(IPV4_WITH_OPTIONS, 0, scratch) as Ipv4Packet;
    expect(b).toBe(a);
    expect(b.headerLen()).toBeGreaterThan(20); // now the one with options
    expect(isWireError(Ipv4Packet.checked(ICMP_ECHO_FRAME, 60, scratch))).toBe(true);
    expect(b.bytes).toBe(IPV4_WITH_OPTIONS);
    expect(Ipv4Packet.checked(ICMP_ECHO_FRAME, 14, scratch)).toBe(scratch);
    expect(scratch.srcAddr()).toBe(src);
    // An offset outside the buffer is a truncated packet, never a throw.
    expect(Ipv4Packet.checked(ICMP_ECHO_FRAME, -1)).toMatchObject({ reason: 'truncated' });
    expect(Ipv4Packet.checked(ICMP_ECHO_FRAME, ICMP_ECHO_FRAME.length + 5)).toMatchObject({ reason: 'truncated' });
  });

  test.prop([mangled(ICMP_ECHO_FRAME.subarray(34))], { numRuns: 1000 })('Icmpv4Packet.checked(buf, off, end, reuse) reads what a view of the subarray reads', ({ buf, off, end, body }) => {
    const plain = Icmpv4Packet.checked(body);
    const scratch = Icmpv4Packet.scratch();
    const at = Icmpv4Packet.checked(buf, off, end, scratch);
    if (isWireError(at) || isWireError(plain)) {
      expect(at).toEqual(plain);
      return;
    }
    expect(at).toBe(scratch);
    expect([at.offset, at.end, at.length, at.dataStart()]).toEqual([off, end, body.length, off + 8]);
    const fields = (p: Icmpv4Packet) => [p.msgType(), p.msgCode(), p.checksum(), p.echoIdent(), p.echoSeqNo(), p.nextHopMtu(), [...p.rest()], [...p.data()], [...p.buffer]];
    expect(fields(at)).toEqual(fields(plain));
  });

  it('Icmpv4Packet refuses a range outside its buffer as truncated', () => {
    const msg = ICMP_ECHO_FRAME.subarray(34);
    expect(Icmpv4Packet.checked(msg, 0, msg.length + 1)).toMatchObject({ reason: 'truncated' });
    expect(Icmpv4Packet.checked(msg, -2)).toMatchObject({ reason: 'truncated' });
    expect(Icmpv4Packet.checked(msg, 4, 2)).toMatchObject({ reason: 'truncated' });
  });

  test.prop([fc.oneof(mangled(UDP_VLAN_FRAME), mangled(ICMP_ECHO_FRAME))], { numRuns: 500 })('EthernetFrame.checked(buf, reuse) reads what a fresh view reads', ({ body }) => {
    const plain = EthernetFrame.checked(body);
    const scratch = EthernetFrame.scratch();
    const at = EthernetFrame.checked(body, scratch);
    if (isWireError(at) || isWireError(plain)) {
      expect(at).toEqual(plain);
      return;
    }
    expect(at).toBe(scratch);
    const fields = (f: EthernetFrame) => [f.dstAddr(), f.srcAddr(), f.etherType(), f.isTagged(), f.vlanId(), f.vlanPcp(), f.headerLen(), [...f.payload()]];
    expect(fields(at)).toEqual(fields(plain));
  });
});

describe('emitters at an offset', () => {
  test.prop([fc.nat(40), fc.nat(0xffff_ffff), fc.nat(0xffff_ffff), fc.nat(255), fc.nat(1400), fc.nat(255), fc.nat(0xffff), fc.boolean(), fc.nat(63)])(
    'emitIpv4Header writes what Ipv4Repr.emit writes, and nothing around it',
    (off, src, dst, protocol, payloadLen, ttl, ident, df, dscp) => {
      const want = new Uint8Array(20);
      new Ipv4Repr(src, dst, protocol, payloadLen, ttl, ident, df, dscp).emit(want);
      const buf = new Uint8Array(off + 24).fill(0xa5);
      emitIpv4Header(buf, off, src, dst, protocol, payloadLen, ttl, ident, df, dscp);
      expect([...buf.subarray(off, off + 20)]).toEqual([...want]);
      expect(buf.subarray(0, off).every((b) => b === 0xa5) && buf.subarray(off + 20).every((b) => b === 0xa5)).toBe(true);
    },
  );

  it('emitIpv4Header and emitEthernetHeader refuse a range they do not fit', () => {
    expect(() => emitIpv4Header(new Uint8Array(25), 6, 1, 2, 17, 0, 64, 0, true, 0)).toThrow(RangeError);
    expect(() => emitIpv4Header(new Uint8Array(40), 0, 1, 2, 17, 0xffff, 64, 0, true, 0)).toThrow(RangeError);
    expect(() => emitEthernetHeader(new Uint8Array(20), 7, 1, 2, 0x0800)).toThrow(RangeError);
    expect(() => emitIcmpv4Echo(new Uint8Array(20), 4, Icmpv4Type.EchoReply, 1, 2, 9)).toThrow(RangeError);
  });

  test.prop([fc.nat(20), fc.nat(0xffff_ffff_ffff), fc.nat(0xffff_ffff_ffff), fc.nat(0xffff)])('emitEthernetHeader writes what EthernetRepr.emit writes', (off, dst, src, type) => {
    const want = new Uint8Array(14);
    new EthernetRepr(dst, src, type).emit(want);
    const buf = new Uint8Array(off + 14);
    emitEthernetHeader(buf, off, dst, src, type);
    expect([...buf.subarray(off)]).toEqual([...want]);
  });

  test.prop([fc.nat(20), fc.boolean(), fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 300 })])('emitIcmpv4Echo behind data in place writes what emitIcmpv4 writes', (off, reply, ident, seqNo, data) => {
    const want = new Uint8Array(8 + data.length);
    emitIcmpv4({ kind: reply ? 'echo-reply' : 'echo-request', ident, seqNo, data }, want);
    const buf = new Uint8Array(off + 8 + data.length);
    buf.set(data, off + 8);
    emitIcmpv4Echo(buf, off, reply ? Icmpv4Type.EchoReply : Icmpv4Type.EchoRequest, ident, seqNo, data.length);
    expect([...buf.subarray(off)]).toEqual([...want]);
  });

  test.prop([fc.uint8Array({ maxLength: 700 }), fc.nat(8), fc.nat(8)])('copyBytes copies a run of any length, and nothing around it', (data, from, to) => {
    const src = new Uint8Array(from + data.length);
    src.set(data, from);
    const dst = new Uint8Array(to + data.length + 3).fill(7);
    copyBytes(dst, to, src, from, data.length);
    expect([...dst.subarray(to, to + data.length)]).toEqual([...data]);
    expect([...dst.subarray(0, to), ...dst.subarray(to + data.length)].every((b) => b === 7)).toBe(true);
  });
});

describe('MACs compared where they lie', () => {
  const mac = fc.oneof(fc.nat(0xffff_ffff_ffff), fc.constantFrom(0, 0xffff_ffff_ffff, 0x0100_5e00_0001, 0x02_4e_53_00_00_0a));
  test.prop([mac, mac, fc.nat(5), fc.nat(5)])('sameMacAt, isMulticastMacAt and isZeroMacAt say what the numbers say', (a, b, aOff, bOff) => {
    const x = new Uint8Array(aOff + 6);
    const y = new Uint8Array(bOff + 6);
    writeMac(x, aOff, a);
    writeMac(y, bOff, b);
    expect(sameMacAt(x, aOff, y, bOff)).toBe(a === b);
    expect(sameMacAt(x, aOff, x, aOff)).toBe(true);
    expect(isMulticastMacAt(x, aOff)).toBe(isMulticastMac(a));
    expect(isZeroMacAt(x, aOff)).toBe(a === 0);
  });

  it('tells MACs apart that differ in any one byte', () => {
    const a = new Uint8Array([2, 0x4e, 0x53, 0, 0, 0x0a]);
    for (let i = 0; i < 6; i++) {
      const b = a.slice();
      b[i]! ^= 0x10;
      expect(sameMacAt(a, 0, b, 0)).toBe(false);
      const z = new Uint8Array(6);
      z[i] = 1;
      expect(isZeroMacAt(z, 0)).toBe(false);
    }
  });
});

describe('UDP at an offset', () => {
  test.prop([mangled(UDP_VLAN_FRAME.subarray(38)), fc.boolean()], { numRuns: 1000 })('UdpPacket.checked(buf, src, dst, off, end, reuse) reads what a view of the subarray reads', ({ buf, off, end, body }, withSum) => {
    const src = withSum ? 0x0a4d0001 : undefined;
    const dst = withSum ? 0x0a4d000b : undefined;
    const plain = UdpPacket.checked(body, src, dst);
    const scratch = UdpPacket.scratch();
    const at = UdpPacket.checked(buf, src, dst, off, end, scratch);
    if (isWireError(at) || isWireError(plain)) {
      expect(at).toEqual(plain);
      return;
    }
    expect(at).toBe(scratch);
    expect([at.bytes, at.offset]).toEqual([buf, off]);
    const fields = (u: UdpPacket) => [u.srcPort(), u.dstPort(), u.len(), u.checksum(), [...u.payload()], [...u.buffer]];
    expect(fields(at)).toEqual(fields(plain));
  });

  test.prop([fc.nat(30), fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffff_ffff), fc.nat(0xffff_ffff), fc.uint8Array({ maxLength: 200 })])('emitUdpHeader writes what UdpRepr.emit writes', (off, sp, dp, src, dst, payload) => {
    const want = new Uint8Array(8 + payload.length);
    want.set(payload, 8);
    new UdpRepr(sp, dp).emit(want, src, dst);
    const buf = new Uint8Array(off + 8 + payload.length + 4).fill(3);
    buf.set(payload, off + 8);
    emitUdpHeader(buf, off, off + 8 + payload.length, sp, dp, src, dst);
    expect([...buf.subarray(off, off + 8 + payload.length)]).toEqual([...want]);
    expect([...buf.subarray(off + 8 + payload.length)]).toEqual([3, 3, 3, 3]);
    expect(() => emitUdpHeader(buf, off, off + 7, sp, dp, src, dst)).toThrow(RangeError);
    expect(() => emitUdpHeader(buf, off, buf.length + 1, sp, dp, src, dst)).toThrow(RangeError);
  });
});
