// System test (issue 7): the three single-frame failures, injected from the host side. The real
// `nanoshare run` on a lab bridge in a namespace of the test's own; a second TAP on that bridge
// (test/inject-child.mjs, the project's own TAP link, no extra tool) writes the attacker's frames
// and sees whatever the bridge floods to it (learning is off on its port, so frames to a forged
// MAC reach it). Each case asserts where the frame was dropped, by its named counter, and what an
// attacker wanted not to happen: (a) a UDP echo from port 0 does not kill the machine; (b) a UDP
// echo to the gpos claiming the rtos's address and port 7 is dropped at virt-rx and starts no echo
// loop (the processor goes back to idle, the rtos answers); (c) ARP lies (sender MAC not the
// Ethernet source, claiming a guest's MAC or address, binding the host's address to a guest's
// MAC) leave both guests answering the host and keep guest-to-guest traffic off the wire.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, probe, skipLab, stopChild } from './lab.js';
import { BIN, FIXED_GUESTS as GUESTS, FIXED_MACS, startMachine, terminate, type Running } from './machine-process.js';
import { arp, BROADCAST, Injector, udp4, type SeenFrame } from './injector.js';

const skip = skipLab();

const [RTOS, GPOS] = GUESTS;
const HOST = '10.77.0.1';
/** The attacker's own MAC and an address of no one. */
const EVIL = '02:00:00:00:e7:01';
const OTHER_MAC = '02:00:00:00:e7:02';
const STRANGER = '10.77.0.99';
/** The rtos's telemetry period here: a steady trickle of rtos->gpos datagrams (and the gpos's ICMP errors back). */
const CONTROL_PERIOD_US = 20_000;

interface Snapshot {
  uptimeUs: number;
  processor: { runs: number };
  switch: { rxSpoofedMac: number; rxSpoofedIp: number; txLocal: number };
  domains: Array<{ name: string; state: string; cpu: { busyUs: number; framesHandled: number; faults: number; reboots: number }; port: { rxSpoofedIp: number; rxSpoofedMac: number; txLocal: number } }>;
  guests: Array<{ name: string; net: { rxDropped: Record<string, number> }; control?: { telemetrySent: number } }>;
}

const domain = (s: Snapshot, name: string): Snapshot['domains'][number] => s.domains.find((d) => d.name === name)!;
const netDrop = (s: Snapshot, name: string, reason: string): number => s.guests.find((g) => g.name === name)!.net.rxDropped[reason]!;

/** IPv4 source and destination of a frame seen on the wire, if it is IPv4. */
function ipv4(f: SeenFrame): { src: string; dst: string } | undefined {
  if (f.type !== 0x0800 || f.bytes.length < 34) return undefined;
  const ip = (o: number): string => [...f.bytes.subarray(o, o + 4)].join('.');
  return { src: ip(26), dst: ip(30) };
}

