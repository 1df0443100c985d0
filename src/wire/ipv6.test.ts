import { describe, expect, it } from 'vitest';
import { ECHO_REQUEST_FRAME, NS_FRAME } from '../../test/fixtures/ipv6-frames.js';
import { formatIpv6, parseIpv6, parseMac, type Ipv6 } from './address.js';
import { isWireError, WireError } from './error.js';
import {
  IPV6_HEADER_LEN,
  Ipv6NextHeader,
  Ipv6Packet,
  Ipv6Repr,
  ipv6PrefixMatch,
  isLinkLocalIpv6,
  isMulticastIpv6,
  linkLocalFromMac,
  multicastMacIpv6,
  pseudoHeaderSumV6,
  solicitedNode,
  withInterfaceId,
} from './ipv6.js';

const v6 = (s: string): Ipv6 => parseIpv6(s)!;

function packet(buf: Uint8Array): Ipv6Packet {
  const p = Ipv6Packet.checked(buf);
  if (isWireError(p)) throw new Error(p.message);
  return p;
}

describe('Ipv6Packet', () => {
  it('reads every field of a real echo request', () => {
    const p = packet(ECHO_REQUEST_FRAME.subarray(14));
    expect(p.trafficClass()).toBe(0);
    expect(p.flowLabel()).toBe(0x2647f);
    expect(p.payloadLen()).toBe(16);
    expect(p.nextHeader()).toBe(Ipv6NextHeader.Icmpv6);
    expect(p.hopLimit()).toBe(64);
    expect(formatIpv6(p.srcAddr())).toBe('fe80::ff:fe00:1');
    expect(formatIpv6(p.dstAddr())).toBe('fe80::ff:fe00:2');
    expect(p.payload().length).toBe(16);
    expect(p.payload()[0]).toBe(128);
  });

  it('ignores Ethernet padding past the payload length', () => {
    const padded = new Uint8Array(ECHO_REQUEST_FRAME.length - 14 + 10);
    padded.set(ECHO_REQUEST_FRAME.subarray(14));
    expect(packet(padded).payload().length).toBe(16);
  });

  it('refuses a short header, another version, and a payload length past the buffer', () => {
    const ip = ECHO_REQUEST_FRAME.subarray(14);
    const e1 = Ipv6Packet.checked(ip.subarray(0, 39)) as WireError;
    expect([e1.protocol, e1.reason]).toEqual(['ipv6', 'truncated']);
    const v4 = ip.slice();
    v4[0] = 0x45;
    expect((Ipv6Packet.checked(v4) as WireError).reason).toBe('bad-version');
    expect((Ipv6Packet.checked(ip.subarray(0, ip.length - 1)) as WireError).reason).toBe('truncated');
  });

  it('re-emits the header of a real packet byte for byte (flow label aside)', () => {
    const ip = NS_FRAME.subarray(14, 14 + IPV6_HEADER_LEN);
    const out = new Uint8Array(IPV6_HEADER_LEN);
    Ipv6Repr.parse(packet(NS_FRAME.subarray(14))).emit(out);
    expect(Array.from(out)).toEqual(Array.from(ip));
    expect(() => new Ipv6Repr(v6('::'), v6('::'), 58, 70000).emit(out)).toThrow(RangeError);
    expect(() => new Ipv6Repr(v6('::'), v6('::'), 58, 1).emit(out.subarray(0, 39))).toThrow(RangeError);
  });
});

describe('IPv6 addresses on a link', () => {
  it('derives the link-local address from a MAC (modified EUI-64: U/L bit flipped, ff:fe inserted)', () => {
    expect(formatIpv6(linkLocalFromMac(parseMac('02:00:00:00:00:01')!))).toBe('fe80::ff:fe00:1');
    expect(formatIpv6(linkLocalFromMac(parseMac('02:4e:53:00:00:0b')!))).toBe('fe80::4e:53ff:fe00:b');
    expect(formatIpv6(linkLocalFromMac(parseMac('00:1b:21:aa:bb:cc')!))).toBe('fe80::21b:21ff:feaa:bbcc');
  });

  it('joins a /64 prefix and an interface identifier', () => {
    expect(formatIpv6(withInterfaceId(v6('2001:db8:1:2::'), linkLocalFromMac(parseMac('02:4e:53:00:00:0b')!).slice(16)))).toBe('2001:db8:1:2:4e:53ff:fe00:b');
  });

  it('names solicited-node groups and their MACs', () => {
    const sn = solicitedNode(v6('fe80::4e:53ff:fe00:b'));
    expect(formatIpv6(sn)).toBe('ff02::1:ff00:b');
    expect(multicastMacIpv6(sn)).toBe(parseMac('33:33:ff:00:00:0b'));
    expect(multicastMacIpv6(v6('ff02::1'))).toBe(parseMac('33:33:00:00:00:01'));
  });

  it('classifies link-local and multicast, and matches prefixes bit by bit', () => {
    expect(isLinkLocalIpv6(v6('fe80::1'))).toBe(true);
    expect(isLinkLocalIpv6(v6('febf::1'))).toBe(true);
    expect(isLinkLocalIpv6(v6('fec0::1'))).toBe(false);
    expect(isMulticastIpv6(v6('ff02::1'))).toBe(true);
    expect(isMulticastIpv6(v6('fe80::1'))).toBe(false);
    expect(ipv6PrefixMatch(v6('2001:db8::1'), v6('2001:db8::2'), 64)).toBe(true);
    expect(ipv6PrefixMatch(v6('2001:db8:0:1::1'), v6('2001:db8::2'), 64)).toBe(false);
    expect(ipv6PrefixMatch(v6('2001:db8::'), v6('2001:db9::'), 31)).toBe(true);
    expect(ipv6PrefixMatch(v6('2001:db8::'), v6('2001:db9::'), 32)).toBe(false);
  });

  it('sums the pseudo-header as RFC 8200 8.1 lays it out', () => {
    // src ::1, dst ::2, length 0x10002, next header 58: 1 + 2 + 1 + 2 + 58.
    expect(pseudoHeaderSumV6(v6('::1'), v6('::2'), 58, 0x1_0002)).toBe(1 + 2 + 1 + 2 + 58);
  });
});
