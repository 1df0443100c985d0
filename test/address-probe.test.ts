// The boot-time RFC 5227 probe through the whole machine on the in-memory link and a virtual
// clock: while probing a guest's address is tentative (no answers for it, nothing sent from it,
// not in its port's address set, so the wire's answers reach it); with no answer it is taken
// and announced; a host that answers or probes for it keeps the guest off it, and says who.
import { describe, expect, it } from 'vitest';
import { MemoryLink } from '../src/link/memory.js';
import { ManualClock } from '../src/machine/clock.js';
import { buildMachine } from '../src/board/machine.js';
import { defaultConfig } from '../src/board/config.js';
import type { ProbeOutcome } from '../src/net/index.js';
import { ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, IpProtocol, MAC_BROADCAST, isWireError, parseIpv4, parseMac, type Ipv4, type Mac } from '../src/wire/index.js';
import { arpFrame, icmpBytes, ipv4Frame } from '../src/net/testing.js';

const S = 1_000_000;
const HOST_MAC = parseMac('02:00:00:00:00:01')!;
const HOST_IP = parseIpv4('10.77.0.1')!;
const OTHER_MAC = parseMac('02:77:77:77:77:77')!;
const RTOS = { mac: parseMac('02:4e:53:00:00:0a')!, ip: parseIpv4('10.77.0.10')! };
const GPOS = { mac: parseMac('02:4e:53:00:00:0b')!, ip: parseIpv4('10.77.0.11')! };

function boot() {
  const clock = new ManualClock(1_000_000);
  const link = new MemoryLink('mem0', 1500);
  const cfg = defaultConfig(); // the RFC's timing: 4 to 7 s
  const outcomes: Array<[string, ProbeOutcome]> = [];
  const machine = buildMachine(cfg, link, clock, { onAddress: (g, o) => outcomes.push([g, o]) });
  const start = clock.now();
  machine.start();
  clock.advance(0);
  return { clock, link, machine, outcomes, start, port: (name: string) => machine.nanokernel.domains.find((d) => d.name === name)!.port };
}

function arpOf(frame: Uint8Array): { src: Mac; arp: ArpPacket } | undefined {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth) || eth.etherType() !== EtherType.Arp) return undefined;
  const arp = ArpPacket.checked(eth.payload());
  return isWireError(arp) ? undefined : { src: eth.srcAddr(), arp };
}

function etherType(frame: Uint8Array): number | undefined {
  const eth = EthernetFrame.checked(frame);
  return isWireError(eth) ? undefined : eth.etherType();
}

const ping = (dstMac: Mac, dst: Ipv4): Uint8Array =>
  ipv4Frame(dstMac, HOST_MAC, HOST_IP, dst, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(8) }));
const whoHas = (target: Ipv4): Uint8Array => arpFrame(MAC_BROADCAST, HOST_MAC, new ArpRepr(ArpOperation.Request, HOST_MAC, HOST_IP, 0, target));

