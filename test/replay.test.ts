// `nanoshare run --link pcap:FILE` end to end, as a user runs it (no root, no TAP): every committed
// capture in pcaps/ is replayed twice and the two outputs must be the same bytes; the output shows
// the guests' answers to what the input asked (ARP replies, ICMP echo replies, UDP echo), read by
// our reader and, for classic pcap, by pcap-parser; a cut or missing input is exit 2 with one line
// naming the file and the byte.
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture, directionOf, type CaptureFile } from '../src/capture/reader.js';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'nanoshare');
const PCAPS = join(ROOT, 'pcaps');
const files = readdirSync(PCAPS).filter((f) => /\.pcap(ng)?$/.test(f));
const work = mkdtempSync(join(tmpdir(), 'nanoshare-replay-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const RTOS_MAC = '024e5300000a';
const GPOS_MAC = '024e5300000b';
const GUEST_IPS = new Map([['0a4d000a', RTOS_MAC], ['0a4d000b', GPOS_MAC]]); // 10.77.0.10, 10.77.0.11

function nanoshare(args: readonly string[]) {
  const r = spawnSync(process.execPath, [BIN, 'run', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Replay `input` into `out`; the run must end by itself with exit 0. */
function replayTo(input: string, out: string, ...more: string[]): Buffer {
  const r = nanoshare(['--link', `pcap:${input}`, '--capture', out, '--log-format', 'json', '--log-level', 'warn', ...more]);
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(out);
}

const hex = (b: Uint8Array, from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('hex');
/** Ethernet type, skipping no VLAN tag (the guests answer untagged frames only in these captures). */
const etherType = (f: Uint8Array) => hex(f, 12, 14);

/** The wire frames of a capture by direction (classic pcap has no direction: all of them). */
function wire(cap: CaptureFile, dir?: 'in' | 'out'): Uint8Array[] {
  const w = cap.interfaces.findIndex((i) => i.name === 'wire' || i.name === undefined);
  return cap.packets.filter((p) => p.ifIndex === w && (dir === undefined || cap.format === 'pcap' || directionOf(p.flags) === dir)).map((p) => p.data);
}

/**
 * ARP requests for a guest's address, and ICMP echo requests to a guest's MAC and address, in
 * `frames`; not from a guest's own MAC (its announcements, or a spoof the switch drops).
 */
function questions(all: Uint8Array[]) {
  const frames = all.filter((f) => hex(f, 6, 12) !== RTOS_MAC && hex(f, 6, 12) !== GPOS_MAC);
  const arp = frames.filter((f) => etherType(f) === '0806' && hex(f, 20, 22) === '0001' && GUEST_IPS.has(hex(f, 38, 42))).map((f) => ({ ip: hex(f, 38, 42), asker: hex(f, 28, 32) }));
  const echo = frames
    .filter((f) => etherType(f) === '0800' && f[23] === 1 && f[34] === 8 && GUEST_IPS.get(hex(f, 30, 34)) === hex(f, 0, 6))
    .map((f) => ({ mac: hex(f, 0, 6), ip: hex(f, 30, 34), idSeq: hex(f, 38, 42), from: hex(f, 26, 30) }));
  return { arp, echo };
}

describe('nanoshare run --link pcap: (replay)', () => {
  it.each(files)('%s: replayed twice, the same output bytes; the guests answer what it asked', (f) => {
    const input = join(PCAPS, f);
    const a = replayTo(input, join(work, `${f}.a.pcapng`));
    const b = replayTo(input, join(work, `${f}.b.pcapng`));
    expect(a.length).toBeGreaterThan(200);
    expect(b.equals(a)).toBe(true);

    const out = readCapture(a);
    expect(out.stopped).toBeUndefined();
    expect(out.interfaces.map((i) => i.name)).toEqual(['wire', 'rtos', 'gpos']);
    const sent = wire(out, 'out');
    // Every guest announces itself at boot (gratuitous ARP), whatever the input.
    for (const mac of [RTOS_MAC, GPOS_MAC]) expect(sent.some((s) => hex(s, 6, 12) === mac && etherType(s) === '0806'), mac).toBe(true);
    // Every question the input put to a guest has its answer on the wire, from that guest.
    const q = questions(wire(readCapture(readFileSync(input)), 'in'));
    for (const { ip, asker } of q.arp) {
      expect(sent.some((s) => etherType(s) === '0806' && hex(s, 20, 22) === '0002' && hex(s, 28, 32) === ip && hex(s, 38, 42) === asker && hex(s, 6, 12) === GUEST_IPS.get(ip)), `ARP reply for ${ip}`).toBe(true);
    }
    for (const { mac, ip, idSeq, from } of q.echo) {
      expect(sent.some((s) => hex(s, 6, 12) === mac && etherType(s) === '0800' && s[23] === 1 && s[34] === 0 && hex(s, 26, 30) === ip && hex(s, 30, 34) === from && hex(s, 38, 42) === idSeq), `echo reply ${ip} ${idSeq}`).toBe(true);
    }
    if (f.startsWith('nanoshare')) {
      // The scripted sample run pings both guests three times each, after asking for their MACs.
      expect(q.arp.length).toBeGreaterThanOrEqual(2);
      expect(q.echo.length).toBeGreaterThanOrEqual(6);
      // and sends a UDP echo to each: answered from port 7 by both.
      const udpFrom7 = sent.filter((s) => etherType(s) === '0800' && s[23] === 17 && hex(s, 34, 36) === '0007');
      expect(new Set(udpFrom7.map((s) => hex(s, 6, 12)))).toEqual(new Set([RTOS_MAC, GPOS_MAC]));
    }
  });

  it('output timestamps are the capture\'s: the first frame in is at the first recorded time', () => {
    const input = join(PCAPS, 'nanoshare.pcapng');
    const out = readCapture(replayTo(input, join(work, 'ts.pcapng')));
    const rec = readCapture(readFileSync(input));
    const firstIn = rec.packets.find((p) => rec.interfaces[p.ifIndex]!.name === 'wire' && directionOf(p.flags) === 'in')!;
    const outIn = out.packets.find((p) => out.interfaces[p.ifIndex]!.name === 'wire' && directionOf(p.flags) === 'in')!;
    expect(outIn.tsNs).toBe(firstIn.tsNs);
    expect(Buffer.from(outIn.data).equals(Buffer.from(firstIn.data))).toBe(true);
  });

  it('a classic pcap output (wire view) is the same bytes twice, and pcap-parser reads it', async () => {
    const input = join(PCAPS, 'nanoshare-wire.pcap');
    const a = replayTo(input, join(work, 'a.pcap'));
    expect(replayTo(input, join(work, 'b.pcap')).equals(a)).toBe(true);
    const pp = require('pcap-parser') as { parse(input: NodeJS.ReadableStream): NodeJS.EventEmitter };
    const theirs = await new Promise<Buffer[]>((resolve, reject) => {
      const out: Buffer[] = [];
      const p = pp.parse(createReadStream(join(work, 'a.pcap')));
      p.on('packet', (pkt: { data: Buffer }) => out.push(pkt.data));
      p.on('error', reject);
      p.on('end', () => resolve(out));
    });
    expect(theirs.map((d) => d.toString('hex'))).toEqual(readCapture(a).packets.map((p) => Buffer.from(p.data).toString('hex')));
    // An echo reply from each guest is among them.
    for (const mac of [RTOS_MAC, GPOS_MAC]) expect(theirs.some((d) => hex(d, 6, 12) === mac && d[23] === 1 && d[34] === 0), mac).toBe(true);
  });

  it('a cut input is exit 2 with one line naming the file and the byte where it breaks; no output is written', () => {
    const whole = readFileSync(join(PCAPS, 'nanoshare.pcapng'));
    const cut = join(work, 'cut.pcapng');
    writeFileSync(cut, whole.subarray(0, 1000));
    const out = join(work, 'never.pcapng');
    const r = nanoshare(['--link', `pcap:${cut}`, '--capture', out]);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    // The last whole block ends before byte 1000; the line names where the cut one starts.
    const at = Number(/at byte (\d+)/.exec(lines[0]!)?.[1]);
    expect(readCapture(whole.subarray(0, at)).stopped).toBeUndefined();
    expect(at).toBeLessThan(1000);
    expect(lines[0]).toMatch(new RegExp(`^nanoshare: --link pcap:${cut}: block at byte ${at} cut`));
    expect(() => readFileSync(out)).toThrow();

    const cutPcap = join(work, 'cut.pcap');
    writeFileSync(cutPcap, readFileSync(join(PCAPS, 'sample.pcap')).subarray(0, 100));
    const line = nanoshare(['--link', `pcap:${cutPcap}`]).stderr;
    expect(line).toMatch(new RegExp(`^nanoshare: --link pcap:${cutPcap}: record at byte \\d+ cut \\(\\d+ bytes captured\\)\\n$`));
    const atPcap = Number(/at byte (\d+)/.exec(line)?.[1]);
    expect(atPcap).toBeGreaterThan(24);
    expect(readCapture(readFileSync(join(PCAPS, 'sample.pcap')).subarray(0, atPcap)).stopped).toBeUndefined();
  });

  it('a missing or foreign input is exit 2 with one line naming the file', () => {
    const missing = nanoshare(['--link', `pcap:${join(work, 'absent.pcap')}`]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`nanoshare: --link pcap:${join(work, 'absent.pcap')}: cannot read: no such file\n`);
    const readme = nanoshare(['--link', 'pcap:README.md']);
    expect(readme.status).toBe(2);
    expect(readme.stderr).toMatch(/^nanoshare: --link pcap:README\.md: not a pcap or pcapng file \(magic [0-9a-f]{8}\), at byte 0\n$/);
  });

  it('logs JSON by default on a pipe, and pretty lines with --log-format pretty (pino-pretty, imported only then)', () => {
    const input = join(PCAPS, 'sample.pcap');
    const json = nanoshare(['--link', `pcap:${input}`, '--log-level', 'info']);
    expect(json.status, json.stderr).toBe(0);
    const first = JSON.parse(json.stderr.split('\n')[0]!) as { msg: string };
    expect(typeof first.msg).toBe('string');
    const pretty = nanoshare(['--link', `pcap:${input}`, '--log-level', 'info', '--log-format', 'pretty']);
    expect(pretty.status, pretty.stderr).toBe(0);
    expect(pretty.stderr).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): /);
    expect(pretty.stderr).not.toContain('{"level"');
  });
});
