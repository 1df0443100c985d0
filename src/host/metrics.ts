// Prometheus metrics (`--metrics ADDR:PORT`, off by default): the machine's counters where an
// operator's other hosts' counters already are. Nothing is counted on the hot path: at each
// scrape the metrics are read from one snapshot of the machine (prom-client's collect hooks),
// so an unscraped machine pays nothing.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { MachineStats } from '../board/machine.js';

type Labels = Record<string, string>;
type Sample = [labels: Labels, value: number];

interface Family {
  name: string;
  help: string;
  kind: 'counter' | 'gauge';
  labels: readonly string[];
  samples(s: MachineStats): Sample[];
}

const perDomain = (pick: (d: MachineStats['domains'][number]) => number) => (s: MachineStats): Sample[] => s.domains.map((d) => [{ guest: d.name }, pick(d)]);

/** Drop reasons are counter names: the port's and the switch's counters whose names say so. */
const DROP_KEY = /^(rx|tx)(QueueFull|Halted|Flushed|SpoofedMac|SpoofedIp|Malformed|Runt|UnknownUnicast|NoSubscriber)$/;
const NIC_DROPS = ['rxRingFull', 'rxRunts', 'rxOversize', 'txRingFull', 'txLinkDropped'] as const;

const FAMILIES: Family[] = [
  { name: 'nanoshare_uptime_seconds', help: 'Seconds since the machine started.', kind: 'gauge', labels: [], samples: (s) => [[{}, s.uptimeUs / 1e6]] },
  { name: 'nanoshare_nanokernel_cpu_seconds_total', help: 'Processor time in the nanokernel itself (demux, arbitration).', kind: 'counter', labels: [], samples: (s) => [[{}, s.processor.kernelUs / 1e6]] },
  { name: 'nanoshare_guest_cpu_seconds_total', help: "Processor time spent in the guest's units.", kind: 'counter', labels: ['guest'], samples: perDomain((d) => d.cpu.busyUs / 1e6) },
  { name: 'nanoshare_guest_units_total', help: 'Units of guest work dispatched (interrupt handler runs, task steps).', kind: 'counter', labels: ['guest'], samples: perDomain((d) => d.cpu.units) },
  { name: 'nanoshare_guest_quanta_total', help: 'Quanta given to a secondary guest.', kind: 'counter', labels: ['guest'], samples: perDomain((d) => d.cpu.quanta) },
  { name: 'nanoshare_guest_preemptions_total', help: 'Quanta cut short because the primary had work.', kind: 'counter', labels: ['guest'], samples: perDomain((d) => d.cpu.preemptions) },
  { name: 'nanoshare_guest_interrupts_total', help: 'Virtual interrupts delivered to the guest.', kind: 'counter', labels: ['guest'], samples: perDomain((d) => d.cpu.interrupts) },
  { name: 'nanoshare_guest_faults_total', help: "Units of the guest's code that threw (caught at the unit boundary).", kind: 'counter', labels: ['guest'], samples: perDomain((d) => d.cpu.faults) },
  { name: 'nanoshare_guest_reboots_total', help: 'Times the guest was rebuilt and booted again.', kind: 'counter', labels: ['guest'], samples: perDomain((d) => d.cpu.reboots) },
  { name: 'nanoshare_guest_up', help: '1 while the guest runs, 0 once it is halted.', kind: 'gauge', labels: ['guest'], samples: perDomain((d) => (d.state === 'halted' ? 0 : 1)) },
  {
    name: 'nanoshare_guest_frames_total', help: 'Frames delivered to the guest (rx) and sent by it (tx, to the wire or another guest).', kind: 'counter', labels: ['guest', 'direction'],
    samples: (s) => s.domains.flatMap((d): Sample[] => [[{ guest: d.name, direction: 'rx' }, d.port.rxFrames], [{ guest: d.name, direction: 'tx' }, d.port.txFrames]]),
  },
  {
    name: 'nanoshare_guest_bytes_total', help: 'Bytes delivered to the guest (rx) and sent by it (tx).', kind: 'counter', labels: ['guest', 'direction'],
    samples: (s) => s.domains.flatMap((d): Sample[] => [[{ guest: d.name, direction: 'rx' }, d.port.rxBytes], [{ guest: d.name, direction: 'tx' }, d.port.txBytes]]),
  },
  {
    name: 'nanoshare_guest_drops_total', help: "Frames dropped on their way to or from the guest, by reason (the switch's counter name).", kind: 'counter', labels: ['guest', 'reason'],
    samples: (s) => s.domains.flatMap((d) => Object.entries(d.port).filter(([k]) => DROP_KEY.test(k)).map(([reason, v]): Sample => [{ guest: d.name, reason }, v])),
  },
  {
    name: 'nanoshare_switch_rx_frames_total', help: 'Frames from the wire, by destination kind.', kind: 'counter', labels: ['cast'],
    samples: (s) => [[{ cast: 'unicast' }, s.switch.rxUnicast], [{ cast: 'broadcast' }, s.switch.rxBroadcast], [{ cast: 'multicast' }, s.switch.rxMulticast]],
  },
  { name: 'nanoshare_switch_tx_frames_total', help: 'Frames the switch sent to the wire.', kind: 'counter', labels: [], samples: (s) => [[{}, s.switch.txFrames]] },
  { name: 'nanoshare_switch_local_frames_total', help: 'Frames delivered guest to guest without the wire.', kind: 'counter', labels: [], samples: (s) => [[{}, s.switch.txLocal]] },
  {
    name: 'nanoshare_switch_drops_total', help: 'Frames the switch dropped, by reason (its counter name).', kind: 'counter', labels: ['reason'],
    samples: (s) => Object.entries(s.switch).filter(([k]) => DROP_KEY.test(k)).map(([reason, v]): Sample => [{ reason }, v]),
  },
  {
    name: 'nanoshare_nic_frames_total', help: 'Frames through the NIC.', kind: 'counter', labels: ['direction'],
    samples: (s) => [[{ direction: 'rx' }, s.nic.rxFrames], [{ direction: 'tx' }, s.nic.txFrames]],
  },
  {
    name: 'nanoshare_nic_bytes_total', help: 'Bytes through the NIC.', kind: 'counter', labels: ['direction'],
    samples: (s) => [[{ direction: 'rx' }, s.nic.rxBytes], [{ direction: 'tx' }, s.nic.txBytes]],
  },
  { name: 'nanoshare_nic_drops_total', help: 'Frames the NIC dropped, by reason.', kind: 'counter', labels: ['reason'], samples: (s) => NIC_DROPS.map((reason): Sample => [{ reason }, s.nic[reason]]) },
  {
    name: 'nanoshare_control_overruns_total', help: "Releases of the rtos control task that started after the next one was due.", kind: 'counter', labels: ['guest'],
    samples: (s) => s.guests.flatMap((g): Sample[] => (g.control ? [[{ guest: g.name }, g.control.overruns]] : [])),
  },
];

