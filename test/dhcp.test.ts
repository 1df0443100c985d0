// Both guests configured "ipv4": "dhcp" on the in-memory link and a virtual clock, against a
// small scripted server played by the test: each gets its own lease through the nanokernel (its
// DISCOVER from 0.0.0.0 passes the source guard, the unicast OFFER reaches it by MAC), probes it,
// publishes it to its port, answers ping on it; a server that offers one guest's address to the
// other is declined; the machine's ordered stop and an operator's reboot RELEASE the leases.
import { describe, expect, it } from 'vitest';
import { MemoryLink } from '../src/link/memory.js';
import { ManualClock } from '../src/machine/clock.js';
import { buildMachine, describeGuests } from '../src/board/machine.js';
import { configFromJson } from '../src/board/config.js';
import { summarize, formatSummary } from '../src/cli/stats.js';
import {
  ArpOperation, ArpPacket, DhcpMessageType, DhcpOp, DhcpPacket, EtherType, EthernetFrame, Icmpv4Packet, IpProtocol, Ipv4Packet, UdpPacket,
  dhcpReprLen, emitDhcp, isWireError, parseDhcpRepr, parseIpv4, parseMac, type DhcpRepr, type Ipv4, type Mac,
} from '../src/wire/index.js';
import { icmpBytes, ipv4Frame, udpFrame, arpFrame } from '../src/net/testing.js';
import { ArpRepr } from '../src/wire/index.js';

const S = 1_000_000;
const SERVER_MAC = parseMac('02:00:00:00:00:01')!;
const SERVER = parseIpv4('10.77.0.1')!;
const RTOS_MAC = parseMac('02:4e:53:00:00:0a')!;
const GPOS_MAC = parseMac('02:4e:53:00:00:0b')!;
const ip = (s: string): Ipv4 => parseIpv4(s)!;

const CONFIG = {
  guests: [
    { name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: 'dhcp' },
    { name: 'gpos', mac: '02:4e:53:00:00:0b', ipv4: 'dhcp' },
  ],
};

type Seen = { ethDst: Mac; ethSrc: Mac; src: Ipv4; dst: Ipv4; r: DhcpRepr };

function dhcpOf(frame: Uint8Array): Seen | undefined {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth) || eth.etherType() !== EtherType.Ipv4) return undefined;
  const p = Ipv4Packet.checked(eth.payload());
  if (isWireError(p) || p.protocol() !== IpProtocol.Udp) return undefined;
  const u = UdpPacket.checked(p.payload(), p.srcAddr(), p.dstAddr());
  if (isWireError(u) || u.dstPort() !== 67) return undefined;
  const d = DhcpPacket.checked(u.payload());
  if (isWireError(d)) return undefined;
  const r = parseDhcpRepr(d);
  return isWireError(r) ? undefined : { ethDst: eth.dstAddr(), ethSrc: eth.srcAddr(), src: p.srcAddr(), dst: p.dstAddr(), r };
}

/** A DHCP server with a pool, as dnsmasq answers: OFFER and ACK unicast to the client's MAC. */
class ScriptedServer {
  readonly seen: Seen[] = [];
  readonly leases = new Map<Mac, Ipv4>();
  /** Addresses to offer, in order, to clients without a lease. */
  constructor(private readonly pool: Ipv4[]) {}

  answer(frames: Uint8Array[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const f of frames) {
      const m = dhcpOf(f);
      if (m === undefined) continue;
      this.seen.push(m);
      const mac = m.r.clientMac;
      const t = m.r.messageType;
      if (t === DhcpMessageType.Discover) {
        const addr = this.leases.get(mac) ?? this.pool.shift()!;
        this.leases.set(mac, addr);
        out.push(this.reply(DhcpMessageType.Offer, m.r, addr));
      } else if (t === DhcpMessageType.Request) {
        const addr = this.leases.get(mac);
        if (addr !== undefined) out.push(this.reply(DhcpMessageType.Ack, m.r, addr));
      } else if (t === DhcpMessageType.Release || t === DhcpMessageType.Decline) {
        this.leases.delete(mac);
      }
    }
    return out;
  }

