import { describe, expect, it } from 'vitest';
import { ArpOperation, ArpRepr, EtherType, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, MAC_BROADCAST, isWireError } from '../wire/index.js';
import type { NetCounters, NetProtocol, ProtocolState, RxMeta, UdpDatagram } from './index.js';
import { NetStack, RX_DROP_REASONS, SocketKey } from './index.js';
import {
  ManualNow,
  QueuedWire,
  RecordingDevice,
  arpFrame,
  icmpBytes,
  ipv4Frame,
  udpBytes,
  udpFrame,
  ip,
  OUR_IP,
  OUR_MAC,
  PEER_MAC,
  PEER_IP,
  stackKnowingPeer,
} from './testing.js';
import { prng } from '../../test/prng.js';

const A_MAC = 0x02_4e_53_00_00_0a;
const A_IP = ip('10.77.0.10');
const B_MAC = 0x02_4e_53_00_00_0b;
const B_IP = ip('10.77.0.11');

function accounted(c: NetCounters): number {
  return c.rxHandled + RX_DROP_REASONS.reduce((s, r) => s + c.rxDropped[r], 0);
}


describe('NetStack: hostile bytes', () => {
  it('never throws on random or mutated frames, and accounts for every one', () => {
    const dev = new RecordingDevice();
    const clock = new ManualNow();
    const stack = new NetStack({ mac: A_MAC, ipv4: { addr: A_IP, prefixLen: 24 }, gateway: PEER_IP }, dev, clock.now);
    // An echo service, so that fuzzed datagrams that get through also exercise egress.
    stack.udpBind(7, (d: UdpDatagram) => stack.sendUdp(7, d.src, d.srcPort, d.payload));
    stack.onEchoReply(() => {});
    const rnd = prng(0x5eed);
    const byte = () => Math.floor(rnd() * 256);
    const seeds: Uint8Array[] = [
      arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, PEER_MAC, PEER_IP, 0, A_IP)),
      arpFrame(A_MAC, PEER_MAC, new ArpRepr(ArpOperation.Reply, PEER_MAC, PEER_IP, A_MAC, A_IP)),
      ipv4Frame(A_MAC, PEER_MAC, PEER_IP, A_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 2, data: new Uint8Array(24) })),
      ipv4Frame(A_MAC, PEER_MAC, PEER_IP, A_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-reply', ident: 1, seqNo: 2, data: new Uint8Array(3) })),
      udpFrame(A_MAC, PEER_MAC, PEER_IP, A_IP, 40000, 7, new Uint8Array(30)),
      udpFrame(A_MAC, PEER_MAC, PEER_IP, A_IP, 40000, 9, new Uint8Array(30)),
      udpFrame(MAC_BROADCAST, PEER_MAC, PEER_IP, ip('10.77.0.255'), 40000, 7, new Uint8Array(5)),
      ipv4Frame(A_MAC, PEER_MAC, PEER_IP, A_IP, IpProtocol.Tcp, new Uint8Array(20)),
      ipv4Frame(A_MAC, PEER_MAC, PEER_IP, A_IP, IpProtocol.Udp, udpBytes(PEER_IP, A_IP, 1, 7, new Uint8Array(0)), { vlanId: 0 }),
    ];
    // Under Stryker (npm run mutate) every mutant of the stack reruns this: a tenth is enough there.
    const N = process.env.STRYKER_MUTATOR_WORKER === undefined ? 5000 : 500;
    for (let i = 0; i < N; i++) {
      let f: Uint8Array;
      const kind = rnd();
      if (kind < 0.3) {
        // Pure noise, sometimes with our MAC so it gets past the address filter.
        f = Uint8Array.from({ length: Math.floor(rnd() * 120) }, byte);
        if (f.length >= 6 && rnd() < 0.7) f.set([0x02, 0x4e, 0x53, 0, 0, 0x0a]);
      } else {
        f = seeds[Math.floor(rnd() * seeds.length)]!.slice();
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) f[14 + Math.floor(rnd() * (f.length - 14))] = byte();
        // Half the time repair the IPv4 header checksum so the mutation reaches ICMP/UDP.
        if (rnd() < 0.5 && f[12] === 0x08 && f[13] === 0x00 && f.length >= 34) {
          const ihl = (f[14]! & 0xf) * 4;
          if (ihl >= 20 && 14 + ihl <= f.length) {
            f[24] = 0;
            f[25] = 0;
            let sum = 0;
            for (let j = 14; j < 14 + ihl; j += 2) sum += (f[j]! << 8) | f[j + 1]!;
            while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
            f[24] = (~sum >>> 8) & 0xff;
            f[25] = ~sum & 0xff;
          }
        }
        if (rnd() < 0.1) f = f.subarray(0, Math.floor(rnd() * f.length));
      }
      expect(() => stack.processFrame(f)).not.toThrow();
      if (i % 50 === 0) {
        clock.advance(300_000);
        stack.poll();
      }
    }
    const c = stack.counters;
    expect(c.rxFrames).toBe(N);
    expect(accounted(c)).toBe(N);
    // Mutation reached the deep paths.
    expect(c.rxHandled).toBeGreaterThan(N / 50);
    expect(c.rxDropped.malformed).toBeGreaterThan(N / 50);
    expect(c.udpRx + c.udpNoPort).toBeGreaterThan(N / 500);
    // Whatever we sent in answer is well-formed.
    for (const out of dev.frames) {
      const eth = EthernetFrame.checked(out);
      expect(isWireError(eth)).toBe(false);
      if (!isWireError(eth) && eth.etherType() === EtherType.Ipv4) expect(isWireError(Ipv4Packet.checked(eth.payload()))).toBe(false);
    }
  });
});

