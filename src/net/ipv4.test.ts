import { describe, expect, it } from 'vitest';
import { EthernetFrame, Icmpv4DstUnreachable, Icmpv4Packet, IpProtocol, Ipv4Packet, MAC_BROADCAST, isWireError } from '../wire/index.js';
import { NetStack } from './index.js';
import type { RxDropReason } from './index.js';
import { ManualNow, RecordingDevice, fragmentFrame, icmpBytes, ipv4Frame, udpFrame, ip, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP, stackKnowingPeer } from './testing.js';

const ECHO = icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) });

const setup = stackKnowingPeer;

describe('IPv4 ingress', () => {
  it('drops what is not addressed to us, at L2 and at L3', () => {
    const { dev, stack } = setup();
    stack.processFrame(ipv4Frame(0x02_00_00_00_00_99, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO)); // other MAC
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, ip('10.77.0.11'), IpProtocol.Icmp, ECHO)); // other IP
    stack.processFrame(ipv4Frame(MAC_BROADCAST, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO)); // RFC 1122 3.3.6
    stack.processFrame(ipv4Frame(0x01_00_5e_00_00_01, PEER_MAC, PEER_IP, ip('224.0.0.1'), IpProtocol.Icmp, ECHO)); // no groups joined
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['not-for-us']).toBe(3);
    expect(stack.counters.rxDropped['multicast-not-joined']).toBe(1);
  });

  it('a DF-only packet is not a fragment', () => {
    const { dev, stack } = setup();
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO, { flagsFrag: 0x4000 }));
    expect(dev.take()).toHaveLength(1);
    expect(stack.counters.ipv4FragmentsRx).toBe(0);
  });

  it('drops martian sources by name and answers none of them, by any protocol', () => {
    const { dev, stack } = setup();
    stack.udpBind(7, (d) => stack.sendUdp(7, d.src, d.srcPort, d.payload));
    const cases: Array<[string, string]> = [
      ['0.0.0.0', 'src-unspecified'],
      ['255.255.255.255', 'src-broadcast'],
      ['10.77.0.255', 'src-broadcast'],
      ['224.0.0.5', 'src-multicast'],
      ['239.255.255.250', 'src-multicast'],
      ['127.0.0.1', 'src-loopback'],
      ['127.255.0.9', 'src-loopback'],
      ['10.77.0.10', 'src-self'],
      ['0.0.0.1', 'src-reserved'],
      ['240.0.0.1', 'src-reserved'],
    ];
    for (const [src, reason] of cases) {
      const before = stack.counters.rxDropped[reason as RxDropReason];
      stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, ip(src), OUR_IP, IpProtocol.Icmp, ECHO)); // echo request
      stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, ip(src), OUR_IP, 4000, 7, new Uint8Array(4))); // UDP echo
      stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, ip(src), OUR_IP, 4000, 9, new Uint8Array(4))); // port unreachable
      stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, ip(src), OUR_IP, 99, new Uint8Array(4))); // protocol unreachable
      expect([src, stack.counters.rxDropped[reason as RxDropReason] - before]).toEqual([src, 4]);
    }
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.udpRx + stack.counters.icmpEchoRequestsRx).toBe(0);
    // The edges of each range are hosts: answered.
    for (const src of ['1.0.0.0', '126.255.255.255', '128.0.0.1', '223.255.255.255', '10.77.0.254']) {
      stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, ip(src), OUR_IP, 4000, 7, new Uint8Array(4)));
    }
    expect(stack.counters.udpRx).toBe(5);
  });

  it('has no directed broadcast on a /31 or /32 (RFC 3021): the top address there is a host', () => {
    const { stack } = setup({ ipv4: { addr: ip('10.77.0.10'), prefixLen: 31 } });
    stack.udpBind(7, () => {});
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, ip('10.77.0.11'), OUR_IP, 4000, 7, new Uint8Array(4)));
    expect(stack.counters.udpRx).toBe(1);
  });

  it('counts a bad header checksum and a truncated packet by WireError reason', () => {
    const { stack } = setup();
    const f = ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO);
    f[14 + 8] = 1; // TTL changed, checksum not
    stack.processFrame(f);
    stack.processFrame(f.subarray(0, 14 + 10));
    expect(stack.counters.rxMalformed).toEqual({ 'ipv4:bad-checksum': 1, 'ipv4:truncated': 1 });
    expect(stack.counters.rxDropped.malformed).toBe(2);
  });

  it('answers an unknown protocol (TCP, for now) with protocol unreachable, not when broadcast', () => {
    const { dev, stack } = setup();
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Tcp, new Uint8Array(20)));
    const out = dev.take();
    expect(out).toHaveLength(1);
    const eth = EthernetFrame.checked(out[0]!);
    if (isWireError(eth)) throw new Error(eth.message);
    const p = Ipv4Packet.checked(eth.payload());
    if (isWireError(p)) throw new Error(p.message);
    const icmp = Icmpv4Packet.checked(p.payload());
    if (isWireError(icmp)) throw new Error(icmp.message);
    expect(icmp.msgCode()).toBe(Icmpv4DstUnreachable.ProtocolUnreachable);
    stack.processFrame(ipv4Frame(MAC_BROADCAST, PEER_MAC, PEER_IP, ip('255.255.255.255'), 99, new Uint8Array(4)));
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['unknown-protocol']).toBe(2);
  });

  it('drops other EtherTypes and non-zero VLANs by name', () => {
    const { stack } = setup();
    const v6 = new Uint8Array(60);
    v6.set([0x02, 0x4e, 0x53, 0, 0, 0x0a], 0);
    v6.set([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01], 6);
    v6.set([0x86, 0xdd], 12);
    stack.processFrame(v6);
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 1, 2, new Uint8Array(1)).subarray(0, 13));
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO, { vlanId: 77 }));
    expect(stack.counters.rxDropped['unknown-ethertype']).toBe(1);
    expect(stack.counters.rxMalformed['ethernet:truncated']).toBe(1);
    expect(stack.counters.rxDropped.vlan).toBe(1);
  });
});

