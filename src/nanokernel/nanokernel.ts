// The nanokernel: owns the processor and the NIC, and composes the components that share them,
// named as seL4 sDDF names them: the scheduler (domains, quanta, the deadline guard, accounting),
// virt-rx (demux of received frames to ports), virt-tx (arbiter, rate limits, source checks,
// guest-to-guest delivery), the switch they share (port table, counters, the drop path), and the
// guest-facing services. It knows a guest only as a GuestOs and a Port.
import type { IpAddr, Ipv4, Mac } from '../wire/address.js';
import type { Clock } from '../machine/clock.js';
import { NicIrq, type Nic } from '../machine/nic.js';
import type { Processor } from '../machine/processor.js';
import type { DomainServices, GuestOs, Role } from './guest-interface.js';
import { Port } from './port.js';
import type { TxPolicyName } from './arbiter.js';
import { TokenBucket } from './token-bucket.js';
import { DEFAULT_SCHEDULER, Domain, Scheduler, type FaultPolicy, type FaultReport, type SchedulerOptions } from './scheduler.js';
import { Switch, type SwitchCounters, type SwitchObserver } from './switch.js';
import { VirtRx } from './virt-rx.js';
import { VirtTx } from './virt-tx.js';
import { domainServices } from './services.js';
import type { NanokernelSnapshot } from './snapshot.js';

// The composition's public face: what board/ and the tests name through this module.
export { DEFAULT_SCHEDULER, Domain, type DomainStats, type FaultPolicy, type FaultReport, type SchedulerOptions } from './scheduler.js';
export { DROP_TEXT, type DropReason, type SwitchCounters, type SwitchObserver } from './switch.js';
export type { NanokernelSnapshot, DomainSnapshot, PortSnapshot } from './snapshot.js';

export interface NanokernelOptions extends Partial<SchedulerOptions> {
  txPolicy?: TxPolicyName;
  /**
   * Most frames the arbiter keeps in the NIC's TX ring (default 8). The arbiter's order only
   * matters for frames it still holds: a deep hardware ring would queue the primary behind the
   * secondary's burst (as byte queue limits keep Linux's rings short).
   */
  txFeed?: number;
  /** Virtual RX ring slots per guest. */
  rxQueue?: number;
  /** Virtual TX queue slots per guest. */
  txQueue?: number;
  /** Told of each guest fault (at most one report per guest per second, with a suppressed count). */
  onFault?: (report: FaultReport) => void;
}

export interface DomainSpec {
  name: string;
  role: Role;
  mac: Mac;
  /** The guest's IPv4 address (shorthand for one entry of `addresses`). */
  ipv4?: Ipv4;
  /** The IP addresses the guest may use as a source at boot. */
  addresses?: readonly IpAddr[];
  /** Weight under DRR (default 1). */
  weight?: number;
  /** Transmit rate limit in bits/s (default none). */
  rateBps?: number;
  /** What to do when the guest's code throws (default 'reboot'). */
  onFault?: FaultPolicy;
  /** Builds the guest on the services it is given; called again for each reboot. */
  guest: (services: DomainServices) => GuestOs;
}

export class Nanokernel {
  readonly scheduler: Scheduler;
  readonly switch = new Switch();
  readonly sched: SchedulerOptions;
  readonly startedAt: number;
  private readonly clock: Clock;
  private readonly virtRx: VirtRx;
  private readonly virtTx: VirtTx;

  constructor(readonly processor: Processor, readonly nic: Nic, private readonly opts: NanokernelOptions = {}) {
    this.clock = processor.clock;
    this.sched = { ...DEFAULT_SCHEDULER, ...stripUndefined(opts) };
    this.startedAt = this.clock.now();
    this.virtRx = new VirtRx(this.switch, nic.rx);
    this.virtTx = new VirtTx(this.switch, nic, this.clock, { policy: opts.txPolicy ?? 'strict', feed: opts.txFeed ?? 8, budget: this.sched.unitFrames }, () => this.scheduler.kick());
    this.scheduler = new Scheduler(processor, this.sched, {
      receive: () => this.virtRx.drain(),
      transmit: () => this.virtTx.pump(),
      rxPending: () => this.virtRx.pending(),
      txPending: () => this.virtTx.pending(),
    }, opts.onFault);
    nic.onInterrupt((cause) => {
      if (cause & (NicIrq.Rx | NicIrq.TxDone)) this.scheduler.interrupt();
    });
  }

