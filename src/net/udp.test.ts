import { describe, expect, it } from 'vitest';
import {
  EthernetFrame,
  Icmpv4DstUnreachable,
  Icmpv4Packet,
  Icmpv4Type,
  IpProtocol,
  Ipv4Packet,
  MAC_BROADCAST,
  UdpPacket,
  isWireError,
} from '../wire/index.js';
import type { UdpDatagram } from './index.js';
import { UDP_SOCKETS } from './udp.js';
import { ipv4Frame, udpBytes, udpFrame, ip, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP, stackKnowingPeer } from './testing.js';

const HELLO = new TextEncoder().encode('hello, guest');

const setup = stackKnowingPeer;

function parseIp(frame: Uint8Array) {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) throw new Error(eth.message);
  const p = Ipv4Packet.checked(eth.payload());
  if (isWireError(p)) throw new Error(p.message);
  return { eth, ip: p };
}

describe('UDP ingress', () => {
  it('drops datagrams from or to port 0 before any socket or ICMP error sees them (the echo crash)', () => {
    const { dev, stack } = setup();
    const got: number[] = [];
    // An echo as the OS runs it: a reply to port 0 would have thrown here once.
    stack.udpBind(7, (d) => {
      got.push(d.srcPort);
      stack.sendUdp(7, d.src, d.srcPort, d.payload);
    });
    expect(() => stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 0, 7, HELLO))).not.toThrow();
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 4000, 0, HELLO)); // closed port 0: no port unreachable
    expect(got).toEqual([]);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['udp-port-zero']).toBe(2);
    expect(stack.counters.udpNoPort).toBe(0);
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 1, 7, HELLO));
    expect(got).toEqual([1]);
  });

  it('delivers a datagram to the bound socket', () => {
    const { stack } = setup();
    const got: UdpDatagram[] = [];
    stack.udpBind(7, (d) => got.push(d));
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 40000, 7, HELLO));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ src: PEER_IP, srcPort: 40000, dst: OUR_IP, dstPort: 7 });
    expect(new TextDecoder().decode(got[0]!.payload)).toBe('hello, guest');
    expect(stack.counters.udpRx).toBe(1);
  });

  it('delivers broadcasts too (DHCP, discovery), without answering them when closed', () => {
    const { dev, stack } = setup();
    const got: UdpDatagram[] = [];
    stack.udpBind(68, (d) => got.push(d));
    stack.processFrame(udpFrame(MAC_BROADCAST, PEER_MAC, PEER_IP, ip('255.255.255.255'), 67, 68, HELLO));
    stack.processFrame(udpFrame(MAC_BROADCAST, PEER_MAC, PEER_IP, ip('10.77.0.255'), 67, 69, HELLO));
    expect(got).toHaveLength(1);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.udpNoPort).toBe(1);
  });

  it('verifies the checksum; accepts a zero (absent) one', () => {
    const { stack } = setup();
    const got: UdpDatagram[] = [];
    stack.udpBind(7, (d) => got.push(d));
    const l4 = udpBytes(PEER_IP, OUR_IP, 40000, 7, HELLO);
    l4[8] = l4[8]! ^ 1;
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Udp, l4));
    expect(got).toHaveLength(0);
    expect(stack.counters.rxMalformed['udp:bad-checksum']).toBe(1);
    l4[6] = 0;
    l4[7] = 0;
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Udp, l4));
    expect(got).toHaveLength(1);
  });

  it('answers a closed port with ICMP port unreachable quoting the datagram', () => {
    const { dev, stack } = setup();
    const req = udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 40000, 9999, HELLO);
    stack.processFrame(req);
    const out = dev.take();
    expect(out).toHaveLength(1);
    const { eth, ip: p } = parseIp(out[0]!);
    expect(eth.dstAddr()).toBe(PEER_MAC);
    expect(p.srcAddr()).toBe(OUR_IP);
    expect(p.dstAddr()).toBe(PEER_IP);
    expect(p.protocol()).toBe(IpProtocol.Icmp);
    const icmp = Icmpv4Packet.checked(p.payload());
    if (isWireError(icmp)) throw new Error(icmp.message);
    expect(icmp.msgType()).toBe(Icmpv4Type.DstUnreachable);
    expect(icmp.msgCode()).toBe(Icmpv4DstUnreachable.PortUnreachable);
    const quoted = req.subarray(14, 14 + 20 + 8 + HELLO.length);
    expect(Array.from(icmp.data())).toEqual(Array.from(quoted));
    expect(stack.counters.udpNoPort).toBe(1);
    expect(stack.counters.rxDropped['udp-no-port']).toBe(1);
    expect(stack.counters.icmpDstUnreachableTx).toBe(1);
  });

  it('rate-limits port unreachables with a token bucket', () => {
    const { dev, clock, stack } = setup({ icmpErrorBurst: 3, icmpErrorIntervalUs: 1000 });
    const probe = udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 40000, 9999, HELLO);
    for (let i = 0; i < 10; i++) stack.processFrame(probe);
    expect(dev.take()).toHaveLength(3);
    expect(stack.counters.icmpErrorsRateLimited).toBe(7);
    expect(stack.counters.udpNoPort).toBe(10);
    clock.advance(999);
    stack.processFrame(probe);
    expect(dev.take()).toHaveLength(0);
    clock.advance(1);
    stack.processFrame(probe);
    stack.processFrame(probe);
    expect(dev.take()).toHaveLength(1); // one token back per interval
    clock.advance(1_000_000);
    for (let i = 0; i < 10; i++) stack.processFrame(probe);
    expect(dev.take()).toHaveLength(3); // refilled to the burst, not beyond
  });
});

