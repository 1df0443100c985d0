import { describe, expect, it } from 'vitest';
import {
  ArpOperation,
  ArpRepr,
  EthernetFrame,
  Icmpv4Packet,
  Icmpv4Type,
  IpProtocol,
  Ipv4Packet,
  MAC_BROADCAST,
  isWireError,
  parseIcmpv4Repr,
} from '../wire/index.js';
import type { Ipv4 } from '../wire/index.js';
import { NetStack } from './index.js';
import { IcmpSockets } from './icmp.js';
import { ManualNow, RecordingDevice, arpFrame, icmpBytes, ipv4Frame, ip, udpFrame, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP, stackKnowingPeer } from './testing.js';


const setup = stackKnowingPeer;

const DATA = Uint8Array.from({ length: 56 }, (_, i) => (i * 7 + 3) & 0xff); // ping's default 56 bytes

function echoRequest(dstIp: Ipv4, ethDst = OUR_MAC, seqNo = 1): Uint8Array {
  return ipv4Frame(ethDst, PEER_MAC, PEER_IP, dstIp, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 0xbeef, seqNo, data: DATA }));
}

function parseIcmpFrame(frame: Uint8Array) {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) throw new Error(eth.message);
  const ipp = Ipv4Packet.checked(eth.payload()); // verifies the header checksum
  if (isWireError(ipp)) throw new Error(ipp.message);
  const icmp = Icmpv4Packet.checked(ipp.payload()); // verifies the ICMP checksum
  if (isWireError(icmp)) throw new Error(icmp.message);
  return { eth, ip: ipp, icmp };
}

describe('ICMP echo', () => {
  it('answers an echo request with the same ident, seq and data, checksums valid', () => {
    const { dev, stack } = setup();
    stack.processFrame(echoRequest(OUR_IP, OUR_MAC, 42));
    const out = dev.take();
    expect(out).toHaveLength(1);
    expect(out[0]!.length).toBe(14 + 20 + 8 + 56);
    const { eth, ip: p, icmp } = parseIcmpFrame(out[0]!);
    expect(eth.dstAddr()).toBe(PEER_MAC);
    expect(eth.srcAddr()).toBe(OUR_MAC);
    expect(p.srcAddr()).toBe(OUR_IP);
    expect(p.dstAddr()).toBe(PEER_IP);
    expect(p.protocol()).toBe(IpProtocol.Icmp);
    expect(p.ttl()).toBe(64);
    expect(p.isFragment()).toBe(false);
    expect(icmp.msgType()).toBe(Icmpv4Type.EchoReply);
    expect(icmp.msgCode()).toBe(0);
    expect(icmp.echoIdent()).toBe(0xbeef);
    expect(icmp.echoSeqNo()).toBe(42);
    expect(Array.from(icmp.data())).toEqual(Array.from(DATA));
    expect(stack.counters.icmpEchoRequestsRx).toBe(1);
    expect(stack.counters.icmpEchoRepliesTx).toBe(1);
  });

  it('increments the IPv4 ident per packet', () => {
    const { dev, stack } = setup();
    stack.processFrame(echoRequest(OUR_IP, OUR_MAC, 1));
    stack.processFrame(echoRequest(OUR_IP, OUR_MAC, 2));
    const [a, b] = dev.take().map((f) => parseIcmpFrame(f).ip.ident());
    expect(b).toBe((a! + 1) & 0xffff);
  });

  it('does not answer a ping to the limited or the subnet broadcast', () => {
    const { dev, stack } = setup();
    stack.processFrame(echoRequest(ip('255.255.255.255'), MAC_BROADCAST));
    stack.processFrame(echoRequest(ip('10.77.0.255'), MAC_BROADCAST));
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['broadcast-echo']).toBe(2);
  });

  it('counts a bad ICMP checksum as malformed', () => {
    const { dev, stack } = setup();
    const f = echoRequest(OUR_IP);
    f[14 + 20 + 8] = f[14 + 20 + 8]! ^ 0xff; // flip a data byte: the ICMP checksum no longer holds
    stack.processFrame(f);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxMalformed['icmpv4:bad-checksum']).toBe(1);
  });

  it('hands echo replies to onEchoReply, and sendEchoRequest builds a valid request', () => {
    const { dev, stack } = setup();
    expect(stack.sendEchoRequest(PEER_IP, 7, 9, new Uint8Array([1, 2, 3]))).toBe(true);
    const { icmp } = parseIcmpFrame(dev.take()[0]!);
    expect(parseIcmpv4Repr(icmp)).toEqual({ kind: 'echo-request', ident: 7, seqNo: 9, data: new Uint8Array([1, 2, 3]) });
    const got: Array<[number, number, number, number[]]> = [];
    stack.onEchoReply((src, ident, seqNo, data) => got.push([src, ident, seqNo, Array.from(data)]));
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-reply', ident: 7, seqNo: 9, data: new Uint8Array([1, 2, 3]) })));
    expect(got).toEqual([[PEER_IP, 7, 9, [1, 2, 3]]]);
    stack.onEchoReply(undefined);
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-reply', ident: 7, seqNo: 10, data: new Uint8Array(0) })));
    expect(got).toHaveLength(1);
    expect(stack.counters.icmpEchoRepliesRx).toBe(2);
    expect(stack.counters.rxDropped.unsupported).toBe(1);
  });

  it('queues the reply behind ARP when the pinger is not cached', () => {
    const dev = new RecordingDevice();
    const clock = new ManualNow();
    const stack = new NetStack({ mac: OUR_MAC, ipv4: { addr: OUR_IP, prefixLen: 24 } }, dev, clock.now);
    stack.processFrame(echoRequest(OUR_IP));
    const req = dev.take();
    expect(req).toHaveLength(1); // the ARP request for the pinger
    stack.processFrame(arpFrame(OUR_MAC, PEER_MAC, new ArpRepr(ArpOperation.Reply, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP)));
    const out = dev.take();
    expect(out).toHaveLength(1);
    expect(parseIcmpFrame(out[0]!).eth.dstAddr()).toBe(PEER_MAC);
  });
});

