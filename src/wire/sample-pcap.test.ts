// Real frames: pcaps/sample.pcap, made by scripts/make-sample-pcap.sh between two namespaces
// (10.99.1.1 <-> 10.99.1.2): ARP, two pings, UDP to a closed port and its ICMP port unreachable,
// UDP "hi\n" to port 5000, and one 802.1Q (VLAN 42, PCP 5) ARP request.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ArpPacket, ArpRepr } from './arp.js';
import { internetChecksum } from './checksum.js';
import { describeFrame } from './describe.js';
import { isWireError } from './error.js';
import { EtherType, EthernetFrame, EthernetRepr } from './ethernet.js';
import { emitIcmpv4, Icmpv4Packet, icmpv4ReprLen, parseIcmpv4Repr } from './icmpv4.js';
import { IpProtocol, Ipv4Packet, Ipv4Repr } from './ipv4.js';
import { UdpPacket, UdpRepr } from './udp.js';

const LINKTYPE_ETHERNET = 1;

/** Frames of a classic pcap file (either byte order, micro- or nanosecond magic). */
function readPcap(file: Uint8Array): Uint8Array[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && view.getUint32(0, false) !== 0xa1b2c3d4 && view.getUint32(0, false) !== 0xa1b23c4d) {
    throw new Error(`not a pcap file (magic 0x${magic.toString(16)})`);
  }
  if (view.getUint32(20, little) !== LINKTYPE_ETHERNET) throw new Error('not an Ethernet capture');
  const frames: Uint8Array[] = [];
  for (let off = 24; off + 16 <= file.length; ) {
    const inclLen = view.getUint32(off + 8, little);
    off += 16;
    frames.push(file.subarray(off, off + inclLen));
    off += inclLen;
  }
  return frames;
}

/** Unwrap a checked() result, failing the test with the WireError's message. */
function ok<T>(x: T): Exclude<T, { reason: string }> {
  if (isWireError(x)) throw new Error(`unexpected WireError: ${x.message}`);
  return x as Exclude<T, { reason: string }>;
}

const frames = readPcap(new Uint8Array(readFileSync(new URL('../../pcaps/sample.pcap', import.meta.url))));

describe('pcaps/sample.pcap', () => {
  it('holds the exchange the script made', () => {
    expect(frames.map(describeFrame)).toEqual([
      '02:00:00:99:01:01 > ff:ff:ff:ff:ff:ff ARP who-has 10.99.1.2 tell 10.99.1.1',
      '02:00:00:99:01:02 > 02:00:00:99:01:01 ARP reply 10.99.1.2 is-at 02:00:00:99:01:02',
      expect.stringMatching(/^02:00:00:99:01:01 > 02:00:00:99:01:02 IPv4 10\.99\.1\.1 > 10\.99\.1\.2 ICMP echo request id \d+ seq 1$/),
      expect.stringMatching(/^02:00:00:99:01:02 > 02:00:00:99:01:01 IPv4 10\.99\.1\.2 > 10\.99\.1\.1 ICMP echo reply id \d+ seq 1$/),
      expect.stringMatching(/ICMP echo request id \d+ seq 2$/),
      expect.stringMatching(/ICMP echo reply id \d+ seq 2$/),
      expect.stringMatching(/^02:00:00:99:01:01 > 02:00:00:99:01:02 UDP 10\.99\.1\.1:\d+ > 10\.99\.1\.2:7 len 1$/),
      '02:00:00:99:01:02 > 02:00:00:99:01:01 IPv4 10.99.1.2 > 10.99.1.1 ICMP port unreachable',
      expect.stringMatching(/^02:00:00:99:01:01 > 02:00:00:99:01:02 UDP 10\.99\.1\.1:\d+ > 10\.99\.1\.2:5000 len 3$/),
      '02:00:00:99:01:01 > ff:ff:ff:ff:ff:ff vlan 42 p 5 ARP who-has 10.99.42.2 tell 10.99.42.1',
    ]);
  });

  it('every frame parses at every layer with no WireError, checksums verified', () => {
    const seen = { arp: 0, icmp: 0, udp: 0, vlan: 0 };
    for (const raw of frames) {
      const eth = ok(EthernetFrame.checked(raw));
      if (eth.vlanId() !== undefined) seen.vlan++;
      if (eth.etherType() === EtherType.Arp) {
        ok(ArpPacket.checked(eth.payload()));
        seen.arp++;
        continue;
      }
      expect(eth.etherType()).toBe(EtherType.Ipv4);
      const ip = ok(Ipv4Packet.checked(eth.payload()));
      if (ip.protocol() === IpProtocol.Icmp) {
        ok(Icmpv4Packet.checked(ip.payload()));
        seen.icmp++;
      } else {
        expect(ip.protocol()).toBe(IpProtocol.Udp);
        const udp = ok(UdpPacket.checked(ip.payload(), ip.srcAddr(), ip.dstAddr()));
        expect(udp.checksum()).not.toBe(0); // so the pseudo-header checksum was really verified
        seen.udp++;
      }
    }
    expect(seen).toEqual({ arp: 3, icmp: 5, udp: 2, vlan: 1 });
  });

  it('the port-unreachable quotes the offending datagram: a valid IPv4 header + 8 bytes', () => {
    const ip = ok(Ipv4Packet.checked(ok(EthernetFrame.checked(frames[7]!)).payload()));
    const r = parseIcmpv4Repr(ok(Icmpv4Packet.checked(ip.payload())));
    expect(r.kind).toBe('dst-unreachable');
    if (r.kind !== 'dst-unreachable') return;
    expect(r.original.length).toBeGreaterThanOrEqual(28);
    expect(internetChecksum(r.original.subarray(0, 20))).toBe(0);
    expect(r.original[9]).toBe(IpProtocol.Udp);
  });

  it('emit(parse(x)) reproduces every header byte for byte', () => {
    for (const raw of frames) {
      const eth = ok(EthernetFrame.checked(raw));
      const er = EthernetRepr.parse(eth);
      const ethOut = new Uint8Array(er.bufferLen());
      er.emit(ethOut);
      expect(ethOut).toEqual(raw.subarray(0, eth.headerLen()));

      if (eth.etherType() === EtherType.Arp) {
        const ar = ArpRepr.parse(ok(ArpPacket.checked(eth.payload())));
        const out = new Uint8Array(ar.bufferLen());
        ar.emit(out);
        expect(out).toEqual(eth.payload().subarray(0, ar.bufferLen()));
        continue;
      }
      const ip = ok(Ipv4Packet.checked(eth.payload()));
      const ir = Ipv4Repr.parse(ip);
      const ipOut = new Uint8Array(ir.bufferLen());
      ir.emit(ipOut);
      expect(ipOut).toEqual(eth.payload().subarray(0, ip.headerLen()));

      if (ip.protocol() === IpProtocol.Icmp) {
        const r = parseIcmpv4Repr(ok(Icmpv4Packet.checked(ip.payload())));
        const out = new Uint8Array(icmpv4ReprLen(r));
        emitIcmpv4(r, out);
        expect(out).toEqual(ip.payload());
      } else {
        const udp = ok(UdpPacket.checked(ip.payload(), ip.srcAddr(), ip.dstAddr()));
        const out = new Uint8Array(udp.len());
        out.set(udp.payload(), 8);
        UdpRepr.parse(udp).emit(out, ip.srcAddr(), ip.dstAddr());
        expect(out).toEqual(ip.payload());
      }
    }
  });
});
