// Property-based fuzzing of the whole receive path of the two-guest machine (issue 7): frames
// from the wire (random bytes, and structure-aware Ethernet/ARP/IPv4/ICMP/UDP/IPv6 with every
// field over its whole range and checksums fixed) go through the NIC, virt-rx, both guests' stacks
// and services, and whatever they answer goes through virt-tx back to the wire. After each case:
// nothing escaped the machine and no guest faulted; every frame is counted under a named reason
// at every stage; no frame left with a foreign identity; nothing for one guest reached the other;
// and the machine went idle within a bounded number of units.
//
// A machine is reused for a run of cases (building one costs milliseconds): later cases meet the
// state earlier ones left (ARP caches, reassembly buffers), as a machine on a LAN does. The
// invariants are checked on the deltas of each case. FUZZ_RUNS sets the total number of cases
// (default 100 000, split over the properties below).
import { afterAll, describe, expect } from 'vitest';
import { test, fc } from '@fast-check/vitest';
import { MemoryLink } from '../src/link/memory.js';
import { ManualClock } from '../src/machine/clock.js';
import { buildMachine, type Machine } from '../src/board/machine.js';
import { defaultConfig } from '../src/board/config.js';
import { ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, Ipv4Packet, isWireError, isMulticastMac, readMac, readIpv6, MAC_BROADCAST, type IpAddr, type Mac } from '../src/wire/index.js';
import type { Port } from '../src/nanokernel/port.js';
import { isUnspecified } from '../src/nanokernel/source-guard.js';
import type { FaultReport } from '../src/nanokernel/nanokernel.js';
import { anyFrameArb, arpFrameArb, ipv4FrameArb, randomFrameArb, HOST } from './fuzz-frames.js';
import { arpFrame } from '../src/net/testing.js';

const TOTAL = Number(process.env.FUZZ_RUNS) > 0 ? Number(process.env.FUZZ_RUNS) : 100_000;
/** Cases handled by one machine before a fresh one is built. */
const CASES_PER_MACHINE = 2_000;
/** Most units one frame may cost the machine (its own handling, replies, ARP, local deliveries). */
const UNITS_PER_FRAME = 16;
const UNITS_PER_CASE = 64;

interface Seen {
  rx: Array<{ frame: Uint8Array; to: readonly string[]; cast: string }>;
}

class Harness {
  readonly clock = new ManualClock(1_000_000);
  readonly link = new MemoryLink('fuzz0');
  readonly machine: Machine;
  readonly seen: Seen = { rx: [] };
  readonly ports: Map<string, Port>;
  readonly faults: FaultReport[] = [];
  cases = 0;

  constructor() {
    const cfg = defaultConfig();
    cfg.addressProbe = false; // addresses taken at once: this is not about the boot probe
    cfg.guests[0]!.control = undefined; // no periodic task: idle means idle
    this.machine = buildMachine(cfg, this.link, this.clock, { onFault: (r) => this.faults.push(r) });
    this.machine.nanokernel.observer = { rx: (frame, to, cast) => this.seen.rx.push({ frame, to, cast }) };
    this.ports = new Map(this.machine.nanokernel.domains.map((d) => [d.name, d.port]));
    this.machine.start();
    this.clock.advance(0);
    // The host is known to both guests, so their answers go out instead of waiting on ARP.
    const who = (ip: number): Uint8Array => arpFrame(MAC_BROADCAST, HOST.mac, new ArpRepr(ArpOperation.Request, HOST.mac, HOST.ip, 0, ip));
    this.link.inject([who(0x0a4d000a), who(0x0a4d000b)]);
    this.clock.advance(0);
    this.link.drain();
  }
}

/** How deep the cases reached, over the whole run (printed, and checked at the end). */
const reach = { cases: 0, frames: 0, delivered: 0, handled: 0, answered: 0, udpAnswers: 0, icmpAnswers: 0, arpAnswers: 0 };

let current: Harness | undefined;
function harness(): Harness {
  if (!current || current.cases >= CASES_PER_MACHINE) current = new Harness();
  current.cases++;
  return current;
}

/** A plain assertion: vitest's expect() per field would cost more than the machine's own work. */
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`invariant broken: ${what}`);
}

function same(a: unknown, b: unknown, what: string): void {
  if (a !== b) throw new Error(`invariant broken: ${what}: ${String(a)} !== ${String(b)}`);
}

