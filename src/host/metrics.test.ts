import { describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { MemoryLink } from '../link/memory.js';
import { ManualClock } from '../machine/clock.js';
import { buildMachine } from '../board/machine.js';
import { defaultConfig } from '../board/config.js';
import { IpProtocol, parseIpv4, parseMac } from '../wire/index.js';
import { icmpBytes, ipv4Frame } from '../net/testing.js';
import { machineRegistry, serveMetrics } from './metrics.js';
import { parsePrometheus } from '../../test/prometheus.js';

const HOST_MAC = parseMac('02:00:00:00:00:01')!;
const HOST_IP = parseIpv4('10.77.0.1')!;

function running() {
  const clock = new ManualClock(1_000_000);
  const link = new MemoryLink('mem0');
  const machine = buildMachine({ ...defaultConfig(), addressProbe: false }, link, clock);
  machine.start();
  clock.advance(0);
  const pings = (n: number): void => {
    link.inject(Array.from({ length: n }, (_, i) => ipv4Frame(parseMac('02:4e:53:00:00:0b')!, HOST_MAC, HOST_IP, parseIpv4('10.77.0.11')!, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo: i, data: new Uint8Array(8) }))));
    link.inject([ipv4Frame(parseMac('02:4e:53:00:00:99')!, HOST_MAC, HOST_IP, parseIpv4('10.77.0.10')!, IpProtocol.Icmp, new Uint8Array(8))]);
  };
  return { clock, machine, pings };
}

describe('metrics', () => {
  it('reads every family from the machine at scrape time, equal to its counters', async () => {
    const { clock, machine, pings } = running();
    const registry = machineRegistry(() => machine.stats());
    pings(7);
    for (let i = 0; i < 50; i++) clock.advance(1000); // 50 releases of the rtos control task
    const samples = parsePrometheus(await registry.metrics());
    const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    const s = machine.stats();
    const gpos = s.domains.find((d) => d.name === 'gpos')!;
    expect(value('nanoshare_guest_frames_total', { guest: 'gpos', direction: 'rx' })).toBe(gpos.port.rxFrames);
    expect(gpos.port.rxFrames).toBeGreaterThanOrEqual(7);
    expect(value('nanoshare_guest_frames_total', { guest: 'gpos', direction: 'tx' })).toBe(gpos.port.txFrames);
    expect(value('nanoshare_guest_bytes_total', { guest: 'gpos', direction: 'rx' })).toBe(gpos.port.rxBytes);
    expect(value('nanoshare_guest_interrupts_total', { guest: 'rtos' })).toBe(s.domains[0]!.cpu.interrupts);
    expect(value('nanoshare_guest_cpu_seconds_total', { guest: 'gpos' })).toBeCloseTo(gpos.cpu.busyUs / 1e6, 9);
    expect(value('nanoshare_guest_up', { guest: 'gpos' })).toBe(1);
    expect(value('nanoshare_guest_faults_total', { guest: 'gpos' })).toBe(0);
    expect(value('nanoshare_switch_drops_total', { reason: 'rxUnknownUnicast' })).toBe(1);
    expect(value('nanoshare_switch_rx_frames_total', { cast: 'unicast' })).toBe(s.switch.rxUnicast);
    expect(value('nanoshare_guest_drops_total', { guest: 'gpos', reason: 'rxQueueFull' })).toBe(0);
    expect(value('nanoshare_nic_frames_total', { direction: 'rx' })).toBe(s.nic.rxFrames);
    // The lateness histogram: cumulative buckets ending in +Inf = count, and the sum in seconds.
    const late = s.guests.find((g) => g.name === 'rtos')!.control!.lateness;
    expect(late.count).toBeGreaterThanOrEqual(49);
    const buckets = samples.filter((x) => x.name === 'nanoshare_control_lateness_seconds_bucket' && x.labels.guest === 'rtos');
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.00001', '0.00005', '0.0001', '0.00025', '0.0005', '0.001', '+Inf']);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)!.value).toBe(late.count);
    expect(value('nanoshare_control_lateness_seconds_count', { guest: 'rtos' })).toBe(late.count);
    expect(value('nanoshare_control_lateness_seconds_sum', { guest: 'rtos' })).toBeCloseTo((late.meanUs * late.count) / 1e6, 9);
    // Collected lazily: more traffic shows at the next scrape, with nothing done in between.
    pings(3);
    clock.advance(200);
    const again = parsePrometheus(await registry.metrics());
    expect(again.find((x) => x.name === 'nanoshare_switch_drops_total' && x.labels.reason === 'rxUnknownUnicast')!.value).toBe(2);
    machine.stop();
  });

  it('serves GET /metrics over HTTP in the Prometheus text format, and 404 elsewhere', async () => {
    const { machine, pings } = running();
    pings(2);
    const server = await serveMetrics('127.0.0.1', 0, machineRegistry(() => machine.stats()));
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toMatch(/^# TYPE nanoshare_guest_frames_total counter$/m);
      expect(text).toMatch(/^# TYPE nanoshare_control_lateness_seconds histogram$/m);
      expect(parsePrometheus(text).length).toBeGreaterThan(40);
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    } finally {
      server.close();
      machine.stop();
    }
  });
});
