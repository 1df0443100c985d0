// Hostile bytes never throw: random, truncated and bit-flipped buffers through every checked()
// and describeFrame, with invariants on what comes back. Seeded, so failures reproduce.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARP_REQUEST_FRAME, concat, hex, ICMP_ECHO_FRAME, IPV4_WITH_OPTIONS, UDP_VLAN_FRAME } from '../../test/fixtures/wire-frames.js';
import { ArpPacket, ArpRepr } from './arp.js';
import { internetChecksum } from './checksum.js';
import { describeFrame } from './describe.js';
import { isWireError, WireError } from './error.js';
import { EthernetFrame, EthernetRepr } from './ethernet.js';
import { emitIcmpv4, Icmpv4Packet, icmpv4ReprLen, parseIcmpv4Repr } from './icmpv4.js';
import { Ipv4Packet, Ipv4Repr } from './ipv4.js';
import { UdpPacket, UdpRepr } from './udp.js';
import { VxlanPacket, VxlanRepr } from './vxlan.js';
import { Ipv6Packet, Ipv6Repr, pseudoHeaderSumV6 } from './ipv6.js';
import { DhcpPacket, dhcpReprLen, emitDhcp, parseDhcpRepr } from './dhcp.js';
import { Icmpv6Packet, emitIcmpv6, icmpv6ReprLen, parseIcmpv6Repr } from './icmpv6.js';
import { DAD_NS_FRAME, ECHO_REQUEST_FRAME, NA_FRAME, NS_FRAME, RS_FRAME } from '../../test/fixtures/ipv6-frames.js';
import { prng as rng } from '../../test/prng.js';


function isInside(view: Uint8Array, buf: Uint8Array): boolean {
  return view.buffer === buf.buffer && view.byteOffset >= buf.byteOffset && view.byteOffset + view.length <= buf.byteOffset + buf.length;
}

function checkError(e: WireError, buf: Uint8Array): void {
  expect(e.offset).toBeGreaterThanOrEqual(0);
  expect(e.offset).toBeLessThanOrEqual(buf.length);
  expect(e.message).toMatch(/^[a-z0-9]+: .+ \(byte \d+\)$/);
}

/** Run `buf` through every parser, exercising every accessor and repr on success. */
function exercise(buf: Uint8Array): void {
  expect(typeof describeFrame(buf)).toBe('string');

  const eth = EthernetFrame.checked(buf);
  if (isWireError(eth)) checkError(eth, buf);
  else {
    expect(isInside(eth.payload(), buf)).toBe(true);
    eth.dstAddr();
    eth.srcAddr();
    eth.etherType();
    const r = EthernetRepr.parse(eth);
    r.emit(new Uint8Array(r.bufferLen()));
  }

  const arp = ArpPacket.checked(buf);
  if (isWireError(arp)) checkError(arp, buf);
  else ArpRepr.parse(arp).emit(new Uint8Array(28));

  const ip = Ipv4Packet.checked(buf);
  if (isWireError(ip)) checkError(ip, buf);
  else {
    expect(isInside(ip.payload(), buf)).toBe(true);
    expect(ip.payload().length).toBe(ip.totalLen() - ip.headerLen());
    expect(ip.options().length).toBe(ip.headerLen() - 20);
    expect(internetChecksum(buf.subarray(0, ip.headerLen()))).toBe(0);
    ip.isFragment();
    ip.fragOffset();
    const r = Ipv4Repr.parse(ip);
    r.emit(new Uint8Array(20));
    exerciseL4(ip.payload(), ip.srcAddr(), ip.dstAddr());
  }
  exerciseL4(buf);

  const dhcp = DhcpPacket.checked(buf);
  if (isWireError(dhcp)) checkError(dhcp, buf);
  else {
    const r = parseDhcpRepr(dhcp);
    if (isWireError(r)) checkError(r, buf);
    else emitDhcp(r, new Uint8Array(dhcpReprLen(r)));
  }

  const ip6 = Ipv6Packet.checked(buf);
  if (isWireError(ip6)) checkError(ip6, buf);
  else {
    expect(isInside(ip6.payload(), buf)).toBe(true);
    expect(ip6.payload().length).toBe(ip6.payloadLen());
    Ipv6Repr.parse(ip6).emit(new Uint8Array(40));
    exerciseIcmpv6(ip6);
  }
}

/** ICMPv6 with its checksum made right, so the mutated body reaches the NDP parsers. */
function exerciseIcmpv6(ip6: Ipv6Packet): void {
  const body = ip6.payload().slice();
  const src = ip6.srcAddr();
  const dst = ip6.dstAddr();
  if (body.length >= 4) {
    body[2] = 0;
    body[3] = 0;
    const c = internetChecksum(body, pseudoHeaderSumV6(src, dst, 58, body.length));
    body[2] = c >>> 8;
    body[3] = c & 0xff;
  }
  const p = Icmpv6Packet.checked(body, src, dst);
  if (isWireError(p)) return checkError(p, body);
  const r = parseIcmpv6Repr(p);
  if (isWireError(r)) return checkError(r, body);
  const out = new Uint8Array(icmpv6ReprLen(r));
  emitIcmpv6(r, out, src, dst);
  expect(internetChecksum(out, pseudoHeaderSumV6(src, dst, 58, out.length))).toBe(0);
}