describe('NetStack: two stacks back to back', () => {
  function pair(sync: boolean) {
    const clock = new ManualNow();
    let a!: NetStack;
    let b!: NetStack;
    const toB = new QueuedWire((f) => b.processFrame(f));
    const toA = new QueuedWire((f) => a.processFrame(f));
    const devA = sync ? { transmit: (f: Uint8Array) => (b.processFrame(f), true) } : toB;
    const devB = sync ? { transmit: (f: Uint8Array) => (a.processFrame(f), true) } : toA;
    a = new NetStack({ mac: A_MAC, ipv4: { addr: A_IP, prefixLen: 24 } }, devA, clock.now);
    b = new NetStack({ mac: B_MAC, ipv4: { addr: B_IP, prefixLen: 24 } }, devB, clock.now);
    const pump = () => {
      let n = 0;
      for (let moved = 1; moved > 0; ) {
        moved = toB.pump() + toA.pump();
        n += moved;
        if (n > 1000) throw new Error('wire did not settle');
      }
      return n;
    };
    return { clock, a, b, pump };
  }

  it('resolve each other and exchange UDP, the first datagram queued behind ARP', () => {
    const { clock, a, b, pump } = pair(false);
    const atB: UdpDatagram[] = [];
    const atA: UdpDatagram[] = [];
    const echo = b.udpBind(7, (d) => {
      atB.push({ ...d, payload: d.payload.slice() });
      echo.send(d.src, d.srcPort, d.payload); // B learned A from A's ARP request: no ARP needed
    });
    const client = a.udpBind(0, (d) => atA.push({ ...d, payload: d.payload.slice() }));

    expect(client.send(B_IP, 7, new TextEncoder().encode('first'))).toBe(true);
    expect(atB).toHaveLength(0); // still waiting for ARP
    expect(a.pollAt()).toBe(clock.t + 1_000_000);
    pump();
    expect(atB.map((d) => new TextDecoder().decode(d.payload))).toEqual(['first']);
    expect(atB[0]).toMatchObject({ src: A_IP, srcPort: client.port, dst: B_IP, dstPort: 7 });
    expect(atA.map((d) => new TextDecoder().decode(d.payload))).toEqual(['first']);
    expect(atA[0]).toMatchObject({ src: B_IP, srcPort: 7, dst: A_IP, dstPort: client.port });

    expect(a.arp.lookup(B_IP, clock.t)).toBe(B_MAC);
    expect(b.arp.lookup(A_IP, clock.t)).toBe(A_MAC);
    expect(a.counters.arpRequestsTx).toBe(1);
    expect(b.counters.arpRequestsTx).toBe(0);
    expect(b.counters.arpRepliesTx).toBe(1);

    client.send(B_IP, 7, new TextEncoder().encode('second'));
    expect(pump()).toBe(2); // datagram and echo: nothing else on the wire
    expect(atA).toHaveLength(2);
    // Nothing left to retry: only the cache expiries.
    a.poll();
    expect(a.pollAt()).toBe(clock.t + 60_000_000);
    for (const s of [a, b]) {
      expect(Object.values(s.counters.txDropped).every((n) => n === 0)).toBe(true);
      expect(accounted(s.counters)).toBe(s.counters.rxFrames);
    }
  });

  it('works when the device delivers synchronously (re-entrant processFrame)', () => {
    const { a, b } = pair(true);
    const atB: string[] = [];
    b.udpBind(7, (d) => atB.push(new TextDecoder().decode(d.payload)));
    expect(a.sendUdp(5000, B_IP, 7, new TextEncoder().encode('one'))).toBe(true);
    expect(a.sendUdp(5000, B_IP, 7, new TextEncoder().encode('two'))).toBe(true);
    expect(atB).toEqual(['one', 'two']);
    expect(a.pollAt()).toBeGreaterThan(0);
    expect(a.counters.arpRequestsTx).toBe(1);
  });

  it('ping from one to the other', () => {
    const { a, pump } = pair(false);
    const replies: Array<[number, number, number]> = [];
    a.onEchoReply((src, ident, seq) => replies.push([src, ident, seq]));
    a.sendEchoRequest(B_IP, 0x77, 1, new Uint8Array(56));
    pump();
    a.sendEchoRequest(B_IP, 0x77, 2, new Uint8Array(56));
    pump();
    expect(replies).toEqual([
      [B_IP, 0x77, 1],
      [B_IP, 0x77, 2],
    ]);
  });
});