  /** Domains, primary first. */
  get domains(): readonly Domain[] {
    return this.scheduler.domains;
  }

  get counters(): SwitchCounters {
    return this.switch.counters;
  }

  /** Processor time in the nanokernel itself (demux, arbitration), in microseconds. */
  get kernelUs(): number {
    return this.scheduler.kernelUs;
  }

  get runs(): number {
    return this.scheduler.runs;
  }

  get observer(): SwitchObserver {
    return this.switch.observer;
  }

  set observer(o: SwitchObserver) {
    this.switch.observer = o;
  }

  get txPolicy(): TxPolicyName {
    return this.virtTx.policyName;
  }

  /** Create a domain and its port. Primaries are scheduled before secondaries. */
  addDomain(spec: DomainSpec): Domain {
    if (this.scheduler.isStarted) throw new Error('domains are added before start()');
    const now = this.clock.now();
    const bucket = spec.rateBps ? new TokenBucket(spec.rateBps, Math.max(3 * 1522, spec.rateBps / 8 / 100), now) : undefined;
    const addresses = [...(spec.addresses ?? []), ...(spec.ipv4 !== undefined ? [spec.ipv4] : [])];
    const port = new Port(spec.name, spec.mac, addresses, spec.role === 'primary', this.opts.rxQueue ?? 256, this.opts.txQueue ?? 256, spec.weight ?? 1, bucket);
    this.switch.add(port);
    const sw = this.switch;
    const d: Domain = new Domain(spec.name, spec.role, port, spec.onFault ?? 'reboot', {
      reset: () => {
        port.flush((reason, frame) => sw.drop(reason, frame, port));
        sw.unsubscribeAll(port);
        sw.setAddresses(port, addresses);
      },
      build: () => spec.guest(domainServices(d, sw, this.scheduler, this.clock)),
    });
    d.guest = spec.guest(domainServices(d, sw, this.scheduler, this.clock));
    this.scheduler.add(d);
    return d;
  }

  /** Reboot a guest on request (`nanoshare reboot NAME`), as after a fault; false if there is no such guest. */
  reboot(name: string): boolean {
    const d = this.domains.find((x) => x.name === name);
    if (!d) return false;
    this.scheduler.farewell(d);
    this.scheduler.reboot(d);
    return true;
  }

  /** Boot every guest (primary first) and start dispatching. */
  start(): void {
    this.virtTx.start();
    this.scheduler.start();
  }

  hasWork(): boolean {
    return this.scheduler.hasWork();
  }

  /** A JSON-friendly snapshot of every counter. */
  snapshot(): NanokernelSnapshot {
    const now = this.clock.now();
    return {
      uptimeUs: now - this.startedAt,
      txPolicy: this.txPolicy,
      scheduler: { ...this.sched },
      processor: { kernelUs: this.kernelUs, runs: this.runs, wakeups: this.processor.wakeups },
      switch: { ...this.switch.counters },
      nic: { ...this.nic.counters },
      link: { name: this.nic.link.name, ...this.nic.link.stats },
      domains: this.domains.map((d) => ({
        name: d.name,
        role: d.role,
        state: d.halted ? 'halted' : 'running',
        weight: d.port.weight,
        rateBps: d.port.bucket?.rateBps,
        cpu: { ...d.stats },
        port: { ...d.port.counters, rxQueued: d.port.rx.length, txQueued: d.port.tx.length },
      })),
    };
  }

  /** Each guest's last words (GuestOs.shutdown) sent, then stop dispatching (no unit runs after this), the timers, the NIC (and its link). */
  shutdown(): void {
    for (const d of this.domains) this.scheduler.farewell(d);
    this.scheduler.stop();
    this.virtTx.stop();
    this.nic.close();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