function exerciseL4(buf: Uint8Array, src?: number, dst?: number): void {
  const icmp = Icmpv4Packet.checked(buf);
  if (isWireError(icmp)) checkError(icmp, buf);
  else {
    expect(isInside(icmp.data(), buf)).toBe(true);
    const r = parseIcmpv4Repr(icmp);
    const out = new Uint8Array(icmpv4ReprLen(r));
    emitIcmpv4(r, out);
    expect(internetChecksum(out)).toBe(0);
  }
  const udp = UdpPacket.checked(buf, src, dst);
  if (isWireError(udp)) checkError(udp, buf);
  else {
    expect(isInside(udp.payload(), buf)).toBe(true);
    expect(udp.payload().length).toBe(udp.len() - 8);
    const out = new Uint8Array(udp.len());
    UdpRepr.parse(udp).emit(out, src ?? 0, dst ?? 0);
  }
  const vx = VxlanPacket.checked(buf);
  if (isWireError(vx)) checkError(vx, buf);
  else {
    expect(isInside(vx.payload(), buf)).toBe(true);
    expect(vx.vni()).toBeLessThanOrEqual(0xffffff);
    VxlanRepr.parse(vx).emit(new Uint8Array(8));
  }
}

function pcapFrames(): Uint8Array[] {
  const file = new Uint8Array(readFileSync(new URL('../../pcaps/sample.pcap', import.meta.url)));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const little = view.getUint32(0, true) === 0xa1b2c3d4;
  const frames: Uint8Array[] = [];
  for (let off = 24; off + 16 <= file.length; off += 16 + view.getUint32(off + 8, little)) {
    frames.push(file.subarray(off + 16, off + 16 + view.getUint32(off + 8, little)));
  }
  return frames;
}

const ETH_IPV4 = hex('02 00 00 00 00 02 | dst\n 02 00 00 00 00 01 | src\n 08 00 | IPv4');
const SEEDS: Uint8Array[] = [
  ARP_REQUEST_FRAME,
  ICMP_ECHO_FRAME,
  UDP_VLAN_FRAME,
  concat(ETH_IPV4, IPV4_WITH_OPTIONS),
  ...[DAD_NS_FRAME, ECHO_REQUEST_FRAME, NA_FRAME, NS_FRAME, RS_FRAME].map((f) => f.subarray(14)),
  ...pcapFrames(),
];

/** Recompute an IPv4 header checksum at `ipOff` so mutations reach the layers above. */
function fixIpChecksum(frame: Uint8Array, ipOff: number): void {
  const ihl = ((frame[ipOff] ?? 0) & 0x0f) * 4;
  if (ihl < 20 || ipOff + ihl > frame.length) return;
  frame[ipOff + 10] = 0;
  frame[ipOff + 11] = 0;
  const c = internetChecksum(frame.subarray(ipOff, ipOff + ihl));
  frame[ipOff + 10] = c >>> 8;
  frame[ipOff + 11] = c & 0xff;
}

describe('fuzz: nothing throws on hostile bytes', () => {
  it('random buffers of every small length', () => {
    const next = rng(1);
    for (let i = 0; i < 3000; i++) {
      const buf = new Uint8Array(Math.floor(next() * 120));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(next() * 256);
      exercise(buf);
    }
  });

  it('every truncation of every seed frame, and of its payloads', () => {
    for (const seed of SEEDS) {
      for (let n = 0; n <= seed.length; n++) {
        exercise(seed.subarray(0, n));
        exercise(seed.subarray(seed.length - n)); // suffixes start mid-header
      }
    }
  });

  it('bit flips and byte stores, with the IPv4 checksum sometimes repaired', () => {
    const next = rng(2);
    for (let i = 0; i < 4000; i++) {
      const seed = SEEDS[Math.floor(next() * SEEDS.length)]!;
      const buf = seed.slice(0, Math.max(0, seed.length - Math.floor(next() * 4)));
      const edits = 1 + Math.floor(next() * 3);
      for (let e = 0; e < edits && buf.length > 0; e++) {
        const at = Math.floor(next() * buf.length);
        if (next() < 0.5) buf[at]! ^= 1 << Math.floor(next() * 8);
        else buf[at] = Math.floor(next() * 256);
      }
      if (next() < 0.5) fixIpChecksum(buf, buf[12] === 0x81 ? 18 : 14);
      exercise(buf);
      // Also as a bare IP packet, the way net/ will see it after the Ethernet layer.
      exercise(buf.subarray(buf[12] === 0x81 ? 18 : 14));
    }
  });

  it('extreme header fields: IHL 15, total length 0xffff, UDP length 0xffff, zero-length buffers', () => {
    const ip = ICMP_ECHO_FRAME.slice(14);
    for (const [at, v] of [[0, 0x4f], [2, 0xff], [3, 0xff], [0, 0x00], [0, 0xff]] as const) {
      const b = ip.slice();
      b[at] = v;
      fixIpChecksum(b, 0);
      exercise(b);
    }
    const udp = UDP_VLAN_FRAME.slice(18 + 20);
    udp[4] = 0xff;
    udp[5] = 0xff;
    exercise(udp);
    exercise(new Uint8Array(0));
    exercise(new Uint8Array(65_600).fill(0xff));
  });
});
