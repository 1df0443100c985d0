import { describe, expect, it } from 'vitest';
import { ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, IpProtocol, Ipv4Packet, MAC_BROADCAST, isWireError } from '../wire/index.js';
import type { Ipv4 } from '../wire/index.js';
import { DEFEND_INTERVAL_US } from './index.js';
import type { NetEvent } from './index.js';
import { arpFrame, icmpBytes, ip, ipv4Frame, OUR_MAC, OUR_IP, PEER_MAC, PEER_IP, newStack } from './testing.js';

const S = 1_000_000;
const OTHER_IP = ip('10.77.0.20');

const setup = newStack;

function parseArpFrame(frame: Uint8Array) {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) throw new Error(eth.message);
  const arp = ArpPacket.checked(eth.payload());
  if (isWireError(arp)) throw new Error(arp.message);
  return { eth, arp };
}

const request = (senderMac: number, senderIp: Ipv4, targetIp: Ipv4) =>
  arpFrame(MAC_BROADCAST, senderMac, new ArpRepr(ArpOperation.Request, senderMac, senderIp, 0, targetIp));

describe('ARP ingress', () => {
  it('answers a request for our address with a unicast reply, every field right', () => {
    const { dev, stack } = setup();
    stack.processFrame(request(PEER_MAC, PEER_IP, OUR_IP));
    const out = dev.take();
    expect(out).toHaveLength(1);
    const frame = out[0]!;
    expect(frame.length).toBe(60); // 14 + 28, padded to the Ethernet minimum
    const { eth, arp } = parseArpFrame(frame);
    expect(eth.dstAddr()).toBe(PEER_MAC);
    expect(eth.srcAddr()).toBe(OUR_MAC);
    expect(eth.etherType()).toBe(EtherType.Arp);
    expect(eth.vlanId()).toBeUndefined();
    expect(arp.operation()).toBe(ArpOperation.Reply);
    expect(arp.senderHwAddr()).toBe(OUR_MAC);
    expect(arp.senderProtoAddr()).toBe(OUR_IP);
    expect(arp.targetHwAddr()).toBe(PEER_MAC);
    expect(arp.targetProtoAddr()).toBe(PEER_IP);
    // htype 1, ptype 0x0800, hlen 6, plen 4 (ArpPacket.checked verified them), zero padding after.
    expect(Array.from(frame.subarray(14, 20))).toEqual([0, 1, 8, 0, 6, 4]);
    expect(frame.subarray(42).every((b) => b === 0)).toBe(true);
    expect(stack.counters.arpRequestsRx).toBe(1);
    expect(stack.counters.arpRepliesTx).toBe(1);
    expect(stack.counters.rxHandled).toBe(1);
  });

  it('learns the requester (RFC 826: the target inserts the sender)', () => {
    const { clock, stack } = setup();
    stack.processFrame(request(PEER_MAC, PEER_IP, OUR_IP));
    expect(stack.arp.lookup(PEER_IP, clock.t)).toBe(PEER_MAC);
    expect(stack.arp.entries(clock.t)).toEqual([{ ip: PEER_IP, mac: PEER_MAC, expiresAt: clock.t + 60 * S }]);
  });

  it('ignores a request for someone else and does not learn from it', () => {
    const { dev, clock, stack } = setup();
    stack.processFrame(request(PEER_MAC, PEER_IP, OTHER_IP));
    expect(dev.take()).toHaveLength(0);
    expect(stack.arp.lookup(PEER_IP, clock.t)).toBeUndefined();
    expect(stack.counters.rxDropped['not-for-us']).toBe(1);
  });

  it('updates a known sender from any ARP packet (gratuitous ARP from others)', () => {
    const { dev, clock, stack } = setup();
    stack.processFrame(request(PEER_MAC, PEER_IP, OUR_IP));
    dev.take();
    const NEW_MAC = 0x02_aa_bb_cc_dd_99;
    clock.advance(10 * S);
    stack.processFrame(request(NEW_MAC, PEER_IP, PEER_IP)); // gratuitous: sender = target
    expect(dev.take()).toHaveLength(0);
    expect(stack.arp.entries(clock.t)).toEqual([{ ip: PEER_IP, mac: NEW_MAC, expiresAt: clock.t + 60 * S }]);
    expect(stack.counters.rxHandled).toBe(2);
  });

  it('learns from a reply addressed to us, not from one between others', () => {
    const { clock, stack } = setup();
    stack.processFrame(arpFrame(OUR_MAC, PEER_MAC, new ArpRepr(ArpOperation.Reply, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP)));
    expect(stack.arp.lookup(PEER_IP, clock.t)).toBe(PEER_MAC);
    stack.processFrame(arpFrame(MAC_BROADCAST, 0x02_00_00_00_00_07, new ArpRepr(ArpOperation.Reply, 0x02_00_00_00_00_07, ip('10.77.0.7'), PEER_MAC, PEER_IP)));
    expect(stack.arp.has(ip('10.77.0.7'))).toBe(false);
    expect(stack.counters.arpRepliesRx).toBe(2);
  });

  it('expires an entry after arpTtlUs', () => {
    const { clock, stack } = setup({ arpTtlUs: 5 * S });
    stack.processFrame(request(PEER_MAC, PEER_IP, OUR_IP));
    expect(stack.pollAt()).toBe(clock.t + 5 * S);
    clock.advance(5 * S - 1);
    stack.poll();
    expect(stack.arp.lookup(PEER_IP, clock.t)).toBe(PEER_MAC);
    clock.advance(1);
    stack.poll();
    expect(stack.arp.size).toBe(0);
    expect(stack.pollAt()).toBeUndefined();
  });

  it('counts a conflict when another MAC claims our address, defends it once per DEFEND_INTERVAL, neither learns nor answers', () => {
    const { dev, clock, stack } = setup();
    const events: NetEvent[] = [];
    stack.onEvent((e) => events.push(e));
    stack.processFrame(request(PEER_MAC, OUR_IP, OUR_IP));
    // RFC 5227 2.4 (b): one gratuitous ARP (an announcement of our own binding).
    const defence = dev.take();
    expect(defence).toHaveLength(1);
    const { eth, arp } = parseArpFrame(defence[0]!);
    expect([eth.dstAddr(), eth.srcAddr(), arp.operation(), arp.senderHwAddr(), arp.senderProtoAddr(), arp.targetProtoAddr()]).toEqual([
      MAC_BROADCAST, OUR_MAC, ArpOperation.Request, OUR_MAC, OUR_IP, OUR_IP,
    ]);
    // Within DEFEND_INTERVAL: counted and reported, not defended again.
    clock.advance(DEFEND_INTERVAL_US - 1);
    stack.processFrame(request(PEER_MAC, OUR_IP, PEER_IP));
    expect(dev.take()).toHaveLength(0);
    clock.advance(1);
    stack.processFrame(request(PEER_MAC, OUR_IP, PEER_IP));
    expect(dev.take()).toHaveLength(1);
    expect(stack.counters.arpConflicts).toBe(3);
    expect(stack.counters.arpDefences).toBe(2);
    expect(stack.counters.rxDropped['arp-conflict']).toBe(3);
    expect(events.map((e) => [e.kind, e.ip, e.mac, e.defended])).toEqual([
      ['arp-conflict', OUR_IP, PEER_MAC, true],
      ['arp-conflict', OUR_IP, PEER_MAC, false],
      ['arp-conflict', OUR_IP, PEER_MAC, true],
    ]);
    expect(events[2]!.at).toBe(clock.t);
    expect(stack.arp.size).toBe(0);
    // An undefended conflict still counts when no one listens.
    stack.onEvent(undefined);
    stack.processFrame(request(PEER_MAC, OUR_IP, PEER_IP));
    expect(stack.counters.arpConflicts).toBe(4);
    expect(events).toHaveLength(3);
  });

  it('a defence the device refused still starts DEFEND_INTERVAL, and is not counted as sent', () => {
    const { dev, clock, stack } = setup();
    dev.accept = false;
    stack.processFrame(request(PEER_MAC, OUR_IP, OUR_IP));
    expect(stack.counters.arpDefences).toBe(0);
    expect(stack.counters.txDropped['tx-full']).toBe(1);
    dev.accept = true;
    clock.advance(1);
    stack.processFrame(request(PEER_MAC, OUR_IP, OUR_IP));
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.arpConflicts).toBe(2);
  });

  it('requires the sender MAC to be the Ethernet source, so no one binds an address to another MAC', () => {
    const { dev, stack } = setup();
    const VICTIM_MAC = 0x02_4e_53_00_00_0b;
    // The peer asks for us in the victim's name: answering would teach us PEER_IP -> VICTIM_MAC.
    stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, VICTIM_MAC, PEER_IP, 0, OUR_IP)));
    stack.processFrame(arpFrame(OUR_MAC, PEER_MAC, new ArpRepr(ArpOperation.Reply, VICTIM_MAC, PEER_IP, OUR_MAC, OUR_IP)));
    expect(dev.take()).toHaveLength(0);
    expect(stack.arp.size).toBe(0);
    expect(stack.counters.rxDropped['arp-sha-mismatch']).toBe(2);
    // A claim on our address in someone else's name is no conflict either: nothing to defend against.
    stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, VICTIM_MAC, OUR_IP, 0, OUR_IP)));
    expect(stack.counters.arpConflicts).toBe(0);
    expect(stack.counters.rxDropped['arp-sha-mismatch']).toBe(3);
    // The same packets with matching MACs are answered and learned.
    stack.processFrame(request(PEER_MAC, PEER_IP, OUR_IP));
    expect(dev.take()).toHaveLength(1);
    expect(stack.arp.lookup(PEER_IP, 2 * S)).toBe(PEER_MAC);
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) for our address without learning', () => {
    const { dev, stack } = setup();
    stack.processFrame(request(PEER_MAC, 0, OUR_IP));
    const out = dev.take();
    expect(out).toHaveLength(1);
    const { eth, arp } = parseArpFrame(out[0]!);
    expect(eth.dstAddr()).toBe(PEER_MAC);
    expect(arp.targetProtoAddr()).toBe(0);
    expect(stack.arp.size).toBe(0);
  });

  it('drops bogus senders, unknown opcodes, VLAN-tagged frames; accepts a priority tag (VID 0)', () => {
    const { dev, stack } = setup();
    stack.processFrame(request(0x01_00_5e_00_00_01, PEER_IP, OUR_IP)); // group MAC as source
    stack.processFrame(request(0, PEER_IP, OUR_IP)); // no MAC as source
    stack.processFrame(request(PEER_MAC, ip('255.255.255.255'), OUR_IP));
    stack.processFrame(request(PEER_MAC, ip('10.77.0.255'), OUR_IP));
    stack.processFrame(request(PEER_MAC, ip('127.0.0.1'), OUR_IP));
    stack.processFrame(request(PEER_MAC, ip('224.0.0.9'), OUR_IP));
    stack.processFrame(request(PEER_MAC, ip('0.1.2.3'), OUR_IP));
    stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(3, PEER_MAC, PEER_IP, 0, OUR_IP)));
    stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, PEER_MAC, PEER_IP, 0, OUR_IP), 5));
    expect(dev.take()).toHaveLength(0);
    expect(stack.arp.size).toBe(0);
    const d = stack.counters.rxDropped;
    expect([d['bad-src'], d['src-broadcast'], d['src-loopback'], d['src-multicast'], d['src-reserved']]).toEqual([2, 2, 1, 1, 1]);
    expect(d.unsupported).toBe(1);
    expect(d.vlan).toBe(1);
    stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, PEER_MAC, PEER_IP, 0, OUR_IP), 0));
    expect(dev.take()).toHaveLength(1);
  });

  it('takes ARP to broadcast and to our MAC, not to a multicast group it has not joined', () => {
    const { dev, stack } = setup();
    const GROUP = 0x01_00_5e_00_00_fb;
    const toGroup = arpFrame(GROUP, PEER_MAC, new ArpRepr(ArpOperation.Request, PEER_MAC, PEER_IP, 0, OUR_IP));
    stack.processFrame(toGroup);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['multicast-not-joined']).toBe(1);
    stack.joinMulticastMac(GROUP);
    stack.processFrame(toGroup);
    expect(dev.take()).toHaveLength(1);
    stack.leaveMulticastMac(GROUP);
    stack.processFrame(toGroup);
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.rxDropped['multicast-not-joined']).toBe(2);
    // Broadcast cannot be "joined" or left: it is always taken.
    stack.leaveMulticastMac(MAC_BROADCAST);
    stack.processFrame(request(PEER_MAC, PEER_IP, OUR_IP));
    expect(dev.take()).toHaveLength(1);
    // A unicast MAC is not a group to join.
    stack.joinMulticastMac(0x02_00_00_00_00_99);
    stack.processFrame(arpFrame(0x02_00_00_00_00_99, PEER_MAC, new ArpRepr(ArpOperation.Request, PEER_MAC, PEER_IP, 0, OUR_IP)));
    expect(stack.counters.rxDropped['not-for-us']).toBe(1);
  });

  it('announce() sends one gratuitous ARP request for our own address', () => {
    const { dev, stack } = setup();
    stack.announce();
    const out = dev.take();
    expect(out).toHaveLength(1);
    const { eth, arp } = parseArpFrame(out[0]!);
    expect(eth.dstAddr()).toBe(MAC_BROADCAST);
    expect(arp.operation()).toBe(ArpOperation.Request);
    expect(arp.senderHwAddr()).toBe(OUR_MAC);
    expect(arp.senderProtoAddr()).toBe(OUR_IP);
    expect(arp.targetHwAddr()).toBe(0);
    expect(arp.targetProtoAddr()).toBe(OUR_IP);
    expect(stack.counters.arpAnnouncementsTx).toBe(1);
    // Our own announcement coming back is neither a conflict nor learned.
    stack.processFrame(out[0]!);
    expect(stack.counters.arpConflicts).toBe(0);
  });
});