/** Upper bounds of the lateness histogram's buckets (LatencySummary's, in microseconds). */
const LATENESS_BUCKETS_US = [10, 50, 100, 250, 500, 1000] as const;

/**
 * The rtos control task's lateness as a Prometheus histogram, from the recorder's own buckets
 * (prom-client's Histogram only counts observations it makes itself; these were counted by the
 * guest). Cumulative `le` buckets in seconds, `_sum` and `_count`.
 */
class LatenessHistogram {
  readonly name = 'nanoshare_control_lateness_seconds';
  readonly help = "How late each release of the rtos's periodic control task started (the real-time guarantee).";
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(private readonly stats: () => MachineStats) {}

  /** What prom-client's registry reads from a metric: name, help, type and the samples. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> } {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const g of this.stats().guests) {
      const late = g.control?.lateness;
      if (!late) continue;
      let cum = 0;
      for (const b of LATENESS_BUCKETS_US) {
        cum += late.histogram[`le${b}`] ?? 0;
        values.push({ metricName: `${this.name}_bucket`, labels: { guest: g.name, le: b / 1e6 }, value: cum });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { guest: g.name, le: '+Inf' }, value: late.count });
      values.push({ metricName: `${this.name}_sum`, labels: { guest: g.name }, value: (late.meanUs * late.count) / 1e6 });
      values.push({ metricName: `${this.name}_count`, labels: { guest: g.name }, value: late.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

/** A registry that takes one snapshot of the machine per scrape, read by every family. */
class SnapshotRegistry extends Registry {
  snap: MachineStats | undefined;
  constructor(private readonly stats: () => MachineStats) {
    super();
  }

  override async metrics(): Promise<string> {
    this.snap = this.stats();
    try {
      return await super.metrics();
    } finally {
      this.snap = undefined;
    }
  }

  current(): MachineStats {
    return this.snap ?? this.stats();
  }
}

/** A registry whose every metric is read from one `stats()` snapshot per scrape. */
export function machineRegistry(stats: () => MachineStats): Registry {
  const registry = new SnapshotRegistry(stats);
  for (const f of FAMILIES) {
    const samples = (): Sample[] => f.samples(registry.current());
    if (f.kind === 'counter') {
      new Counter({
        name: f.name, help: f.help, labelNames: [...f.labels], registers: [registry],
        collect() {
          this.reset();
          for (const [labels, v] of samples()) this.inc(labels, Math.max(0, v));
        },
      });
    } else {
      new Gauge({
        name: f.name, help: f.help, labelNames: [...f.labels], registers: [registry],
        collect() {
          this.reset();
          for (const [labels, v] of samples()) this.set(labels, v);
        },
      });
    }
  }
  registry.registerMetric(new LatenessHistogram(() => registry.current()) as unknown as Parameters<Registry['registerMetric']>[0]);
  return registry;
}

/** Serve `GET /metrics` at addr:port; resolves once listening (rejects with the bind error). */
export async function serveMetrics(addr: string, port: number, registry: Registry): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('nanoshare: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`),
    );
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, addr, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return server;
}