describe('NetStack: protocol modules (socket set, dispatch tables, timers)', () => {
  class Probe implements ProtocolState {
    at: number | undefined;
    polled: number[] = [];
    pollAt(): number | undefined {
      return this.at;
    }
    poll(now: number): void {
      this.polled.push(now);
    }
  }
  const PROBE = new SocketKey<Probe>('probe');
  const IPV6 = 0x86dd;

  function withProbe() {
    const s = stackKnowingPeer();
    const seen: Array<{ what: string; len: number; rx: RxMeta }> = [];
    const probe: NetProtocol = {
      name: 'probe',
      install(inner) {
        inner.sockets.add(PROBE, new Probe());
        // rx is the interface's, filled in again for the next frame: a handler that keeps it copies it.
        inner.etherTypes.register(IPV6, (_i, frame, off, rx) => seen.push({ what: 'ether', len: frame.length - off, rx: { srcMac: rx.srcMac, l2Group: rx.l2Group } }));
        inner.ipv4Protocols.register(IpProtocol.Tcp, (i, ipp, rx) => {
          i.handled();
          seen.push({ what: 'tcp', len: ipp.payload().length, rx: { srcMac: rx.srcMac, l2Group: rx.l2Group } });
        });
      },
    };
    s.stack.install(probe);
    return { ...s, seen, probe };
  }

  it('lists what runs: the base protocols, then those installed', () => {
    const { stack } = withProbe();
    expect(stack.protocols).toEqual(['arp', 'ipv4', 'icmp', 'udp', 'probe']);
    expect(stack.sockets.names()).toEqual(['arp', 'ipv4-reassembly', 'icmp', 'udp', 'probe']);
  });

  it('hands a registered EtherType its payload, with the link-layer facts', () => {
    const { stack, seen } = withProbe();
    const f = new Uint8Array(60);
    new EthernetRepr(MAC_BROADCAST, PEER_MAC, IPV6).emit(f);
    stack.processFrame(f);
    expect(seen).toEqual([{ what: 'ether', len: 46, rx: { srcMac: PEER_MAC, l2Group: true } }]);
    expect(stack.counters.rxDropped['unknown-ethertype']).toBe(0);
  });

  it('hands a registered IPv4 protocol its packet instead of answering protocol unreachable', () => {
    const { stack, dev, seen } = withProbe();
    stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Tcp, new Uint8Array(20)));
    expect(seen).toEqual([{ what: 'tcp', len: 20, rx: { srcMac: PEER_MAC, l2Group: false } }]);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['unknown-protocol']).toBe(0);
    expect(accounted(stack.counters)).toBe(stack.counters.rxFrames);
  });

  it("covers an installed protocol's timers in pollAt and poll", () => {
    const { stack, clock } = withProbe();
    const probe = stack.sockets.require(PROBE);
    const arpAt = stack.pollAt()!; // the peer's cache entry expires
    expect(arpAt).toBeGreaterThan(clock.t);
    probe.at = clock.t + 10;
    expect(stack.pollAt()).toBe(clock.t + 10);
    probe.at = arpAt + 10;
    expect(stack.pollAt()).toBe(arpAt);
    clock.advance(10);
    stack.poll();
    expect(probe.polled).toEqual([clock.t]);
  });

  it('refuses a module installed twice, or a number another module holds', () => {
    const { stack, probe } = withProbe();
    expect(() => stack.install(probe)).toThrow(/probe already installed/);
    const udpAgain: NetProtocol = { name: 'udp2', install: (inner) => inner.ipv4Protocols.register(IpProtocol.Udp, () => {}) };
    expect(() => stack.install(udpAgain)).toThrow(/IPv4 protocol 17 already has a handler/);
    const arpAgain: NetProtocol = { name: 'arp2', install: (inner) => inner.etherTypes.register(EtherType.Arp, () => {}) };
    expect(() => stack.install(arpAgain)).toThrow(/EtherType 2054 already has a handler/);
  });
});

