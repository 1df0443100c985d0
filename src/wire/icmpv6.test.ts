import { describe, expect, it } from 'vitest';
import { DAD_NS_FRAME, ECHO_REPLY_FRAME, ECHO_REQUEST_FRAME, NA_FRAME, NS_FRAME, RS_FRAME } from '../../test/fixtures/ipv6-frames.js';
import { formatIpv6, parseIpv6, parseMac, type Ipv6 } from './address.js';
import { isWireError, WireError } from './error.js';
import { Icmpv6Packet, Icmpv6Type, emitIcmpv6, icmpv6ReprLen, parseIcmpv6Repr, type Icmpv6Repr } from './icmpv6.js';
import { Ipv6Packet } from './ipv6.js';

const v6 = (s: string): Ipv6 => parseIpv6(s)!;

function icmp(frame: Uint8Array): { ip: Ipv6Packet; msg: Icmpv6Packet; repr: Icmpv6Repr } {
  const ip = Ipv6Packet.checked(frame.subarray(14));
  if (isWireError(ip)) throw new Error(ip.message);
  const msg = Icmpv6Packet.checked(ip.payload(), ip.srcAddr(), ip.dstAddr());
  if (isWireError(msg)) throw new Error(msg.message);
  const repr = parseIcmpv6Repr(msg);
  if (isWireError(repr)) throw new Error(repr.message);
  return { ip, msg, repr };
}

/** Emit `repr` with the packet's addresses and compare with the captured bytes. */
function reemits(frame: Uint8Array): void {
  const { ip, repr } = icmp(frame);
  const out = new Uint8Array(icmpv6ReprLen(repr));
  emitIcmpv6(repr, out, ip.srcAddr(), ip.dstAddr());
  expect(Buffer.from(out).toString('hex')).toBe(Buffer.from(ip.payload()).toString('hex'));
}

