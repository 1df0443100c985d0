// Replay on the virtual clock: the machine answers what the capture asks, and the same input
// gives the same output frames at the same virtual times.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../machine/clock.js';
import { ReplayLink, type ReplayFrame } from '../link/replay.js';
import type { Link, LinkReceiver } from '../link/link.js';
import { ArpOperation, ArpRepr, IpProtocol, MAC_BROADCAST, parseIpv4, parseMac } from '../wire/index.js';
import { arpFrame, icmpBytes, ipv4Frame } from '../net/testing.js';
import { buildMachine } from './machine.js';
import { defaultConfig } from './config.js';
import { framesFromCapture, replay, type ReplayOptions } from './replay.js';
import type { CaptureFile, CaptureInterface, CapturePacket } from '../capture/reader.js';

const HOST_MAC = parseMac('02:00:00:00:00:01')!;
const HOST_IP = parseIpv4('10.77.0.1')!;
const RTOS_MAC = parseMac('02:4e:53:00:00:0a')!;
const RTOS_IP = parseIpv4('10.77.0.10')!;
const T0 = 1_700_000_000_000_000; // capture time of the first frame, us since the epoch

const INPUT: ReplayFrame[] = [
  { tsUs: T0, data: arpFrame(MAC_BROADCAST, HOST_MAC, new ArpRepr(ArpOperation.Request, HOST_MAC, HOST_IP, 0, RTOS_IP)) },
  { tsUs: T0 + 250_000, data: ipv4Frame(RTOS_MAC, HOST_MAC, HOST_IP, RTOS_IP, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 7, seqNo: 1, data: new Uint8Array(8) })) },
  { tsUs: T0 + 100_000, data: new Uint8Array(10) }, // a runt, and a timestamp that steps back
];