  private reply(type: number, req: DhcpRepr, addr: Ipv4): Uint8Array {
    const r: DhcpRepr = {
      op: DhcpOp.Reply, messageType: type, xid: req.xid, secs: 0, broadcast: false, clientMac: req.clientMac,
      ciaddr: req.ciaddr, yiaddr: addr, siaddr: 0, giaddr: 0, serverId: SERVER, leaseTime: 120, subnetMask: ip('255.255.255.0'), router: SERVER,
    };
    const b = new Uint8Array(dhcpReprLen(r));
    emitDhcp(r, b);
    return udpFrame(req.clientMac, SERVER_MAC, SERVER, addr, 67, 68, b);
  }
}

function boot(pool: Ipv4[], json: object = CONFIG) {
  const clock = new ManualClock(1_000_000);
  const link = new MemoryLink('mem0');
  const cfg = configFromJson(json);
  const machine = buildMachine(cfg, link, clock);
  const server = new ScriptedServer(pool);
  const others: Uint8Array[] = [];
  machine.start();
  /** Run `us` of virtual time in 50 ms steps, the server answering what the machine sent. */
  const run = (us: number): void => {
    for (let t = 0; t < us; t += 50_000) {
      clock.advance(50_000);
      const sent = link.drain();
      others.push(...sent.filter((f) => dhcpOf(f) === undefined));
      const replies = server.answer(sent);
      if (replies.length > 0) link.inject(replies);
      clock.advance(0);
    }
  };
  return { clock, link, machine, server, run, cfg, others };
}

