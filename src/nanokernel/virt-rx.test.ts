// virt-rx's receive-side identity checks, one claimed field at a time: the wire may not speak as a
// local guest through its Ethernet source, its ARP sender MAC or IP, or its IPv4 or IPv6 source.
// Each refused frame is counted under its reason on the switch and on the claimed guest's port.
import { describe, expect, it } from 'vitest';
import { Ring } from '../machine/ring.js';
import { ArpOperation, ArpRepr, EtherType, EthernetRepr, IpProtocol, MAC_BROADCAST, parseIpv4, parseIpv6, parseMac, writeIpv6, type Ipv6, type Mac } from '../wire/index.js';
import { arpFrame, ipv4Frame } from '../net/testing.js';
import { CONFLICT_NOTICES_MAX, Port } from './port.js';
import { Irq } from './guest-interface.js';
import { Switch } from './switch.js';
import { VirtRx } from './virt-rx.js';

const RTOS = { mac: parseMac('02:4e:53:00:00:0a')!, ip: parseIpv4('10.77.0.10')!, v6: parseIpv6('fe80::a')! };
const GPOS = { mac: parseMac('02:4e:53:00:00:0b')!, ip: parseIpv4('10.77.0.11')! };
const HOST = { mac: parseMac('02:00:00:00:00:01')!, ip: parseIpv4('10.77.0.1')!, v6: parseIpv6('fe80::1')! };

function setup() {
  const sw = new Switch();
  const rtos = new Port('rtos', RTOS.mac, [RTOS.ip, RTOS.v6], true, 8, 8);
  const gpos = new Port('gpos', GPOS.mac, [GPOS.ip], false, 8, 8);
  sw.add(rtos);
  sw.add(gpos);
  const ring = new Ring<Uint8Array>(16);
  const rx = new VirtRx(sw, ring);
  const drops: string[] = [];
  sw.observer = { drop: (reason, _f, port) => drops.push(`${reason} ${port ?? '-'}`) };
  const receive = (f: Uint8Array): void => {
    ring.push(f);
    rx.drain();
  };
  return { sw, rtos, gpos, receive, drops };
}

const arp = (ethSrc: Mac, senderMac: Mac, senderIp: number, dst: Mac = MAC_BROADCAST, op: number = ArpOperation.Request): Uint8Array =>
  arpFrame(dst, ethSrc, new ArpRepr(op, senderMac, senderIp, 0, GPOS.ip));
const ip4 = (dst: Mac, ethSrc: Mac, src: number, vlanId?: number): Uint8Array =>
  ipv4Frame(dst, ethSrc, src, GPOS.ip, IpProtocol.Udp, new Uint8Array(8), vlanId === undefined ? {} : { vlanId });

function ipv6(dst: Mac, src: Ipv6): Uint8Array {
  const f = new Uint8Array(14 + 40);
  new EthernetRepr(dst, HOST.mac, EtherType.Ipv6).emit(f);
  f[14] = 0x60;
  writeIpv6(f, 14 + 8, src);
  return f;
}