describe('IPv4 egress routing', () => {
  it('maps multicast groups to 01:00:5e MACs and refuses unroutable destinations', () => {
    const { dev, stack } = setup();
    expect(stack.sendUdp(5000, ip('239.1.2.3'), 9, new Uint8Array(1))).toBe(true);
    const eth = EthernetFrame.checked(dev.take()[0]!);
    if (isWireError(eth)) throw new Error(eth.message);
    expect(eth.dstAddr()).toBe(0x01_00_5e_01_02_03);
    for (const d of ['0.0.0.0', '127.0.0.1', '10.77.0.10', '240.0.0.1']) expect(stack.sendUdp(5000, ip(d), 9, new Uint8Array(1))).toBe(false);
    expect(stack.counters.txDropped['no-route']).toBe(4);
  });

  it('has no subnet broadcast on a /31 (RFC 3021)', () => {
    const dev = new RecordingDevice();
    const clock = new ManualNow();
    const s = new NetStack({ mac: OUR_MAC, ipv4: { addr: ip('10.0.0.0'), prefixLen: 31 } }, dev, clock.now);
    s.sendUdp(5000, ip('10.0.0.1'), 9, new Uint8Array(1));
    const eth = EthernetFrame.checked(dev.take()[0]!);
    if (isWireError(eth)) throw new Error(eth.message);
    expect(eth.etherType()).toBe(0x0806); // an ARP request: 10.0.0.1 is a host here
  });

  it('rejects an invalid configuration', () => {
    const dev = new RecordingDevice();
    const now = () => 0;
    expect(() => new NetStack({ mac: MAC_BROADCAST, ipv4: { addr: OUR_IP, prefixLen: 24 } }, dev, now)).toThrow(RangeError);
    expect(() => new NetStack({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 33 } }, dev, now)).toThrow(RangeError);
  });
});

/** Every IPv4 packet in `frames`, checked. */
function ipPackets(frames: Uint8Array[]): Ipv4Packet[] {
  return frames.map((f) => {
    const eth = EthernetFrame.checked(f);
    if (isWireError(eth)) throw new Error(eth.message);
    const p = Ipv4Packet.checked(eth.payload());
    if (isWireError(p)) throw new Error(p.message);
    return p;
  });
}

