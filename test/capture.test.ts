// The whole machine on the in-memory link with a pcapng capture: every kind of decision the
// nanokernel makes (unicast to each guest, broadcast, unknown unicast dropped, a guest's
// spoofed frame dropped, guest-to-guest delivery), read back with our reader and with tshark,
// and the frames per interface equal to the machine's own counters.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryLink } from '../src/link/memory.js';
import { ManualClock } from '../src/machine/clock.js';
import { buildMachine, type Machine } from '../src/board/machine.js';
import { defaultConfig } from '../src/board/config.js';
import { openCapture } from '../src/capture/open.js';
import { readCapture, directionOf, type CaptureFile } from '../src/capture/reader.js';
import { ArpOperation, ArpRepr, IpProtocol, MAC_BROADCAST, parseIpv4, parseMac } from '../src/wire/index.js';
import { arpFrame, icmpBytes, ipv4Frame, udpFrame } from '../src/net/testing.js';
import { skipWithoutTshark, tsharkFrames, tsharkInterfaces } from './tshark.js';
import { withTmpDir } from './lab.js';

const HOST_MAC = parseMac('02:00:00:00:00:01')!;
const HOST_IP = parseIpv4('10.77.0.1')!;
const RTOS = { mac: parseMac('02:4e:53:00:00:0a')!, ip: parseIpv4('10.77.0.10')! };
const GPOS = { mac: parseMac('02:4e:53:00:00:0b')!, ip: parseIpv4('10.77.0.11')! };
const EPOCH_NS = 1_700_000_000_000_000_000n;

const ping = (dstMac: number, dst: number, seqNo: number): Uint8Array =>
  ipv4Frame(dstMac, HOST_MAC, HOST_IP, dst, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 7, seqNo, data: new Uint8Array(8) }));

/** Run the scripted exchange on a captured machine; returns the machine and the file's bytes. */
function scriptedRun(path: string, views?: string[]): { machine: Machine; counters: Record<string, { in: number; out: number }> } {
  const clock = new ManualClock(1_000_000);
  const link = new MemoryLink('mem0');
  const cfg = defaultConfig();
  cfg.addressProbe = false; // addresses taken at once: this is not about the boot probe
  const { capture, sink } = openCapture(path, { guests: cfg.guests.map((g) => g.name), views, now: () => EPOCH_NS + BigInt(clock.now()) * 1000n, wireDescription: 'mem0' });
  const machine = buildMachine(cfg, link, clock, { capture });
  machine.start();
  clock.advance(0);
  const send = (...frames: Uint8Array[]): void => {
    link.inject(frames);
    clock.advance(0);
  };
  // ARP for each guest (broadcasts), a ping to each, an ARP for an absent host (broadcast).
  send(arpFrame(MAC_BROADCAST, HOST_MAC, new ArpRepr(ArpOperation.Request, HOST_MAC, HOST_IP, 0, RTOS.ip)));
  send(arpFrame(MAC_BROADCAST, HOST_MAC, new ArpRepr(ArpOperation.Request, HOST_MAC, HOST_IP, 0, GPOS.ip)));
  send(ping(RTOS.mac, RTOS.ip, 1), ping(GPOS.mac, GPOS.ip, 1));
  send(arpFrame(MAC_BROADCAST, HOST_MAC, new ArpRepr(ArpOperation.Request, HOST_MAC, HOST_IP, 0, parseIpv4('10.77.0.99')!)));
  // Nobody's MAC: dropped as unknown unicast.
  send(ping(parseMac('02:4e:53:00:00:99')!, RTOS.ip, 2));
  // The gpos speaks as the rtos: dropped by the source check.
  machine.guests.get('gpos')!.kernel.hw.nic.transmit(udpFrame(HOST_MAC, RTOS.mac, RTOS.ip, HOST_IP, 7, 9, new Uint8Array(8)));
  // Guest to guest: the gpos's datagram to the rtos's echo stays inside.
  machine.guests.get('gpos')!.net.udpBind(5555, () => {}).send(RTOS.ip, 7, new TextEncoder().encode('local'));
  clock.advance(10);
  sink.close();
  return { machine, counters: capture.counters };
}

