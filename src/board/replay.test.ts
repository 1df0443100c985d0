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
import { replay } from './replay.js';

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

async function run(waits: number[] = []) {
  const clock = new ManualClock(T0);
  const link = new ReplayLink('pcap:test');
  const rec = new Recorder(link, clock);
  const m = buildMachine(defaultConfig(), rec, clock);
  m.start();
  const result = await replay(INPUT, clock, link, { wait: async (us) => void waits.push(us), tailUs: 500_000 });
  m.stop();
  return { result, out: rec.out, link, clock };
}

describe('replay', () => {
  it('feeds every frame at its recorded time, skips what cannot be a frame, runs the tail', async () => {
    const waits: number[] = [];
    const { result, link, clock } = await run(waits);
    expect(result).toEqual({ fed: 2, skipped: 1, spanUs: 750_000 });
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
