// System test of the per-view capture (issue 10): the real `nanoshare run` on a TAP in a lab
// namespace of its own, traffic of every kind the switch decides about (unicast to each guest,
// broadcast, unknown unicast, a frame from the wire claiming a guest's MAC), and the pcapng read
// back with tshark and our reader: three named interfaces, the decisions as comments, nothing
// malformed, frames per interface equal to the machine's own counters. Then SIGKILL in the middle
// of a capture, and `--capture -` read live by tshark. Skips with a reason without root or
// tshark; fails under NANOSHARE_REQUIRE_NET=1.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns, probe, probeInBackground, skipLab, stopChild, waitFor, withTmpDir } from './lab.js';
import { FIXED_MACS, startMachine, terminate, type Running } from './machine-process.js';
import { tsharkFrames, tsharkInterfaces, type TsharkFrame } from './tshark.js';
import { readCapture, directionOf } from '../src/capture/reader.js';
import { parsePrometheus } from './prometheus.js';

const GUESTS = [
  { name: 'rtos', mac: '02:4e:53:00:00:0a', ip: '10.77.0.10' },
  { name: 'gpos', mac: '02:4e:53:00:00:0b', ip: '10.77.0.11' },
] as const;

/** Send one Ethernet frame on nstap0 from inside the namespace (python3's AF_PACKET socket). */
function sendRaw(ns: Netns, hex: string): void {
  ns.exec(['python3', '-c', 'import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("nstap0", 0)); s.send(bytes.fromhex(sys.argv[1]))', hex]);
}

/** An ICMP echo request from 10.77.0.1 to the gpos, with the rtos's MAC as its source: a spoof from the wire. */
const SPOOFED = '024e5300000b' + '024e5300000a' + '0800' + '4500001c00004000400100000a4d00010a4d000b' + '0800f7ff00000000' + '00'.repeat(18);

interface Stopped {
  stats: { switch: Record<string, number>; domains: Array<{ name: string; rx: number; tx: number; drops: number }> };
  captured: number;
  capturedByView: Record<string, { in: number; out: number }>;
}

function stoppedLine(m: Running): Stopped {
  const line = m.stderr().split('\n').find((l) => l.includes('"msg":"stopped"'));
  expect(line, m.stderr()).toBeDefined();
  return JSON.parse(line!) as Stopped;
}

function perInterface(frames: readonly TsharkFrame[]): Record<string, { in: number; out: number }> {
  const out: Record<string, { in: number; out: number }> = {};
  for (const f of frames) {
    out[f.iface] ??= { in: 0, out: 0 };
    out[f.iface]![f.dir === 1 ? 'in' : 'out']++;
  }
  return out;
}

const skip = skipLab(['tshark', 'capinfos', 'python3']);