/** What the machine sent, with the virtual time it was sent at. */
class Recorder implements Link {
  readonly out: Array<[number, string]> = [];
  constructor(private readonly inner: ReplayLink, private readonly clock: ManualClock) {}
  get name(): string {
    return this.inner.name;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get stats() {
    return this.inner.stats;
  }
  send(f: Uint8Array): boolean {
    this.out.push([this.clock.now(), Buffer.from(f).toString('hex')]);
    return this.inner.send(f);
  }
  attach(rx: LinkReceiver): void {
    this.inner.attach(rx);
  }
  close(): void {
    this.inner.close();
  }
}

async function run(waits: number[] = [], input: readonly ReplayFrame[] = INPUT, opts: ReplayOptions = {}) {
  const clock = new ManualClock(T0);
  const link = new ReplayLink('pcap:test');
  const rec = new Recorder(link, clock);
  const m = buildMachine({ ...defaultConfig(), addressProbe: false }, rec, clock);
  m.start();
  const result = await replay(input, clock, link, { wait: async (us) => void waits.push(us), tailUs: 500_000, ...opts });
  m.stop();
  return { result, out: rec.out, link, clock };
}

describe('replay', () => {
  it('feeds every frame at its recorded time, skips what cannot be a frame, runs the tail', async () => {
    const waits: number[] = [];
    const { result, link, clock } = await run(waits);
    expect(result).toEqual({ fed: 2, skipped: 1, gapsShortened: 0, spanUs: 750_000, tailUs: 500_000, interrupted: false });
    expect(link.stats).toMatchObject({ rxFrames: 2, rxSkipped: 1 });
    expect(waits).toEqual([250_000]);
    expect(clock.now()).toBe(T0 + 750_000);
  });

  it('the guests answer: an ARP reply and an echo reply from the rtos, at the request times', async () => {
    const { out } = await run();
    const from = (t: number) => out.filter(([at, hex]) => at === t && hex.slice(12, 24) === '024e5300000a');
    expect(from(T0).some(([, hex]) => hex.slice(24, 28) === '0806' && hex.slice(40, 44) === '0002')).toBe(true);
    expect(from(T0 + 250_000).some(([, hex]) => hex.slice(24, 28) === '0800' && hex.slice(28 + 18, 28 + 20) === '01' && hex.slice(28 + 40, 28 + 42) === '00')).toBe(true);
  });

  it('is deterministic: the same input gives the same frames at the same times', async () => {
    const a = await run();
    const b = await run();
    expect(a.out.length).toBeGreaterThan(2);
    expect(b.out).toEqual(a.out);
  });
});

describe('replay: bounds', () => {
  it('shortens a gap longer than maxGapUs to it, and counts it', async () => {
    const waits: number[] = [];
    const input = [INPUT[0]!, { tsUs: T0 + 3_600_000_000, data: INPUT[1]!.data }, { tsUs: T0 + 3_600_100_000, data: INPUT[1]!.data }];
    const { result } = await run(waits, input, { maxGapUs: 1_000_000 });
    expect(waits).toEqual([1_000_000, 100_000]);
    expect(result.gapsShortened).toBe(1);
    expect(result.spanUs).toBe(1_100_000 + 500_000);
  });

  it('with settle, the tail ends once nothing was sent for quietUs (not before the replies left)', async () => {
    const { result, out } = await run([], INPUT.slice(0, 2), { tailUs: 5_000_000, settle: { quietUs: 100_000, stepUs: 1000, busy: () => false } });
    expect(result.tailUs).toBeGreaterThanOrEqual(100_000);
    expect(result.tailUs).toBeLessThan(5_000_000);
    const lastSent = out[out.length - 1]![0];
    expect(T0 + result.spanUs - lastSent).toBeGreaterThanOrEqual(100_000);
  });

  it('with settle, a busy machine keeps the tail running up to tailUs', async () => {
    const { result } = await run([], INPUT.slice(0, 2), { tailUs: 300_000, settle: { quietUs: 10_000, stepUs: 1000, busy: () => true } });
    expect(result.tailUs).toBe(300_000);
  });

  it('stops before the next frame when stopped() says so, and runs no tail', async () => {
    let n = 0;
    const { result } = await run([], INPUT, { stopped: () => n++ >= 1 });
    expect(result).toMatchObject({ fed: 1, interrupted: true, tailUs: 0 });
  });
});

const ETH: CaptureInterface = { name: undefined, description: undefined, linktype: 1, snaplen: 65535, tsUnitNs: 1000 };
const pkt = (ifIndex: number, tsNs: bigint, byte: number, flags = 0): CapturePacket => ({ ifIndex, tsNs, data: new Uint8Array([byte]), origLen: 1, flags, comment: undefined });
const file = (interfaces: CaptureInterface[], packets: CapturePacket[]): CaptureFile => ({ format: 'pcapng', interfaces, packets, validBytes: 0, stopped: undefined });

describe('framesFromCapture', () => {
  it('classic pcap: every frame, times in us from the first', () => {
    const r = framesFromCapture({ ...file([ETH], [pkt(0, 5_000_000n, 1), pkt(0, 5_250_500n, 2)]), format: 'pcap' });
    expect(r).toEqual({ frames: [{ tsUs: 0, data: new Uint8Array([1]) }, { tsUs: 250.5, data: new Uint8Array([2]) }], firstNs: 5_000_000n, views: ['#0'], leftOut: 0 });
  });

  it('pcapng with views: the wire interface only, and not what the machine sent (direction out)', () => {
    const r = framesFromCapture(
      file([{ ...ETH, name: 'rtos' }, { ...ETH, name: 'wire' }, { ...ETH, name: 'gpos' }], [pkt(0, 1n, 1, 1), pkt(1, 2n, 2, 1), pkt(1, 3n, 3, 2), pkt(2, 4n, 4, 1), pkt(1, 5n, 5, 0)]),
    );
    if (typeof r === 'string') throw new Error(r);
    expect(r.frames.map((f) => f.data[0])).toEqual([2, 5]);
    expect(r.views).toEqual(['wire']);
    expect(r.leftOut).toBe(3);
    expect(r.firstNs).toBe(2n);
  });

  it('pcapng without a wire interface: the first Ethernet one', () => {
    const r = framesFromCapture(file([{ ...ETH, name: 'usb', linktype: 220 }, { ...ETH, name: 'eth0' }, { ...ETH, name: 'eth1' }], [pkt(0, 1n, 1), pkt(1, 2n, 2), pkt(2, 3n, 3)]));
    if (typeof r === 'string') throw new Error(r);
    expect(r.frames.map((f) => f.data[0])).toEqual([2]);
    expect(r.views).toEqual(['eth0']);
  });

  it('no Ethernet interface, or none at all: says so', () => {
    expect(framesFromCapture(file([{ ...ETH, linktype: 101 }], []))).toMatch(/no Ethernet interface \(linktype 101/);
    expect(framesFromCapture(file([], []))).toBe('no interface described');
  });
});