describe.skipIf(skip)('system: the three single-frame failures of issue 7, injected from a second TAP on the lab bridge', () => {
  let tmp = '';
  let ns: Netns;
  let ctl = '';
  let m: Running | undefined;
  let inj: Injector;

  const stats = (): Snapshot => JSON.parse(ns.exec([process.execPath, BIN, 'stats', '--json', '--control', ctl])) as Snapshot;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  function answers(g: (typeof GUESTS)[number], when: string): void {
    const r = probe(ns, g.ip, { count: 3, intervalMs: 100, timeoutMs: 2000 });
    expect(r.received, `${when}: echo replies from ${g.name} ${g.ip}`).toBe(3);
  }
  function alive(s: Snapshot): void {
    expect(m!.child.exitCode, m!.stderr()).toBeNull();
    for (const d of s.domains) expect([d.name, d.state, d.cpu.faults, d.cpu.reboots]).toEqual([d.name, 'running', 0, 0]);
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'nanoshare-inject-'));
    ns = Netns.create('inject');
    ctl = join(tmp, 'ctl.sock');
    ns.exec(['ip', 'link', 'add', 'nsbr0', 'type', 'bridge']);
    ns.exec(['ip', 'addr', 'add', `${HOST}/24`, 'dev', 'nsbr0']);
    ns.exec(['ip', 'link', 'set', 'nsbr0', 'up']);
    m = await startMachine(ns, [...FIXED_MACS, '--bridge', 'nsbr0', '--control', ctl, '--telemetry', `${GPOS.ip}:9`, '--control-period', String(CONTROL_PERIOD_US)]);
    inj = await Injector.start(ns, 'nsinj0', 'nsbr0');
    // The host has talked to both guests (so each has the host in its ARP cache, and the gpos the
    // rtos, from the telemetry) before the attacks begin.
    for (const g of GUESTS) answers(g, 'before');
  });

  afterAll(async () => {
    if (m) {
      const exit = await terminate(m);
      expect(exit, m.stderr()).toEqual({ code: 0, signal: null });
      await stopChild(m.child);
    }
    await ns?.delete();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('(a) UDP to port 7 from source port 0, to each guest: the machine lives, the datagram is dropped and counted (udp-port-zero)', async () => {
    const before = stats();
    for (const g of GUESTS) {
      await inj.send(udp4({ ethDst: g.mac, ethSrc: EVIL, src: STRANGER, dst: g.ip, srcPort: 0, dstPort: 7, payload: [...Buffer.from('port zero')] }));
    }
    await sleep(300);
    const after = stats();
    alive(after);
    for (const g of GUESTS) expect(netDrop(after, g.name, 'udp-port-zero') - netDrop(before, g.name, 'udp-port-zero'), `${g.name}: udp-port-zero`).toBe(1);
    for (const g of GUESTS) answers(g, 'after the port-0 datagrams');
  });

  it('(b) UDP to the gpos\'s port 7 claiming the rtos\'s address and port 7: dropped at virt-rx (rxSpoofedIp), no echo loop, the processor goes back to idle, the rtos answers', async () => {
    const before = stats();
    await inj.send(udp4({ ethDst: GPOS.mac, ethSrc: EVIL, src: RTOS.ip, dst: GPOS.ip, srcPort: 7, dstPort: 7, payload: [...Buffer.from('loop?')] }));
    await sleep(300);
    const s1 = stats();
    expect(s1.switch.rxSpoofedIp - before.switch.rxSpoofedIp, 'rxSpoofedIp').toBe(1);
    expect(domain(s1, 'rtos').port.rxSpoofedIp - domain(before, 'rtos').port.rxSpoofedIp, 'counted on the claimed guest (rtos) too').toBe(1);
    // Idle: over one second the guests do only the telemetry trickle (50 datagrams a second and
    // the gpos's rate-limited ICMP errors), not a loop (tens of thousands of frames, one core busy).
    await sleep(1000);
    const s2 = stats();
    const wallUs = s2.uptimeUs - s1.uptimeUs;
    const busyUs = s2.domains.reduce((n, d) => n + d.cpu.busyUs, 0) - s1.domains.reduce((n, d) => n + d.cpu.busyUs, 0);
    const frames = s2.domains.reduce((n, d) => n + d.cpu.framesHandled, 0) - s1.domains.reduce((n, d) => n + d.cpu.framesHandled, 0);
    const local = s2.switch.txLocal - s1.switch.txLocal;
    console.log(`after the spoofed echo: ${frames} frames handled, ${local} delivered locally, guests busy ${((100 * busyUs) / wallUs).toFixed(1)} % over ${(wallUs / 1e6).toFixed(2)} s`);
    const trickle = (2 * wallUs) / CONTROL_PERIOD_US + 50;
    expect(frames, 'frames handled in the second after: the telemetry trickle only').toBeLessThan(trickle);
    expect(local, 'frames delivered guest to guest in the second after').toBeLessThan(trickle);
    expect(busyUs / wallUs, 'share of the processor the guests used in the second after').toBeLessThan(0.2);
    alive(s2);
    answers(RTOS, 'after the spoofed echo');
  });

  it('(c) ARP lies: sender MAC not the source, claiming a guest\'s MAC or address, the host\'s address bound to a guest\'s MAC: both guests still answer the host, no guest-to-guest frame leaves on the wire', async () => {
    const before = stats();
    const seenFrom = inj.seen.length;
    const frames = [
      // 1. Sender MAC is not the Ethernet source: would bind the host's address to OTHER_MAC in both guests (arp-sha-mismatch).
      arp({ ethDst: BROADCAST, ethSrc: EVIL, op: 1, sha: OTHER_MAC, spa: HOST, tha: '00:00:00:00:00:00', tpa: RTOS.ip }),
      // 2. Claiming a guest's address, unicast so the host's own cache is not touched: the gpos is
      //    the rtos, the rtos is the gpos, both at EVIL (rxSpoofedIp x2).
      arp({ ethDst: GPOS.mac, ethSrc: EVIL, op: 2, sha: EVIL, spa: RTOS.ip, tha: GPOS.mac, tpa: GPOS.ip }),
      arp({ ethDst: RTOS.mac, ethSrc: EVIL, op: 2, sha: EVIL, spa: GPOS.ip, tha: RTOS.mac, tpa: RTOS.ip }),
      // 3. Broadcast binding the host's address to a guest's MAC, from that MAC (rxSpoofedMac, Ethernet source) ...
      arp({ ethDst: BROADCAST, ethSrc: RTOS.mac, op: 1, sha: RTOS.mac, spa: HOST, tha: '00:00:00:00:00:00', tpa: GPOS.ip }),
      //    ... and with a guest's MAC as ARP sender only (rxSpoofedMac, ARP sender).
      arp({ ethDst: BROADCAST, ethSrc: EVIL, op: 1, sha: GPOS.mac, spa: HOST, tha: '00:00:00:00:00:00', tpa: RTOS.ip }),
      // 4. Not ARP, but the same claim on a guest's MAC: a datagram to the gpos from the rtos's MAC (rxSpoofedMac, Ethernet source).
      udp4({ ethDst: GPOS.mac, ethSrc: RTOS.mac, src: STRANGER, dst: GPOS.ip, srcPort: 40000, dstPort: 7, payload: [...Buffer.from('from your neighbour')] }),
    ];
    // A few of each, as an attacker would repeat them.
    for (let i = 0; i < 3; i++) await inj.send(...frames);
    await sleep(300);
    const after = stats();
    alive(after);
    for (const g of GUESTS) expect(netDrop(after, g.name, 'arp-sha-mismatch') - netDrop(before, g.name, 'arp-sha-mismatch'), `${g.name}: arp-sha-mismatch`).toBe(3);
    expect(after.switch.rxSpoofedIp - before.switch.rxSpoofedIp, 'rxSpoofedIp').toBe(6);
    // Each frame is dropped by the first check that sees it, so each check is held by a count of its own.
    expect(after.switch.rxSpoofedMac - before.switch.rxSpoofedMac, 'rxSpoofedMac').toBe(9);

    // Both guests still answer the host (their replies go to the host's MAC, not OTHER_MAC or a guest's).
    for (const g of GUESTS) answers(g, 'after the ARP lies');

    // Traffic between the guests goes on (telemetry rtos->gpos, ICMP errors gpos->rtos) and stays local.
    const s0 = stats();
    await sleep(1000);
    const s1 = stats();
    for (const g of GUESTS) expect(domain(s1, g.name).port.txLocal - domain(s0, g.name).port.txLocal, `${g.name} sent to the other guest`).toBeGreaterThan(0);
    const onWire = inj.seen.slice(seenFrom).filter((f) => {
      const ip = ipv4(f);
      return (
        f.dst === EVIL || f.dst === OTHER_MAC ||
        (!!ip && ((ip.src === RTOS.ip && ip.dst === GPOS.ip) || (ip.src === GPOS.ip && ip.dst === RTOS.ip)))
      );
    });
    expect(onWire.map((f) => `${f.src} > ${f.dst} ${f.bytes.subarray(14, 34).toString('hex')}`), 'guest-to-guest frames (or frames to a forged MAC) seen on the wire').toEqual([]);
  });
});