function sum(o: object, keys: readonly string[]): number {
  let n = 0;
  for (const k of keys) n += (o as Record<string, number>)[k] ?? 0;
  return n;
}

const RX_OUTCOMES = ['rxUnicast', 'rxBroadcast', 'rxMulticast', 'rxRunt', 'rxUnknownUnicast', 'rxNoSubscriber', 'rxSpoofedMac', 'rxSpoofedIp'];
const NIC_OUTCOMES = ['rxFrames', 'rxRunts', 'rxOversize', 'rxRingFull'];

/** The source identity a frame on the wire claims: Ethernet source, ARP sender MAC and IP, IP source. */
function claims(frame: Uint8Array): { mac: Mac; arpMac?: Mac; ip?: IpAddr } {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) throw new Error(`the machine sent a malformed frame: ${eth.message}`);
  const body = eth.payload();
  if (eth.etherType() === EtherType.Arp) {
    const arp = ArpPacket.checked(body);
    if (isWireError(arp)) throw new Error(`the machine sent a malformed ARP packet: ${arp.message}`);
    return { mac: eth.srcAddr(), arpMac: arp.senderHwAddr(), ip: arp.senderProtoAddr() };
  }
  if (eth.etherType() === EtherType.Ipv4) {
    const ip = Ipv4Packet.checked(body);
    if (isWireError(ip)) throw new Error(`the machine sent a malformed IPv4 packet: ${ip.message}`);
    return { mac: eth.srcAddr(), ip: ip.srcAddr() };
  }
  if (eth.etherType() === EtherType.Ipv6 && body.length >= 40) return { mac: eth.srcAddr(), ip: readIpv6(body, 8) };
  return { mac: eth.srcAddr() };
}

function countAnswer(f: Uint8Array): void {
  reach.answered++;
  const eth = EthernetFrame.checked(f);
  if (isWireError(eth)) return;
  if (eth.etherType() === EtherType.Arp) reach.arpAnswers++;
  else if (eth.etherType() === EtherType.Ipv4) {
    const ip = Ipv4Packet.checked(eth.payload());
    if (!isWireError(ip) && ip.protocol() === 17) reach.udpAnswers++;
    else if (!isWireError(ip) && ip.protocol() === 1) reach.icmpAnswers++;
  }
}

/** One case on the current machine; a case that breaks an invariant retires the machine, so shrinking starts from fresh ones. */
function runCase(frames: readonly Uint8Array[], advanceUs: number): void {
  const h = harness();
  try {
    checkCase(h, frames, advanceUs);
  } catch (e) {
    current = undefined;
    throw e;
  }
}