describe('boot-time address probe (RFC 5227)', () => {
  it('probes, stays silent while tentative, then takes and announces each address', () => {
    const m = boot();
    m.clock.advance(S / 2);
    // Tentative: no ARP answer, no echo reply, no address on the port, nothing sent from it.
    m.link.inject([whoHas(RTOS.ip), ping(RTOS.mac, RTOS.ip)]);
    m.clock.advance(0);
    const early = m.link.drain();
    expect(early.map(arpOf).filter((x) => x !== undefined).every((x) => x.arp.senderProtoAddr() === 0)).toBe(true); // probes only
    expect(early.filter((f) => etherType(f) === EtherType.Ipv4)).toEqual([]); // no echo reply
    expect([...m.port('rtos').addresses]).toEqual([]);
    expect(m.machine.guests.get('rtos')!.ipv4State).toBe('tentative');
    expect(m.machine.guests.get('rtos')!.net.counters.rxDropped.tentative).toBe(1);
    m.clock.advance(8 * S);
    const frames = m.link.drain().map(arpOf).filter((x) => x !== undefined);
    for (const g of [RTOS, GPOS]) {
      const probes = [...early.map(arpOf), ...frames].filter((x) => x && x.src === g.mac && x.arp.senderProtoAddr() === 0 && x.arp.targetProtoAddr() === g.ip);
      expect(probes).toHaveLength(3);
      const announce = frames.filter((x) => x.src === g.mac && x.arp.senderProtoAddr() === g.ip && x.arp.targetProtoAddr() === g.ip);
      expect(announce).toHaveLength(1);
    }
    expect(m.outcomes.map(([g, o]) => [g, o.kind])).toEqual(expect.arrayContaining([['rtos', 'available'], ['gpos', 'available']]));
    for (const [, o] of m.outcomes) {
      expect(o.at - m.start).toBeGreaterThanOrEqual(4 * S);
      expect(o.at - m.start).toBeLessThanOrEqual(7 * S);
    }
    expect([...m.port('rtos').addresses]).toEqual([RTOS.ip]);
    expect(m.machine.stats().guests.map((g) => g.ipv4State)).toEqual(['taken', 'taken']);
    m.link.inject([whoHas(RTOS.ip), ping(RTOS.mac, RTOS.ip)]);
    m.clock.advance(0);
    const now = m.link.drain();
    expect(now.map(arpOf).filter((x) => x?.arp.operation() === ArpOperation.Reply).map((x) => x!.src)).toEqual([RTOS.mac]);
    expect(now.filter((f) => etherType(f) === EtherType.Ipv4)).toHaveLength(1); // the echo reply, now
  });

  it('a host that answers the probe keeps that guest off its address, says who, and the other guest takes its own', () => {
    const m = boot();
    // Answer the rtos's first probe as Linux does: a reply from the address to the prober.
    m.clock.advance(S);
    const probe = m.link.drain().map(arpOf).find((x) => x && x.src === RTOS.mac && x.arp.targetProtoAddr() === RTOS.ip);
    expect(probe).toBeDefined();
    m.link.inject([arpFrame(RTOS.mac, OTHER_MAC, new ArpRepr(ArpOperation.Reply, OTHER_MAC, RTOS.ip, RTOS.mac, 0))]);
    m.clock.advance(8 * S);
    expect(m.outcomes.find(([g]) => g === 'rtos')![1]).toEqual(expect.objectContaining({ kind: 'conflict', ip: RTOS.ip, mac: OTHER_MAC, by: 'claim' }));
    expect(m.outcomes.find(([g]) => g === 'gpos')![1].kind).toBe('available');
    const stats = m.machine.stats().guests;
    expect(stats.map((g) => g.ipv4State)).toEqual(['conflict', 'taken']);
    expect(stats[0]!.ipv4Conflict).toEqual({ mac: '02:77:77:77:77:77', by: 'claim' });
    // The rtos never took it: no announcement, no address on its port, no answer.
    expect(m.link.drain().map(arpOf).some((x) => x && x.src === RTOS.mac && x.arp.senderProtoAddr() === RTOS.ip)).toBe(false);
    expect([...m.port('rtos').addresses]).toEqual([]);
    m.link.inject([whoHas(RTOS.ip), whoHas(GPOS.ip)]);
    m.clock.advance(0);
    const answers = m.link.drain().map(arpOf).filter((x) => x && x.arp.operation() === ArpOperation.Reply);
    expect(answers.map((x) => x!.src)).toEqual([GPOS.mac]);
  });

  it('a simultaneous probe from another host is a conflict too; when every guest loses, every outcome says so', () => {
    const m = boot();
    m.link.inject([
      arpFrame(MAC_BROADCAST, OTHER_MAC, new ArpRepr(ArpOperation.Request, OTHER_MAC, 0, 0, RTOS.ip)),
      arpFrame(MAC_BROADCAST, OTHER_MAC, new ArpRepr(ArpOperation.Request, OTHER_MAC, GPOS.ip, 0, GPOS.ip)),
    ]);
    m.clock.advance(8 * S);
    expect(Object.fromEntries(m.outcomes.map(([g, o]) => [g, o.kind === 'conflict' ? o.by : o.kind]))).toEqual({ rtos: 'probe', gpos: 'claim' });
    expect(m.machine.stats().guests.every((g) => g.ipv4State === 'conflict')).toBe(true);
    // Not dropped as spoofs: a tentative address is nobody's on the switch yet.
    expect(m.machine.nanokernel.counters.rxSpoofedIp).toBe(0);
  });

  it('a rebooted guest probes again before it answers', () => {
    const m = boot();
    m.clock.advance(8 * S);
    m.link.drain();
    m.machine.nanokernel.reboot('gpos');
    m.clock.advance(0);
    expect(m.machine.guests.get('gpos')!.ipv4State).toBe('tentative');
    expect([...m.port('gpos').addresses]).toEqual([]);
    m.clock.advance(8 * S);
    expect(m.machine.guests.get('gpos')!.ipv4State).toBe('taken');
    expect(m.outcomes.filter(([g]) => g === 'gpos')).toHaveLength(2);
  });
});
