import { describe, expect, it } from 'vitest';
import { EthernetFrame, Icmpv4DstUnreachable, Icmpv4Packet, IpProtocol, Ipv4Packet, MAC_BROADCAST, isWireError } from '../wire/index.js';
import { NetStack } from './index.js';
import { ManualNow, RecordingDevice, icmpBytes, ipv4Frame, udpFrame, ip, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP, stackKnowingPeer } from './testing.js';

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
    expect(stack.counters.rxDropped['not-for-us']).toBe(4);
  });

  it('drops fragments (no reassembly), first or later', () => {
    const { dev, stack } = setup();
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO, { flagsFrag: 0x2000 })); // MF
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO, { flagsFrag: 0x0003 })); // offset 24
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped.fragment).toBe(2);
    // DF alone is not a fragment.
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, ECHO, { flagsFrag: 0x4000 }));
    expect(dev.take()).toHaveLength(1);
  });

  it('drops martian sources', () => {
    const { dev, stack } = setup();
    for (const src of ['127.0.0.1', '224.0.0.5', '255.255.255.255', '10.77.0.255', '10.77.0.10']) {
      stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, ip(src), OUR_IP, IpProtocol.Icmp, ECHO));
    }
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['bad-src']).toBe(5);
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