function perInterface(cap: CaptureFile): Record<string, { in: number; out: number }> {
  const out: Record<string, { in: number; out: number }> = {};
  for (const i of cap.interfaces) out[i.name!] = { in: 0, out: 0 };
  for (const p of cap.packets) out[cap.interfaces[p.ifIndex]!.name!]![directionOf(p.flags)!]++;
  return out;
}

/** What the machine's own counters say each view must hold. */
function fromCounters(m: Machine): Record<string, { in: number; out: number }> {
  const s = m.stats();
  const out: Record<string, { in: number; out: number }> = { wire: { in: s.switch.rxFrames, out: s.switch.txFrames } };
  for (const d of s.domains) {
    const p = d.port;
    out[d.name] = { in: p.rxFrames + p.rxQueueFull + p.rxHalted, out: p.txFrames + p.txSpoofedMac + p.txSpoofedIp + p.txMalformed + p.txQueueFull };
  }
  return out;
}

describe('capture of the whole machine (in-memory link)', () => {
  it('holds every decision, in the right views, as many frames per view as the counters say', () => {
    withTmpDir('obs-mcap', (dir) => {
      const path = join(dir, 'm.pcapng');
      const { machine, counters } = scriptedRun(path);
      const cap = readCapture(readFileSync(path));
      expect(cap.stopped).toBeUndefined();
      expect(cap.interfaces.map((i) => [i.name, i.description])).toEqual([
        ['wire', "the NIC's cable (mem0)"],
        ['rtos', 'guest rtos: what it received and sent'],
        ['gpos', 'guest gpos: what it received and sent'],
      ]);
      const want = fromCounters(machine);
      expect(perInterface(cap)).toEqual(want);
      expect(counters).toEqual(want);
      const comments = new Set(cap.packets.map((p) => `${cap.interfaces[p.ifIndex]!.name} ${directionOf(p.flags)} ${p.comment}`));
      for (const c of [
        'wire in rx -> rtos,gpos (broadcast)', 'rtos in rx -> rtos,gpos (broadcast)', 'gpos in rx -> rtos,gpos (broadcast)',
        'wire in rx -> rtos', 'rtos in rx -> rtos', 'wire in rx -> gpos', 'gpos in rx -> gpos',
        'wire out tx rtos', 'rtos out tx rtos', 'wire out tx gpos', 'gpos out tx gpos',
        'wire in drop: unknown unicast', 'gpos out drop: spoofed source MAC',
        'gpos out local gpos -> rtos', 'rtos in local gpos -> rtos', 'rtos out local rtos -> gpos', 'gpos in local rtos -> gpos',
      ]) expect(comments, c).toContain(c);
      // The dropped frames never reached a guest or the wire.
      expect(cap.packets.filter((p) => p.comment?.startsWith('drop:')).map((p) => cap.interfaces[p.ifIndex]!.name)).toEqual(['wire', 'gpos']);
    });
  });

  it('with --capture-view gpos only: the gpos view alone, still equal to its counters', () => {
    withTmpDir('obs-mcap', (dir) => {
      const path = join(dir, 'g.pcapng');
      const { machine } = scriptedRun(path, ['gpos']);
      const cap = readCapture(readFileSync(path));
      expect(cap.interfaces.map((i) => i.name)).toEqual(['gpos']);
      expect(perInterface(cap)).toEqual({ gpos: fromCounters(machine).gpos });
    });
  });

  it.skipIf(skipWithoutTshark())('tshark: three named interfaces, no malformed frame, no expert error, every comment', () => {
    withTmpDir('obs-mcap', (dir) => {
      const path = join(dir, 't.pcapng');
      const { machine } = scriptedRun(path);
      expect(tsharkInterfaces(path)).toEqual(['wire', 'rtos', 'gpos']);
      const frames = tsharkFrames(path);
      expect(frames.filter((f) => f.malformed || f.expertErrors > 0)).toEqual([]);
      const per: Record<string, { in: number; out: number }> = {};
      for (const f of frames) {
        per[f.iface] ??= { in: 0, out: 0 };
        per[f.iface]![f.dir === 1 ? 'in' : 'out']++;
      }
      expect(per).toEqual(fromCounters(machine));
      expect(frames.every((f) => /^(rx -> |tx |local |drop: )/.test(f.comment))).toBe(true);
    });
  });
});