/** Inject one case's frames, run the machine, and check every invariant on the deltas. */
function checkCase(h: Harness, frames: readonly Uint8Array[], advanceUs: number): void {
  const nk = h.machine.nanokernel;
  const domains = nk.domains;
  const nic0 = sum(h.machine.nic.counters, NIC_OUTCOMES);
  const nicRx0 = h.machine.nic.counters.rxFrames;
  const sw0 = { ...nk.counters };
  const units0 = domains.reduce((n, d) => n + d.stats.units, 0);
  const handled0 = domains.reduce((n, d) => n + h.machine.guests.get(d.name)!.net.counters.rxHandled, 0);
  h.seen.rx.length = 0;

  // Nothing escapes: not from the link's callback (the addon's, in production), not from the clock.
  h.link.inject(frames.map((f) => f.slice()));
  h.clock.advance(advanceUs);

  // No guest faulted (a fault is contained, but it is a bug in the guest's code: find it).
  const f = h.faults[0];
  if (f) throw new Error(`invariant broken: ${f.guest} faulted: ${f.stack ?? f.message}`);

  // Every frame counted under a named reason: at the NIC, at the switch, in each guest's stack.
  same(sum(h.machine.nic.counters, NIC_OUTCOMES) - nic0, frames.length, 'the NIC counts every frame');
  const sw = nk.counters;
  const rxFrames = sw.rxFrames - sw0.rxFrames;
  same(rxFrames, h.machine.nic.counters.rxFrames - nicRx0, 'the switch takes every frame the NIC did');
  same(sum(sw, RX_OUTCOMES) - sum(sw0, RX_OUTCOMES), rxFrames, 'the switch delivers or drops every frame, by name');
  for (const d of domains) {
    const p = d.port;
    same(p.rx.length, 0, `${d.name}'s RX ring drained`);
    same(p.counters.rxConsumed, p.counters.rxFrames, `${d.name} took every frame delivered`);
    const net = h.machine.guests.get(d.name)!.net.counters;
    same(net.rxHandled + sum(net.rxDropped, Object.keys(net.rxDropped)), net.rxFrames, `${d.name}'s stack handles or drops every frame, by name`);
    same(net.rxFrames, p.counters.rxConsumed, `${d.name}'s stack saw every frame its driver took`);
  }

  // Nothing for one guest reached the other: each delivery is to the destination MAC's owner, or
  // a broadcast to all, or a multicast to subscribers.
  for (const r of h.seen.rx) {
    const dst = readMac(r.frame, 0);
    for (const name of r.to) {
      const port = h.ports.get(name)!;
      if (dst === MAC_BROADCAST) same(r.cast, 'broadcast', 'broadcast delivery');
      else if (isMulticastMac(dst)) check(port.groups.has(dst), `multicast to ${name}, which did not join the group`);
      else check(r.cast === 'unicast' && port.mac === dst, `unicast for another guest reached ${name}`);
    }
  }

  reach.cases++;
  reach.frames += frames.length;
  reach.delivered += sum(sw, ['rxUnicast', 'rxBroadcast', 'rxMulticast']) - sum(sw0, ['rxUnicast', 'rxBroadcast', 'rxMulticast']);
  reach.handled += domains.reduce((n, d) => n + h.machine.guests.get(d.name)!.net.counters.rxHandled, 0) - handled0;

  // No frame left with a foreign identity: each speaks as one guest, with that guest's addresses.
  for (const f of h.link.drain()) {
    const c = claims(f);
    countAnswer(f);
    const owner = [...h.ports.values()].find((p) => p.mac === c.mac);
    check(owner !== undefined, 'a frame on the wire whose source MAC is no guest\'s');
    if (c.arpMac !== undefined) same(c.arpMac, c.mac, 'ARP sender MAC is the Ethernet source');
    if (c.ip !== undefined && !isUnspecified(c.ip)) check(owner!.addresses.has(c.ip), `source ${String(c.ip)} on the wire is not ${owner!.name}'s`);
  }

  // Idle within a bounded number of units.
  check(!nk.hasWork(), 'the machine is idle after the case');
  const units = domains.reduce((n, d) => n + d.stats.units, 0) - units0;
  check(units <= UNITS_PER_CASE + UNITS_PER_FRAME * frames.length, `${units} units for ${frames.length} frames`);
}

const advanceArb = fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1_000, 1_000_000, 30_000_000) });
const share = (part: number): number => Math.max(1, Math.round(TOTAL * part));
/** Generous: the cases run in seconds; a loaded CI machine gets time to spare. */
const TIMEOUT_MS = 600_000;

describe('the receive path under fuzz (whole machine, in-memory link)', () => {
  afterAll(() => {
    console.log(`rx fuzz: ${JSON.stringify(reach)}`);
    if (reach.cases < TOTAL) return; // a filtered run (-t): the shares below do not apply
    // The generators reach the services: frames are handled, and ARP, ICMP and UDP answers leave.
    expect(reach.handled).toBeGreaterThan(reach.frames / 20);
    expect(Math.min(reach.arpAnswers, reach.icmpAnswers, reach.udpAnswers)).toBeGreaterThan(TOTAL / 2000);
  });

  test.prop([fc.array(randomFrameArb, { minLength: 1, maxLength: 4 }), advanceArb], { numRuns: share(0.2) })('random bytes', (frames, us) => runCase(frames, us), TIMEOUT_MS);
  test.prop([fc.array(arpFrameArb, { minLength: 1, maxLength: 4 }), advanceArb], { numRuns: share(0.25) })('ARP with every field drawn', (frames, us) => runCase(frames, us), TIMEOUT_MS);
  test.prop([fc.array(ipv4FrameArb, { minLength: 1, maxLength: 4 }), advanceArb], { numRuns: share(0.35) })('IPv4 (ICMP, UDP, other protocols) with every field drawn', (frames, us) => runCase(frames, us), TIMEOUT_MS);
  test.prop([fc.array(anyFrameArb, { minLength: 1, maxLength: 12 }), advanceArb], { numRuns: share(0.2) })('mixed sequences', (frames, us) => runCase(frames, us), TIMEOUT_MS);
});