describe('VirtRx identity checks', () => {
  it('passes the host\'s own frames, and ARP probes (sender 0.0.0.0) for a guest\'s address', () => {
    const { sw, gpos, receive, drops } = setup();
    receive(arp(HOST.mac, HOST.mac, HOST.ip));
    receive(ip4(GPOS.mac, HOST.mac, HOST.ip));
    receive(ipv6(MAC_BROADCAST, HOST.v6));
    receive(arp(HOST.mac, HOST.mac, 0)); // RFC 5227 probe
    expect(drops).toEqual([]);
    expect(gpos.counters.rxFrames).toBe(4);
    expect(sw.counters.rxFrames).toBe(4);
  });

  it('drops an Ethernet source that is a local guest\'s MAC', () => {
    const { sw, gpos, receive, drops } = setup();
    receive(ip4(GPOS.mac, RTOS.mac, HOST.ip));
    expect(drops).toEqual(['rxSpoofedMac rtos']);
    expect([sw.counters.rxSpoofedMac, gpos.counters.rxFrames]).toEqual([1, 0]);
  });

  it('drops an ARP sender MAC that is a local guest\'s (the Ethernet source being foreign)', () => {
    const { sw, rtos, gpos, receive, drops } = setup();
    // "10.77.0.1 is at the rtos's MAC": would make both guests send the host's traffic to the rtos.
    receive(arp(HOST.mac, RTOS.mac, HOST.ip));
    expect(drops).toEqual(['rxSpoofedMac rtos']);
    expect([rtos.counters.rxSpoofedMac, gpos.counters.rxFrames, rtos.counters.rxFrames]).toEqual([1, 0, 0]);
    expect(sw.counters.rxSpoofedMac).toBe(1);
  });

  it('drops an ARP sender IP that is a local guest\'s address, request or reply, broadcast or unicast', () => {
    const { sw, rtos, receive, drops } = setup();
    receive(arp(HOST.mac, HOST.mac, RTOS.ip));
    receive(arp(HOST.mac, HOST.mac, RTOS.ip, GPOS.mac, ArpOperation.Reply));
    expect(drops).toEqual(['rxSpoofedIp rtos', 'rxSpoofedIp rtos']);
    expect([sw.counters.rxSpoofedIp, rtos.counters.rxSpoofedIp]).toEqual([2, 2]);
  });

  it('drops an IPv4 source that is a local guest\'s address, tagged or not', () => {
    const { sw, gpos, receive, drops } = setup();
    receive(ip4(GPOS.mac, HOST.mac, RTOS.ip));
    receive(ip4(GPOS.mac, HOST.mac, GPOS.ip, 5));
    expect(drops).toEqual(['rxSpoofedIp rtos', 'rxSpoofedIp gpos']);
    expect([sw.counters.rxSpoofedIp, gpos.counters.rxFrames]).toEqual([2, 0]);
  });

  it('drops an IPv6 source that is a local guest\'s address', () => {
    const { receive, drops } = setup();
    receive(ipv6(MAC_BROADCAST, RTOS.v6));
    expect(drops).toEqual(['rxSpoofedIp rtos']);
  });

  it('follows a guest\'s address set as it changes', () => {
    const { sw, gpos, receive, drops } = setup();
    const NEW = parseIpv4('10.77.0.99')!;
    receive(ip4(GPOS.mac, HOST.mac, NEW));
    expect(sw.setAddresses(gpos, [NEW])).toBe(true);
    receive(ip4(GPOS.mac, HOST.mac, NEW));
    receive(ip4(GPOS.mac, HOST.mac, GPOS.ip)); // given up: someone else's now
    expect(drops).toEqual(['rxSpoofedIp gpos']);
    expect(gpos.counters.rxFrames).toBe(2);
  });

  it('checks headers too short to parse without reading past them', () => {
    const { gpos, receive, drops } = setup();
    const shortArp = arp(HOST.mac, RTOS.mac, RTOS.ip).subarray(0, 14 + 27);
    const shortIp = ip4(GPOS.mac, HOST.mac, RTOS.ip).subarray(0, 14 + 19);
    const shortV6 = ipv6(GPOS.mac, RTOS.v6).subarray(0, 14 + 39);
    for (const f of [shortArp, shortIp, shortV6]) receive(f);
    expect(drops).toEqual([]); // nothing of a guest's to claim: the guests' parsers drop them
    expect(gpos.counters.rxFrames).toBe(3);
  });

  it('counts a runt under its own reason', () => {
    const { sw, receive, drops } = setup();
    receive(new Uint8Array(13));
    expect(drops).toEqual(['rxRunt -']);
    expect(sw.counters.rxRunt).toBe(1);
  });
});