describe('DHCP on the machine: both guests "ipv4": "dhcp"', () => {
  it('each guest gets its own lease, publishes it to its port, answers ping on it; stats and the ready line show it', () => {
    const m = boot([ip('10.77.0.150'), ip('10.77.0.151')]);
    m.run(10 * S);
    const rtos = m.machine.guests.get('rtos')!;
    const gpos = m.machine.guests.get('gpos')!;
    expect(rtos.dhcp!.state).toBe('bound');
    expect(gpos.dhcp!.state).toBe('bound');
    const rAddr = m.server.leases.get(RTOS_MAC)!;
    const gAddr = m.server.leases.get(GPOS_MAC)!;
    expect(rAddr).not.toBe(gAddr);
    expect(rtos.net.ipv4).toEqual({ addr: rAddr, prefixLen: 24 });
    expect(gpos.net.ipv4).toEqual({ addr: gAddr, prefixLen: 24 });
    const port = (n: string) => m.machine.nanokernel.domains.find((d) => d.name === n)!.port;
    expect([...port('rtos').addresses]).toEqual([rAddr]);
    expect([...port('gpos').addresses].filter((a) => typeof a === 'number')).toEqual([gAddr]);
    // Each DISCOVER left from 0.0.0.0 through the source guard; nothing was refused.
    const discovers = m.server.seen.filter((s) => s.r.messageType === DhcpMessageType.Discover);
    expect(new Set(discovers.map((d) => d.r.clientMac))).toEqual(new Set([RTOS_MAC, GPOS_MAC]));
    expect(discovers.every((d) => d.src === 0 && d.dst === 0xffff_ffff)).toBe(true);
    expect(m.machine.nanokernel.counters.txSpoofedIp).toBe(0);
    // RFC 5227 probes (sender 0.0.0.0) for each address went out before it was used.
    const probes = m.others.map((f) => EthernetFrame.checked(f)).filter((e) => !isWireError(e) && e.etherType() === EtherType.Arp)
      .map((e) => ArpPacket.checked((e as EthernetFrame).payload()) as ArpPacket).filter((a) => a.senderProtoAddr() === 0);
    expect(new Set(probes.map((a) => a.targetProtoAddr()))).toEqual(new Set([rAddr, gAddr]));
    // Ping each on its lease.
    for (const [mac, addr] of [[RTOS_MAC, rAddr], [GPOS_MAC, gAddr]] as const) {
      m.link.inject([arpFrame(mac, SERVER_MAC, new ArpRepr(ArpOperation.Request, SERVER_MAC, SERVER, 0, addr))]);
      m.link.inject([ipv4Frame(mac, SERVER_MAC, SERVER, addr, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 7, seqNo: 1, data: new Uint8Array(16) }))]);
      m.clock.advance(10_000);
      const replies = m.link.drain().map((f) => EthernetFrame.checked(f) as EthernetFrame).filter((e) => e.etherType() === EtherType.Ipv4)
        .map((e) => Ipv4Packet.checked(e.payload()) as Ipv4Packet).filter((p) => p.protocol() === IpProtocol.Icmp);
      expect(replies).toHaveLength(1);
      expect(replies[0]!.srcAddr()).toBe(addr);
      expect((Icmpv4Packet.checked(replies[0]!.payload()) as Icmpv4Packet).msgType()).toBe(0);
    }
    const text = formatSummary(summarize(m.machine.stats()));
    expect(text).toMatch(/rtos: .*dhcp bound 10\.77\.0\.15[01]\/24 from 10\.77\.0\.1, lease 120 s, T1 in \d+ s, T2 in \d+ s, expires in \d+ s/);
    expect(describeGuests(m.cfg, m.machine).map((g) => [g.ipv4, g.dhcp?.state])).toEqual([['dhcp', 'bound'], ['dhcp', 'bound']]);
    expect((gpos.statusDocument() as { ipv4: string }).ipv4).toBe(`${['10.77.0.150', '10.77.0.151'][gAddr - ip('10.77.0.150')]}/24`);
    expect(m.machine.stats().guests.find((g) => g.name === 'gpos')!.dhcp!.leaseTimeS).toBe(120);
  });

  it('a guest offered the other guest\'s address declines it (the other answers its probe, the nanokernel would refuse it)', () => {
    const m = boot([ip('10.77.0.150'), ip('10.77.0.150'), ip('10.77.0.152')]);
    m.run(25 * S);
    const rAddr = m.machine.guests.get('rtos')!.net.ipv4.addr;
    const gAddr = m.machine.guests.get('gpos')!.net.ipv4.addr;
    const declines = m.server.seen.filter((s) => s.r.messageType === DhcpMessageType.Decline);
    expect(declines).toHaveLength(1);
    expect(declines[0]!.r.requestedIp).toBe(ip('10.77.0.150'));
    expect(declines[0]!.src).toBe(0);
    expect(new Set([rAddr, gAddr])).toEqual(new Set([ip('10.77.0.150'), ip('10.77.0.152')]));
    expect(m.machine.nanokernel.counters.txSpoofedIp).toBe(0);
  });

  it('the machine\'s ordered stop RELEASEs both leases onto the link before it closes; an operator\'s reboot releases and starts over', () => {
    const m = boot([ip('10.77.0.150'), ip('10.77.0.151'), ip('10.77.0.152')]);
    m.run(10 * S);
    const gAddr = m.server.leases.get(GPOS_MAC)!;
    m.machine.nanokernel.reboot('gpos');
    m.run(10 * S);
    const rel = m.server.seen.filter((s) => s.r.messageType === DhcpMessageType.Release);
    expect(rel.map((r) => [r.r.clientMac, r.r.ciaddr, r.src, r.dst, r.ethDst])).toEqual([[GPOS_MAC, gAddr, gAddr, SERVER, SERVER_MAC]]);
    expect(m.machine.guests.get('gpos')!.dhcp!.state).toBe('bound'); // the rebuilt guest took a lease again
    m.machine.stop();
    const after = m.link.drain().map(dhcpOf).filter((s) => s !== undefined);
    expect(after.map((s) => [s.r.messageType, s.r.clientMac]).sort()).toEqual([[DhcpMessageType.Release, GPOS_MAC], [DhcpMessageType.Release, RTOS_MAC]].sort());
    expect(m.machine.nanokernel.counters.txSpoofedIp).toBe(0);
  });

  it('the config takes "dhcp" per guest, and the same text from the flag path; a bad value names the field', () => {
    const cfg = configFromJson({ guests: [{ name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: 'dhcp' }, { name: 'gpos', mac: '02:4e:53:00:00:0b', ipv4: '10.77.0.11/24' }] });
    expect(cfg.guests.map((g) => g.dhcp)).toEqual([true, false]);
    expect(() => configFromJson({ guests: [{ name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: 'dhcpx' }, { name: 'gpos', mac: '02:4e:53:00:00:0b', ipv4: 'dhcp' }] })).toThrow(
      /guests\[0\]\.ipv4: malformed IPv4 address\/prefix "dhcpx" \(expected like 10\.77\.0\.10\/24, or "dhcp"\)/,
    );
  });
});