describe('ICMPv6 from real captures', () => {
  it('parses an echo request and reply and re-emits them (checksum over the pseudo-header)', () => {
    const { repr } = icmp(ECHO_REQUEST_FRAME);
    expect(repr).toMatchObject({ kind: 'echo-request', ident: 0x54bd, seqNo: 1 });
    if (repr.kind !== 'echo-request') throw new Error('kind');
    expect(Array.from(repr.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(icmp(ECHO_REPLY_FRAME).repr.kind).toBe('echo-reply');
    reemits(ECHO_REQUEST_FRAME);
    reemits(ECHO_REPLY_FRAME);
  });

  it('parses a DAD probe, keeping the nonce option it does not know as raw bytes', () => {
    const { repr } = icmp(DAD_NS_FRAME);
    if (repr.kind !== 'neighbor-solicit') throw new Error(repr.kind);
    expect(formatIpv6(repr.target)).toBe('fe80::ff:fe00:1');
    expect(repr.options).toHaveLength(1);
    expect(repr.options[0]).toMatchObject({ kind: 'other', type: 14 });
    reemits(DAD_NS_FRAME);
  });

  it('parses NS, NA and RS with their link-layer address options, and re-emits them', () => {
    const ns = icmp(NS_FRAME).repr;
    expect(ns).toEqual({ kind: 'neighbor-solicit', target: v6('fe80::ff:fe00:2'), options: [{ kind: 'source-lladdr', mac: parseMac('02:00:00:00:00:01') }] });
    const na = icmp(NA_FRAME).repr;
    expect(na).toEqual({
      kind: 'neighbor-advert',
      router: false,
      solicited: true,
      override: true,
      target: v6('fe80::ff:fe00:2'),
      options: [{ kind: 'target-lladdr', mac: parseMac('02:00:00:00:00:02') }],
    });
    expect(icmp(RS_FRAME).repr).toEqual({ kind: 'router-solicit', options: [{ kind: 'source-lladdr', mac: parseMac('02:00:00:00:00:01') }] });
    for (const f of [NS_FRAME, NA_FRAME, RS_FRAME]) reemits(f);
  });
});

describe('ICMPv6 refusals', () => {
  const src = v6('fe80::1');
  const dst = v6('ff02::1');
  const build = (r: Icmpv6Repr): Uint8Array => {
    const b = new Uint8Array(icmpv6ReprLen(r));
    emitIcmpv6(r, b, src, dst);
    return b;
  };

  it('refuses a bad checksum, including one computed for other addresses', () => {
    const b = build({ kind: 'echo-request', ident: 1, seqNo: 2, data: new Uint8Array(4) });
    expect(isWireError(Icmpv6Packet.checked(b, src, dst))).toBe(false);
    expect((Icmpv6Packet.checked(b, src, v6('ff02::2')) as WireError).reason).toBe('bad-checksum');
    b[8] ^= 1;
    expect((Icmpv6Packet.checked(b, src, dst) as WireError).reason).toBe('bad-checksum');
    expect((Icmpv6Packet.checked(b.subarray(0, 3), src, dst) as WireError).reason).toBe('truncated');
  });

  it('refuses a zero-length option, an option past the end, and a short NS', () => {
    const ns = build({ kind: 'neighbor-solicit', target: src, options: [{ kind: 'source-lladdr', mac: 2 }] });
    const zero = ns.slice();
    zero[25] = 0; // option length 0
    const long = ns.slice();
    long[25] = 2; // 16 bytes, only 8 there
    for (const [b, reason] of [
      [zero, 'bad-length'],
      [long, 'truncated'],
      [ns.subarray(0, 20), 'truncated'],
    ] as const) {
      const fixed = b.slice();
      fixed[2] = 0;
      fixed[3] = 0;
      emitChecksumOnly(fixed);
      const p = Icmpv6Packet.checked(fixed, src, dst);
      if (isWireError(p)) throw new Error(p.message);
      const r = parseIcmpv6Repr(p);
      expect(isWireError(r) && r.reason).toBe(reason);
    }
  });

  it('passes NDP with a non-zero code and unknown types on as other', () => {
    const b = build({ kind: 'other', type: Icmpv6Type.NeighborSolicit, code: 1, rest: new Uint8Array(20) });
    const p = Icmpv6Packet.checked(b, src, dst);
    if (isWireError(p)) throw new Error(p.message);
    expect(parseIcmpv6Repr(p)).toMatchObject({ kind: 'other', type: 135, code: 1 });
  });

  it('round-trips a router advertisement with prefix, MTU and source link-layer options', () => {
    const ra: Icmpv6Repr = {
      kind: 'router-advert',
      curHopLimit: 64,
      managed: false,
      other: true,
      routerLifetime: 1800,
      reachableTime: 30_000,
      retransTimer: 1000,
      options: [
        { kind: 'source-lladdr', mac: parseMac('02:aa:bb:cc:dd:01')! },
        { kind: 'mtu', mtu: 1500 },
        { kind: 'prefix-info', prefixLen: 64, onLink: true, autonomous: true, validLifetime: 0xffffffff, preferredLifetime: 604800, prefix: v6('2001:db8:77::') },
      ],
    };
    const b = build(ra);
    expect(b.length).toBe(16 + 8 + 8 + 32);
    // Prefix option: type 3, length 4, prefix length 64, flags L|A.
    expect(Array.from(b.subarray(32, 36))).toEqual([3, 4, 64, 0xc0]);
    const p = Icmpv6Packet.checked(b, src, dst);
    if (isWireError(p)) throw new Error(p.message);
    expect(parseIcmpv6Repr(p)).toEqual(ra);
  });

  /** Recompute the checksum after an edit (so only the edit is wrong). */
  function emitChecksumOnly(b: Uint8Array): void {
    const r: Icmpv6Repr = { kind: 'other', type: b[0]!, code: b[1]!, rest: b.slice(4) };
    emitIcmpv6(r, b, src, dst);
  }
});