describe('ICMP error token bucket', () => {
  it('allows a burst, then one token per interval, counted from the last refill', () => {
    const b = new IcmpSockets(3, 100, 0);
    expect([b.takeToken(0), b.takeToken(0), b.takeToken(0), b.takeToken(0)]).toEqual([true, true, true, false]);
    expect(b.takeToken(99)).toBe(false);
    expect(b.takeToken(100)).toBe(true);
    expect(b.takeToken(100)).toBe(false);
    // 250: one interval since 100 has passed; the next is due at 300, not 350.
    expect(b.takeToken(250)).toBe(true);
    expect(b.takeToken(299)).toBe(false);
    expect(b.takeToken(300)).toBe(true);
    // A long quiet time fills the bucket, never beyond the burst.
    expect([10_000, 10_000, 10_000, 10_000].map((t) => b.takeToken(t))).toEqual([true, true, true, false]);
    expect(b.pollAt()).toBeUndefined();
  });

  it('counts the next interval from the moment the bucket was last full', () => {
    const b = new IcmpSockets(1, 100, 0);
    expect(b.takeToken(1000)).toBe(true);
    expect(b.takeToken(1001)).toBe(false);
    expect(b.takeToken(1099)).toBe(false);
    expect(b.takeToken(1100)).toBe(true);
    // Refilled to full at 1250 (not at the 1200 the interval grid would say): next token at 1350.
    expect(b.takeToken(1250)).toBe(true);
    expect(b.takeToken(1320)).toBe(false);
    expect(b.takeToken(1350)).toBe(true);
  });
});

describe('ICMP errors: policy and size', () => {
  const closedPort = (payload: number, ethDst = OUR_MAC, dst = OUR_IP) => udpFrame(ethDst, PEER_MAC, PEER_IP, dst, 4000, 9, new Uint8Array(payload));

  it('quotes at most 548 bytes of the datagram, so the error fits in 576', () => {
    const { dev, stack } = setup();
    stack.processFrame(closedPort(1000));
    const { ip: ipp, icmp } = parseIcmpFrame(dev.take()[0]!);
    expect(ipp.totalLen()).toBe(576);
    const r = parseIcmpv4Repr(icmp);
    expect(r.kind === 'dst-unreachable' && r.original.length).toBe(548);
    stack.processFrame(closedPort(100));
    const small = parseIcmpv4Repr(parseIcmpFrame(dev.take()[0]!).icmp);
    expect(small.kind === 'dst-unreachable' && small.original.length).toBe(20 + 8 + 100);
    expect(stack.counters.icmpDstUnreachableTx).toBe(2);
  });

  it('sends none about a datagram to a broadcast address, even in a unicast frame', () => {
    const { dev, stack } = setup();
    stack.processFrame(closedPort(4, OUR_MAC, ip('10.77.0.255')));
    stack.processFrame(closedPort(4, MAC_BROADCAST, ip('255.255.255.255')));
    expect(stack.counters.rxDropped['udp-no-port']).toBe(2);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.icmpDstUnreachableTx).toBe(0);
  });

  it('acts on no received ICMP error', () => {
    const { dev, stack } = setup();
    const handled = stack.counters.rxHandled;
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, icmpBytes({ kind: 'dst-unreachable', code: 3, original: new Uint8Array(28) })));
    expect(stack.counters.rxDropped.unsupported).toBe(1);
    expect(stack.counters.rxHandled).toBe(handled);
    expect(dev.take()).toHaveLength(0);
    expect(stack.protocols).toContain('icmp');
  });
});