describe('UDP sockets and egress', () => {
  it('sends a datagram with valid checksums to the resolved MAC', () => {
    const { dev, stack } = setup();
    const sock = stack.udpBind(5000, () => {});
    expect(sock.send(PEER_IP, 7, HELLO)).toBe(true);
    const out = dev.take();
    expect(out).toHaveLength(1);
    const { eth, ip: p } = parseIp(out[0]!);
    expect(eth.dstAddr()).toBe(PEER_MAC);
    expect(p.protocol()).toBe(IpProtocol.Udp);
    expect(p.dontFrag()).toBe(true);
    const u = UdpPacket.checked(p.payload(), p.srcAddr(), p.dstAddr()); // verifies the checksum
    if (isWireError(u)) throw new Error(u.message);
    expect(u.checksum()).not.toBe(0);
    expect(u.srcPort()).toBe(5000);
    expect(u.dstPort()).toBe(7);
    expect(Array.from(u.payload())).toEqual(Array.from(HELLO));
    expect(stack.counters.udpTx).toBe(1);
  });

  it('sends to the subnet broadcast at MAC_BROADCAST without ARP', () => {
    const { dev, stack } = setup();
    expect(stack.sendUdp(5000, ip('10.77.0.255'), 9, HELLO)).toBe(true);
    const out = dev.take();
    expect(out).toHaveLength(1);
    expect(parseIp(out[0]!).eth.dstAddr()).toBe(MAC_BROADCAST);
  });

  it('fragments datagrams over the MTU, refuses ones over 65535 bytes, and counts tx-full', () => {
    const { dev, stack } = setup();
    expect(stack.sendUdp(5000, PEER_IP, 7, new Uint8Array(1472))).toBe(true);
    expect(dev.take()).toHaveLength(1);
    expect(stack.sendUdp(5000, PEER_IP, 7, new Uint8Array(1473))).toBe(true);
    expect(dev.take()).toHaveLength(2);
    expect(stack.sendUdp(5000, PEER_IP, 7, new Uint8Array(65_508))).toBe(false);
    expect(stack.counters.txDropped['too-big']).toBe(1);
    dev.accept = false;
    expect(stack.sendUdp(5000, PEER_IP, 7, HELLO)).toBe(false);
    expect(stack.counters.txDropped['tx-full']).toBe(1);
  });

  it('binds, refuses a port in use, hands out ephemeral ports, frees on close', () => {
    const { stack } = setup();
    const a = stack.udpBind(7, () => {});
    expect(a.port).toBe(7);
    expect(() => stack.udpBind(7, () => {})).toThrow('udp port 7 in use');
    expect(() => stack.udpBind(70000, () => {})).toThrow(RangeError);
    const e1 = stack.udpBind(0, () => {});
    const e2 = stack.udpBind(0, () => {});
    expect(e1.port).toBeGreaterThanOrEqual(49152);
    expect(e2.port).not.toBe(e1.port);
    a.close();
    const b = stack.udpBind(7, () => {});
    a.close(); // a stale close must not unbind the new owner
    const got: number[] = [];
    b.close();
    stack.udpBind(7, (d) => got.push(d.srcPort));
    stack.processFrame(udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 1234, 7, HELLO));
    expect(got).toEqual([1234]);
    expect(a.send(PEER_IP, 7, HELLO)).toBe(false);
    // Sending never throws on a port: 0 or out of range is a counted drop.
    for (const [sp, dp] of [[5000, 0], [0, 7], [5000, 70000], [-1, 7], [1.5, 7], [5000, NaN]] as const) {
      expect(stack.sendUdp(sp, PEER_IP, dp, HELLO)).toBe(false);
    }
    expect(stack.counters.txDropped['bad-port']).toBe(6);
    expect(stack.sendUdp(65535, PEER_IP, 1, HELLO)).toBe(true);
  });
});

