// The two guest personalities, built from the same parts: a kernel (fixed-priority tasks in the
// rtos, time sharing in the gpos), the virtual NIC driver, the network stack, and services.
import type { Ipv4, Ipv4Cidr, Mac } from '../wire/address.js';
import type { DomainServices, GuestOs, Role } from '../nanokernel/guest-interface.js';
import { NetStack } from '../net/index.js';
import { GuestKernel, type KernelStats } from './kernel.js';
import { VirtualNicDriver, type DriverCounters } from './driver.js';
import { EchoService, type EchoCounters } from './services/echo.js';
import { ControlTask, type ControlTaskOptions } from './services/control.js';
import { LoadGenerator, type LoadOptions } from './services/load.js';
import type { LatencySummary } from './latency.js';

export type OsKind = 'rtos' | 'gpos';

export interface GuestConfig {
  name: string;
  kind: OsKind;
  mac: Mac;
  ipv4: Ipv4Cidr;
  gateway?: Ipv4;
  /** UDP echo on port 7 (default on). */
  echo?: boolean;
  /** The rtos's periodic control task (rtos only; default period 1 ms). */
  control?: ControlTaskOptions;
  /** A UDP traffic generator (default off). */
  load?: LoadOptions;
}

export interface GuestStats {
  name: string;
  kind: OsKind;
  kernel: KernelStats;
  driver: DriverCounters;
  net: NetStack['counters'];
  arp: number;
  echo?: EchoCounters;
  control?: { periodUs: number; cycles: number; overruns: number; telemetrySent: number; telemetryDropped: number; lateness: LatencySummary };
  load?: { sent: number; bytes: number; stalls: number };
}

/** The role each personality takes on the machine. */
export function roleOf(kind: OsKind): Role {
  return kind === 'rtos' ? 'primary' : 'secondary';
}

export class Guest {
  readonly kernel: GuestKernel;
  readonly driver: VirtualNicDriver;
  readonly net: NetStack;
  readonly echo: EchoService | undefined;
  readonly control: ControlTask | undefined;
  readonly load: LoadGenerator | undefined;

  constructor(hw: DomainServices, readonly cfg: GuestConfig) {
    this.kernel = new GuestKernel(hw, cfg.kind === 'rtos' ? 'fixed-priority' : 'time-sharing');
    this.driver = new VirtualNicDriver(this.kernel);
    this.net = new NetStack({ mac: cfg.mac, ipv4: cfg.ipv4, gateway: cfg.gateway }, this.driver, () => hw.now());
    this.driver.bind(this.net);
    this.echo = cfg.echo === false ? undefined : new EchoService(this.net);
    if (cfg.kind === 'rtos' && cfg.control) this.control = new ControlTask(this.kernel, this.net, cfg.control);
    if (cfg.load) this.load = new LoadGenerator(this.kernel, this.net, cfg.load);
    this.kernel.onBoot(() => this.net.announce());
  }

  /** The entry points the nanokernel dispatches. */
  get os(): GuestOs {
    return this.kernel;
  }

  stats(): GuestStats {
    const c = this.control;
    return {
      name: this.cfg.name,
      kind: this.cfg.kind,
      kernel: this.kernel.stats(),
      driver: { ...this.driver.counters },
      net: this.net.counters,
      arp: this.net.arp.size,
      echo: this.echo ? { ...this.echo.counters } : undefined,
      control: c && {
        periodUs: this.cfg.control!.periodUs,
        cycles: c.cycles,
        overruns: c.overruns,
        telemetrySent: c.telemetrySent,
        telemetryDropped: c.telemetryDropped,
        lateness: c.lateness.summary(),
      },
      load: this.load && { sent: this.load.sent, bytes: this.load.bytes, stalls: this.load.stalls },
    };
  }
}
