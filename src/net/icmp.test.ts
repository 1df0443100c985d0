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
import { ManualNow, RecordingDevice, arpFrame, icmpBytes, ipv4Frame, ip, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP, stackKnowingPeer } from './testing.js';


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