describe('IPv4 fragments', () => {
  // `ping -s 4000`: 4008 bytes of ICMP in three fragments of 1480, 1480 and 1048 bytes.
  const BIG = icmpBytes({ kind: 'echo-request', ident: 7, seqNo: 1, data: Uint8Array.from({ length: 4000 }, (_, i) => i & 0xff) });
  const pieces = (ident = 0x4242): Uint8Array[] => [
    fragmentFrame(PEER_IP, IpProtocol.Icmp, BIG, 0, 1480, true, ident),
    fragmentFrame(PEER_IP, IpProtocol.Icmp, BIG, 1480, 1480, true, ident),
    fragmentFrame(PEER_IP, IpProtocol.Icmp, BIG, 2960, 1048, false, ident),
  ];

  it('answers a 4000-byte ping sent as fragments with a reply cut to the MTU', () => {
    const { dev, stack } = setup();
    const handledBefore = stack.counters.rxHandled;
    const [a, b, c] = pieces();
    stack.processFrame(c!);
    stack.processFrame(a!);
    expect(dev.take()).toHaveLength(0);
    stack.processFrame(b!);
    const out = ipPackets(dev.take());
    expect(out.map((p) => [p.fragOffset(), p.payload().length, p.moreFrags(), p.dontFrag()])).toEqual([
      [0, 1480, true, false],
      [1480, 1480, true, false],
      [2960, 1048, false, false],
    ]);
    expect(new Set(out.map((p) => p.ident())).size).toBe(1);
    for (const p of out) expect(p.totalLen()).toBeLessThanOrEqual(1500);
    // Glued back together, the reply is a valid echo reply carrying the same 4000 bytes.
    const l4 = new Uint8Array(4008);
    for (const p of out) l4.set(p.payload(), p.fragOffset());
    const reply = Icmpv4Packet.checked(l4);
    if (isWireError(reply)) throw new Error(reply.message);
    expect(reply.msgType()).toBe(0);
    expect(Array.from(l4.subarray(8))).toEqual(Array.from(BIG.subarray(8)));
    const c0 = stack.counters;
    expect([c0.ipv4FragmentsRx, c0.ipv4Reassembled, c0.ipv4Fragmented, c0.ipv4FragmentsTx, c0.icmpEchoRepliesTx]).toEqual([3, 1, 1, 3, 1]);
    // One outcome per frame: two held fragments are handled, the third carries the echo.
    expect(c0.rxHandled - handledBefore).toBe(3);
  });

  it('drops an overlapping fragment by name and forgets the datagram', () => {
    const { dev, stack } = setup();
    const [a, b, c] = pieces();
    stack.processFrame(a!);
    stack.processFrame(fragmentFrame(PEER_IP, IpProtocol.Icmp, BIG, 1472, 16, true));
    expect(stack.counters.rxDropped['frag-overlap']).toBe(1);
    stack.processFrame(b!);
    stack.processFrame(c!);
    expect(dev.take()).toHaveLength(0); // the first fragment went with the dropped datagram
  });

  it('asks to be polled at the reassembly deadline and drops the datagram there', () => {
    const { dev, clock, stack } = setup({ arpTtlUs: 3600_000_000 });
    const [a] = pieces();
    const t0 = clock.t;
    stack.processFrame(a!);
    expect(stack.pollAt()).toBe(t0 + 30_000_000);
    clock.advance(30_000_000);
    stack.poll();
    expect(stack.counters.ipv4ReassemblyTimeouts).toBe(1);
    const [, b, c] = pieces();
    stack.processFrame(b!);
    stack.processFrame(c!);
    expect(dev.take()).toHaveLength(0);
  });

  it('refuses to send a datagram larger than 65535 bytes', () => {
    const { stack } = setup();
    expect(stack.sendUdp(9, PEER_IP, 9, new Uint8Array(65_535 - 28 + 1))).toBe(false);
    expect(stack.counters.txDropped['too-big']).toBe(1);
    expect(stack.sendUdp(9, PEER_IP, 9, new Uint8Array(65_535 - 28))).toBe(true);
    expect(stack.counters.ipv4FragmentsTx).toBe(45);
  });
});