describe('NetStack: link-layer checks', () => {
  it('drops a frame longer than the MTU plus an 802.1Q-tagged header, and takes one that long', () => {
    const { stack } = stackKnowingPeer({ mtu: 576 });
    stack.udpBind(9, () => {});
    // 576 of IP + 14 of Ethernet: the largest untagged frame (18 bytes of headroom counted for a tag).
    const max = udpFrame(OUR_MAC, PEER_MAC, PEER_IP, OUR_IP, 4000, 9, new Uint8Array(576 - 28));
    expect(max.length).toBe(590);
    stack.processFrame(max);
    const padded = new Uint8Array(576 + 18);
    padded.set(max);
    stack.processFrame(padded);
    expect(stack.counters.udpRx).toBe(2);
    const over = new Uint8Array(576 + 19);
    over.set(max);
    stack.processFrame(over);
    expect(stack.counters.rxDropped.oversize).toBe(1);
    expect(stack.counters.udpRx).toBe(2);
  });

  it('refuses a zero, group or own MAC as Ethernet source', () => {
    const { stack, dev } = stackKnowingPeer();
    for (const src of [0, 0x01_00_5e_00_00_01, MAC_BROADCAST, OUR_MAC]) {
      stack.processFrame(ipv4Frame(OUR_MAC, src, PEER_IP, OUR_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(4) })));
    }
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['bad-src']).toBe(4);
  });

  it('takes broadcast frames, and a unicast IP datagram only to our own MAC', () => {
    const { stack, dev } = stackKnowingPeer();
    stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, PEER_MAC, PEER_IP, 0, OUR_IP)));
    expect(dev.take()).toHaveLength(1);
    stack.processFrame(ipv4Frame(0x02_4e_53_00_00_0b, PEER_MAC, PEER_IP, OUR_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(4) })));
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['not-for-us']).toBe(1);
  });
});