describe.skipIf(skip)('system: pcapng capture of a real run, per view', () => {
  it('three named interfaces, every decision as a comment, nothing malformed, frames per interface equal to the counters', async () => {
    await withTmpDir('obs-syscap', async (tmp) => {
      const ns = Netns.create('obscap');
      const cap = join(tmp, 'cap.pcapng');
      let m: Running | undefined;
      try {
        m = await startMachine(ns, [...FIXED_MACS, '--capture', cap, '--control', join(tmp, 'ctl.sock')]);
        for (const g of GUESTS) expect(probe(ns, g.ip, { count: 3, intervalMs: 100 }).received).toBe(3);
        // An address nobody has: the host's ARP request is a broadcast both guests get.
        probe(ns, '10.77.0.99', { count: 1, timeoutMs: 300 });
        // A MAC nobody has: unknown unicast, dropped.
        ns.exec(['ip', 'neigh', 'replace', '10.77.0.98', 'lladdr', '02:4e:53:00:00:99', 'dev', 'nstap0']);
        probe(ns, '10.77.0.98', { count: 1, timeoutMs: 300 });
        // A frame from the wire with the rtos's MAC as its source: dropped as a spoof.
        sendRaw(ns, SPOOFED);
        await new Promise((r) => setTimeout(r, 200));
        const { code } = await terminate(m);
        expect(code, m.stderr()).toBe(0);

        const stopped = stoppedLine(m);
        const sw = stopped.stats.switch;
        expect(tsharkInterfaces(cap)).toEqual(['wire', 'rtos', 'gpos']);
        const frames = tsharkFrames(cap);
        expect(frames.filter((f) => f.malformed || f.expertErrors > 0)).toEqual([]);
        const comments = new Set(frames.map((f) => `${f.iface} ${f.comment}`));
        for (const c of [
          'wire rx -> rtos', 'rtos rx -> rtos', 'wire rx -> gpos', 'gpos rx -> gpos', 'wire tx rtos', 'rtos tx rtos', 'wire tx gpos', 'gpos tx gpos',
          'wire rx -> rtos,gpos (broadcast)', 'rtos rx -> rtos,gpos (broadcast)', 'gpos rx -> rtos,gpos (broadcast)',
          'wire drop: unknown unicast', 'wire drop: spoofed source MAC from the wire',
        ]) expect(comments, `no frame "${c}" in ${[...comments].join(' | ')}`).toContain(c);

        // Frames per interface: what tshark counts = what the capture wrote = the machine's counters.
        const want: Record<string, { in: number; out: number }> = { wire: { in: sw.rxFrames!, out: sw.txFrames! } };
        // A guest's view: what it was given and what it sent (no queue was full in this run; the
        // spoof is counted against the guest it claimed to be, and shown on the wire).
        for (const d of stopped.stats.domains) want[d.name] = { in: d.rx, out: d.tx };
        expect(perInterface(frames)).toEqual(want);
        expect(stopped.capturedByView).toEqual(want);
        expect(sw.rxUnknownUnicast).toBeGreaterThanOrEqual(1);
        expect(sw.rxSpoofedMac).toBe(1);

        // Our reader agrees with tshark frame by frame.
        const ours = readCapture(readFileSync(cap));
        expect(ours.stopped).toBeUndefined();
        expect(ours.packets.map((p) => `${ours.interfaces[p.ifIndex]!.name} ${directionOf(p.flags)} ${p.comment}`)).toEqual(
          frames.map((f) => `${f.iface} ${f.dir === 1 ? 'in' : 'out'} ${f.comment}`),
        );
        console.log(`pcapng: ${frames.length} frames; per view ${JSON.stringify(want)}`);
      } finally {
        if (m) await stopChild(m.child);
        await ns.delete();
      }
    });
  });

  it('SIGKILL in the middle of traffic leaves a pcapng readable to its last whole block', async () => {
    await withTmpDir('obs-syskill', async (tmp) => {
      const ns = Netns.create('obskill');
      const cap = join(tmp, 'kill.pcapng');
      let m: Running | undefined;
      try {
        m = await startMachine(ns, [...FIXED_MACS, '--capture', cap, '--control', join(tmp, 'ctl.sock')]);
        const floods = GUESTS.map((g) => probeInBackground(ns, g.ip, 5));
        await waitFor('traffic in the capture', () => (statSync(cap, { throwIfNoEntry: false })?.size ?? 0) > 200_000, 20_000);
        m.child.kill('SIGKILL');
        const { signal } = await m.exited;
        expect(signal).toBe('SIGKILL');
        await Promise.all(floods.map((f) => stopChild(f)));

        const bytes = readFileSync(cap);
        const ours = readCapture(bytes);
        expect(ours.packets.length).toBeGreaterThan(500);
        // Whole blocks up to the end, or a cut in the last one only (a write the kill interrupted).
        if (ours.stopped !== undefined) expect(ours.stopped).toMatch(/cut/);
        const tail = bytes.length - ours.validBytes;
        expect(tail).toBeLessThan(300 * 1024);
        const frames = tsharkFrames(cap, { allowCut: true });
        expect(frames.length).toBe(ours.packets.length);
        expect(frames.filter((f) => f.malformed || f.expertErrors > 0)).toEqual([]);
        console.log(`pcapng after SIGKILL: ${ours.packets.length} frames in ${ours.validBytes} bytes, ${tail} bytes of a cut block after them`);
      } finally {
        if (m) await stopChild(m.child);
        await ns.delete();
      }
    });
  });

  it('--capture - streams pcapng on stdout that tshark reads while the machine runs', async () => {
    await withTmpDir('obs-syslive', async (tmp) => {
      const ns = Netns.create('obslive');
      let m: Running | undefined;
      try {
        m = await startMachine(ns, [...FIXED_MACS, '--capture', '-', '--control', join(tmp, 'ctl.sock')], { stdout: 'pipe' });
        const tshark = ns.spawn(['tshark', '-l', '-n', '-i', '-', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.interface_name', '-e', 'frame.comment'], { stdio: ['pipe', 'pipe', 'pipe'] });
        m.child.stdout!.pipe(tshark.stdin!);
        let seen = '';
        tshark.stdout!.setEncoding('utf8');
        tshark.stdout!.on('data', (d: string) => (seen += d));
        for (const g of GUESTS) expect(probe(ns, g.ip, { count: 2, intervalMs: 100 }).received).toBe(2);
        // Seen live: the machine is still running.
        await waitFor('tshark showing both guests answering', () => seen.includes('rtos|tx rtos') && seen.includes('gpos|tx gpos') && seen.includes('wire|rx -> gpos'), 10_000);
        expect(m.child.exitCode).toBeNull();
        const { code } = await terminate(m);
        expect(code, m.stderr()).toBe(0);
        await stopChild(tshark);
        // Logs stay on stderr, every line of it JSON; the pcapng is all on stdout.
        for (const line of m.stderr().split('\n').filter((l) => l.length > 0)) expect(() => JSON.parse(line), line).not.toThrow();
      } finally {
        if (m) await stopChild(m.child);
        await ns.delete();
      }
    });
  });

  it('--metrics serves /metrics; a scrape parses and counts what the guests did', async () => {
    await withTmpDir('obs-sysmet', async (tmp) => {
      const ns = Netns.create('obsmet');
      let m: Running | undefined;
      try {
        m = await startMachine(ns, [...FIXED_MACS, '--metrics', '127.0.0.1:9464', '--control', join(tmp, 'ctl.sock')]);
        expect((m.ready as unknown as { metrics: string }).metrics).toBe('http://127.0.0.1:9464/metrics');
        for (const g of GUESTS) expect(probe(ns, g.ip, { count: 5, intervalMs: 50 }).received).toBe(5);
        const scrape = (): ReturnType<typeof parsePrometheus> =>
          parsePrometheus(ns.exec([process.execPath, '-e', "fetch('http://127.0.0.1:9464/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"]));
        const samples = scrape();
        const value = (name: string, labels: Record<string, string>): number => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? NaN;
        for (const g of GUESTS) {
          expect(value('nanoshare_guest_frames_total', { guest: g.name, direction: 'rx' })).toBeGreaterThanOrEqual(5);
          expect(value('nanoshare_guest_frames_total', { guest: g.name, direction: 'tx' })).toBeGreaterThanOrEqual(5);
          expect(value('nanoshare_guest_cpu_seconds_total', { guest: g.name })).toBeGreaterThan(0);
          expect(value('nanoshare_guest_up', { guest: g.name })).toBe(1);
        }
        const count = value('nanoshare_control_lateness_seconds_count', { guest: 'rtos' });
        expect(count).toBeGreaterThan(100); // the 1 ms control task has been released for a while
        expect(value('nanoshare_control_lateness_seconds_bucket', { guest: 'rtos', le: '+Inf' })).toBe(count);
        // Counters only grow between scrapes.
        await new Promise((r) => setTimeout(r, 300));
        const later = scrape();
        const c2 = later.find((s) => s.name === 'nanoshare_control_lateness_seconds_count')!.value;
        expect(c2).toBeGreaterThan(count);
        const { code } = await terminate(m);
        expect(code, m.stderr()).toBe(0);
      } finally {
        if (m) await stopChild(m.child);
        await ns.delete();
      }
    });
  });
});