describe('VirtRx delivery edges', () => {
  function observed() {
    const s = setup();
    const rx: string[] = [];
    s.sw.observer = { ...s.sw.observer, rx: (_f, to, cast) => rx.push(`${cast} ${to.join(',')}`) };
    return { ...s, rx };
  }

  it('drops a frame whose 802.1Q tag is cut short but whose source is a guest\'s MAC', () => {
    const { gpos, receive, drops } = setup();
    const f = ip4(MAC_BROADCAST, RTOS.mac, HOST.ip).subarray(0, 16);
    f[12] = 0x81;
    f[13] = 0x00;
    receive(f);
    expect(drops).toEqual(['rxSpoofedMac rtos']);
    expect(gpos.counters.rxFrames).toBe(0);
  });

  it('passes a truncated tagged frame from a foreign source to the guests\' parsers', () => {
    const { gpos, receive, drops } = setup();
    const f = ip4(GPOS.mac, HOST.mac, HOST.ip).subarray(0, 16);
    f[12] = 0x81;
    f[13] = 0x00;
    receive(f);
    expect(drops).toEqual([]);
    expect(gpos.counters.rxFrames).toBe(1);
  });

  it('takes a frame of exactly an Ethernet header (14 bytes) as a frame, not a runt', () => {
    const { gpos, receive, drops } = setup();
    receive(ip4(GPOS.mac, HOST.mac, HOST.ip).subarray(0, 14));
    expect(drops).toEqual([]);
    expect(gpos.counters.rxFrames).toBe(1);
  });

  it('checks an ARP body of exactly 28 bytes and an IPv4 header of exactly 20', () => {
    const { receive, drops } = setup();
    receive(arp(HOST.mac, HOST.mac, RTOS.ip).subarray(0, 14 + 28));
    receive(ip4(GPOS.mac, HOST.mac, RTOS.ip).subarray(0, 14 + 20));
    receive(ipv6(GPOS.mac, RTOS.v6).subarray(0, 14 + 40));
    expect(drops).toEqual(['rxSpoofedIp rtos', 'rxSpoofedIp rtos', 'rxSpoofedIp rtos']);
  });

  it('counts broadcast and multicast apart, and tells the observer which it was', () => {
    const { sw, gpos, receive, rx } = observed();
    const GROUP = parseMac('33:33:00:00:00:01')!;
    sw.subscribe(gpos, GROUP);
    receive(ip4(GROUP, HOST.mac, HOST.ip));
    receive(ip4(MAC_BROADCAST, HOST.mac, HOST.ip));
    expect(rx).toEqual(['multicast gpos', 'broadcast rtos,gpos']);
    expect([sw.counters.rxMulticast, sw.counters.rxBroadcast, sw.counters.rxUnicast]).toEqual([1, 1, 0]);
  });

  it('shows the observer only the guests a frame reached', () => {
    const { sw, rtos, gpos, receive, rx, drops } = observed();
    gpos.halted = true;
    receive(ip4(MAC_BROADCAST, HOST.mac, HOST.ip));
    receive(ip4(GPOS.mac, HOST.mac, HOST.ip));
    rtos.halted = true;
    receive(ip4(MAC_BROADCAST, HOST.mac, HOST.ip));
    expect(rx).toEqual(['broadcast rtos']);
    expect(drops).toEqual(['rxHalted gpos', 'rxHalted gpos', 'rxHalted rtos', 'rxHalted gpos']);
    expect(sw.counters.rxHalted).toBe(4);
  });

  it('shows the observer nothing for a unicast frame that found its guest\'s queue full', () => {
    const { gpos, receive, rx, drops } = observed();
    for (let i = 0; i < 9; i++) receive(ip4(GPOS.mac, HOST.mac, HOST.ip));
    expect(rx).toHaveLength(8);
    expect(drops).toEqual(['rxQueueFull gpos']);
    expect(gpos.counters.rxQueueFull).toBe(1);
  });

  it('says whether frames wait in the NIC\'s ring', () => {
    const sw = new Switch();
    const ring = new Ring<Uint8Array>(4);
    const rx = new VirtRx(sw, ring);
    expect(rx.pending()).toBe(false);
    ring.push(new Uint8Array(60));
    expect(rx.pending()).toBe(true);
    rx.drain();
    expect(rx.pending()).toBe(false);
    expect(sw.counters.rxFrames).toBe(1);
  });
});

describe('VirtRx conflict notices (RFC 5227 2.4 evidence for the claimed guest)', () => {
  const ATTACKER = parseMac('02:66:66:66:66:66')!;

  it('an ARP claim on a guest\'s address is dropped and becomes a notice (address, sender MAC) on that port, raising AddrConflict', () => {
    const { rtos, gpos, receive, drops } = setup();
    const raised: number[] = [];
    rtos.line = { raise: (l) => raised.push(l) };
    receive(arp(ATTACKER, ATTACKER, RTOS.ip));
    expect(drops).toEqual(['rxSpoofedIp rtos']);
    expect(rtos.rx.length).toBe(0);
    expect(raised).toEqual([Irq.AddrConflict]);
    expect(rtos.takeConflict()).toEqual({ ip: RTOS.ip, mac: ATTACKER });
    expect(rtos.takeConflict()).toBeUndefined();
    expect(gpos.counters.conflictNotices).toBe(0);
  });

  it('no notice for a spoofed IPv4 source, a spoofed MAC, or a probe (sender 0.0.0.0)', () => {
    const { rtos, receive } = setup();
    receive(ip4(GPOS.mac, ATTACKER, RTOS.ip));
    receive(arp(RTOS.mac, RTOS.mac, RTOS.ip));
    receive(arp(ATTACKER, ATTACKER, 0));
    expect(rtos.counters.conflictNotices).toBe(0);
    expect(rtos.takeConflict()).toBeUndefined();
  });

  it('is bounded: a repeated claim waits once, at most CONFLICT_NOTICES_MAX wait, the rest are counted as dropped', () => {
    const { rtos, receive } = setup();
    for (let i = 0; i < 3; i++) receive(arp(ATTACKER, ATTACKER, RTOS.ip));
    expect(rtos.counters.conflictNotices).toBe(1);
    for (let i = 1; i <= CONFLICT_NOTICES_MAX + 2; i++) {
      const mac = ATTACKER + i;
      receive(arp(mac, mac, RTOS.ip));
    }
    expect(rtos.counters.conflictNotices).toBe(CONFLICT_NOTICES_MAX);
    expect(rtos.counters.conflictNoticesDropped).toBe(3);
    let n = 0;
    while (rtos.takeConflict() !== undefined) n++;
    expect(n).toBe(CONFLICT_NOTICES_MAX);
  });
});