describe('UDP ports', () => {
  it('refuses to bind a port out of 0..65535 by name, and binds 65535', () => {
    const { stack } = setup();
    expect(() => stack.udpBind(-1, () => {})).toThrow(new RangeError('udp port -1 out of range 0..65535'));
    expect(() => stack.udpBind(65536, () => {})).toThrow(new RangeError('udp port 65536 out of range 0..65535'));
    expect(() => stack.udpBind(7.5, () => {})).toThrow(RangeError);
    expect(stack.udpBind(65535, () => {}).port).toBe(65535);
  });

  it('hands out ephemeral ports in turn, skipping bound ones, wrapping at 65535, until none is free', () => {
    const { stack } = setup();
    stack.udpBind(49153, () => {});
    expect([stack.udpBind(0, () => {}).port, stack.udpBind(0, () => {}).port]).toEqual([49152, 49154]);
    const all = [];
    for (let p = 49155; p <= 65535; p++) all.push(stack.udpBind(0, () => {}).port);
    expect(all.at(-1)).toBe(65535);
    expect(() => stack.udpBind(0, () => {})).toThrow(new Error('udp: no free ephemeral port'));
    // The one port freed is found, even when it is the last one the scan reaches.
    stack.sockets.require(UDP_SOCKETS).ports.delete(65535);
    expect(stack.udpBind(0, () => {}).port).toBe(65535);
    stack.sockets.require(UDP_SOCKETS).ports.delete(50000);
    expect(stack.udpBind(0, () => {}).port).toBe(50000);
  });

  it('finds the one free ephemeral port even when it is the last the scan reaches', () => {
    const { stack } = setup();
    for (let p = 49152; p < 65535; p++) stack.udpBind(p, () => {});
    expect(stack.udpBind(0, () => {}).port).toBe(65535);
  });

  it('counts only the datagrams the device took', () => {
    const { dev, stack } = setup();
    expect(stack.sendUdp(5000, PEER_IP, 7, HELLO)).toBe(true);
    expect(stack.counters.udpTx).toBe(1);
    dev.accept = false;
    expect(stack.sendUdp(5000, PEER_IP, 7, HELLO)).toBe(false);
    expect(stack.counters.udpTx).toBe(1);
  });
});