describe('ARP resolution on egress', () => {
  const payload = new Uint8Array([1, 2, 3]);

  it('queues behind ARP, retries every arpRetryUs, then drops the queue as arp-failed', () => {
    const { dev, clock, stack } = setup();
    const t0 = clock.t;
    expect(stack.sendUdp(5000, PEER_IP, 7, payload)).toBe(true);
    const first = dev.take();
    expect(first).toHaveLength(1);
    const { eth, arp } = parseArpFrame(first[0]!);
    expect(eth.dstAddr()).toBe(MAC_BROADCAST);
    expect(arp.operation()).toBe(ArpOperation.Request);
    expect(arp.senderProtoAddr()).toBe(OUR_IP);
    expect(arp.targetHwAddr()).toBe(0);
    expect(arp.targetProtoAddr()).toBe(PEER_IP);
    expect(stack.pollAt()).toBe(t0 + S);

    stack.poll(); // nothing due yet
    expect(dev.take()).toHaveLength(0);
    clock.advance(S);
    stack.poll();
    expect(dev.take()).toHaveLength(1);
    expect(stack.pollAt()).toBe(t0 + 2 * S);
    clock.advance(S);
    stack.poll();
    expect(dev.take()).toHaveLength(1);
    expect(stack.counters.arpRequestsTx).toBe(3);
    clock.advance(S);
    stack.poll(); // third request unanswered: give up
    expect(dev.take()).toHaveLength(0);
    expect(stack.counters.txDropped['arp-failed']).toBe(1);
    expect(stack.pollAt()).toBeUndefined();
  });

  it('bounds the queue per address (arp-queue-full) and the addresses resolved at once, evicting the oldest', () => {
    const { dev, stack } = setup({ arpPendingMax: 2, arpPendingAddrMax: 2 });
    expect(stack.sendUdp(5000, PEER_IP, 7, payload)).toBe(true);
    expect(stack.sendUdp(5000, PEER_IP, 7, payload)).toBe(true);
    expect(stack.sendUdp(5000, PEER_IP, 7, payload)).toBe(false);
    expect(stack.counters.txDropped['arp-queue-full']).toBe(1);
    expect(dev.take()).toHaveLength(1); // one request, not one per packet
    expect(stack.sendUdp(5000, OTHER_IP, 7, payload)).toBe(true);
    // A third address evicts the oldest (PEER_IP and its two packets).
    expect(stack.sendUdp(5000, ip('10.77.0.30'), 7, payload)).toBe(true);
    expect(stack.counters.txDropped['arp-pending-evicted']).toBe(2);
    expect(dev.take()).toHaveLength(2); // requests for OTHER_IP and .30
    // PEER_IP's late reply teaches us its MAC, but nothing was left waiting for it.
    stack.processFrame(arpFrame(OUR_MAC, PEER_MAC, new ArpRepr(ArpOperation.Reply, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP)));
    expect(dev.take()).toHaveLength(0);
  });

  it('a flood of spoofed sources cannot keep a real destination from resolving', () => {
    const { dev, stack } = setup({ gateway: PEER_IP });
    // Pings from 200 in-subnet addresses that do not exist: each reply waits for ARP.
    for (let i = 0; i < 200; i++) {
      const src = ip(`10.77.0.${20 + (i % 200)}`);
      stack.processFrame(ipv4Frame(OUR_MAC, PEER_MAC, src, OUR_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: i, seqNo: 1, data: new Uint8Array(8) })));
    }
    expect(stack.counters.txDropped['arp-pending-evicted']).toBe(200 - 16);
    dev.take();
    // The real destination: its datagram waits behind ARP, and goes once the reply comes.
    expect(stack.sendUdp(5000, OTHER_IP, 9, payload)).toBe(true);
    const ask = dev.take();
    expect(ask).toHaveLength(1);
    expect(parseArpFrame(ask[0]!).arp.targetProtoAddr()).toBe(OTHER_IP);
    const OTHER_MAC = 0x02_aa_bb_cc_dd_20;
    stack.processFrame(arpFrame(OUR_MAC, OTHER_MAC, new ArpRepr(ArpOperation.Reply, OTHER_MAC, OTHER_IP, OUR_MAC, OUR_IP)));
    const sent = dev.take();
    expect(sent).toHaveLength(1);
    const eth = EthernetFrame.checked(sent[0]!);
    if (isWireError(eth)) throw new Error(eth.message);
    expect(eth.dstAddr()).toBe(OTHER_MAC);
  });

  it('sends the queued packets, in order, once the reply arrives', () => {
    const { dev, clock, stack } = setup();
    stack.sendUdp(5000, PEER_IP, 7, new Uint8Array([1]));
    stack.sendUdp(5000, PEER_IP, 7, new Uint8Array([2]));
    dev.take();
    clock.advance(S / 2);
    stack.processFrame(arpFrame(OUR_MAC, PEER_MAC, new ArpRepr(ArpOperation.Reply, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP)));
    const out = dev.take();
    expect(out).toHaveLength(2);
    for (const [i, f] of out.entries()) {
      const eth = EthernetFrame.checked(f);
      if (isWireError(eth)) throw new Error(eth.message);
      expect(eth.dstAddr()).toBe(PEER_MAC);
      const p = Ipv4Packet.checked(eth.payload());
      if (isWireError(p)) throw new Error(p.message);
      expect(p.payload()[8]).toBe(i + 1);
    }
    expect(stack.pollAt()).toBe(clock.t + 60 * S); // only the cache entry's expiry is left
  });

  it('routes off-subnet via the gateway and refuses without one', () => {
    const noGw = setup();
    expect(noGw.stack.sendUdp(5000, ip('192.0.2.1'), 7, payload)).toBe(false);
    expect(noGw.stack.counters.txDropped['no-route']).toBe(1);
    const gw = setup({ gateway: PEER_IP });
    expect(gw.stack.sendUdp(5000, ip('192.0.2.1'), 7, payload)).toBe(true);
    const { arp } = parseArpFrame(gw.dev.take()[0]!);
    expect(arp.targetProtoAddr()).toBe(PEER_IP);
  });
});
