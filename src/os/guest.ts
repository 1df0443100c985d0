// The two guest personalities, built from the same parts: a kernel (fixed-priority tasks in the
// rtos, time sharing in the gpos), the virtual NIC driver, the network stack, and services.
import type { Ipv4, Ipv4Cidr, Mac } from '../wire/address.js';
import type { DomainServices, GuestOs } from '../nanokernel/guest-interface.js';
import { DHCP_CLIENT, IPV6_SOCKETS, NetStack, TCP_SOCKETS, dhcpProtocol, ipv6Protocol, tcpProtocol, type NetEvent } from '../net/index.js';
import type { DhcpClient, DhcpCounters, DhcpState, Ipv6AddrInfo, ProbeOutcome, ProbeTiming, TcpCounters, TcpLayer } from '../net/index.js';
import { formatIpv4, formatIpv4Cidr, formatIpv6, formatMac } from '../wire/address.js';
import { HttpService, type HttpCounters } from './services/http.js';
import { TcpEchoService, type TcpEchoCounters } from './services/tcp-echo.js';
import { ChargenService, DiscardService, type BulkCounters } from './services/tcp-bulk.js';
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
  /** Ignored when `dhcp` is set: the address then comes from a lease. */
  ipv4: Ipv4Cidr;
  /** Take the IPv4 address from a DHCP server (RFC 2131), both personalities. */
  dhcp?: boolean;
  gateway?: Ipv4;
  /** UDP echo on port 7 (default on). */
  echo?: boolean;
  /** UDP echo replies per second to one source (default 1000; 0: no limit). */
  echoRate?: number;
  /** IP MTU of the guest's interface (default 1500): the machine's configured MTU. */
  mtu?: number;
  /** IPv6 (gpos only: the rtos stays IPv4-only by design; default on for a gpos). */
  ipv6?: boolean;
  /** The rtos's periodic control task (rtos only; default period 1 ms). */
  control?: ControlTaskOptions;
  /** A UDP traffic generator (default off). */
  load?: LoadOptions;
  /**
   * RFC 5227 probe of the IPv4 address at boot (timing, default RFC5227_TIMING), or false to
   * take it at once. While probing the address is tentative; on a conflict it is never taken.
   */
  probe?: Partial<ProbeTiming> | false;
  /** Told when the boot-time probe ends (after every boot: a rebooted guest probes again). */
  onAddress?: (outcome: ProbeOutcome) => void;
  /** Told of each event of the stack (a DHCP lease taken or lost, an ARP conflict), as it is kept for stats. */
  onNetEvent?: (e: NetEvent) => void;
  /** TCP with the HTTP status page on port 80 and TCP echo on 7 (default: on for the gpos; the rtos never runs TCP). */
  tcp?: boolean;
}

export interface GuestStats {
  name: string;
  kind: OsKind;
  kernel: KernelStats;
  driver: DriverCounters;
  net: NetStack['counters'];
  arp: number;
  /** The protocols this OS runs, in installation order. */
  protocols: readonly string[];
  /** IPv6 addresses with their state, when IPv6 runs. */
  ipv6?: Ipv6AddrInfo[];
  /** The IPv4 address in use now ("a.b.c.d/n"), or undefined while a DHCP guest has none. */
  ipv4?: string;
  /** The DHCP client, when the address comes from a lease. */
  dhcp?: DhcpInfo;
  echo?: EchoCounters;
  tcp?: TcpCounters & { connections: number };
  tcpEcho?: TcpEchoCounters;
  http?: HttpCounters;
  discard?: BulkCounters;
  chargen?: BulkCounters;
  control?: { periodUs: number; cycles: number; overruns: number; telemetrySent: number; telemetryDropped: number; lateness: LatencySummary };
  load?: { sent: number; bytes: number; stalls: number };
  /** The stack's latest events (ARP conflicts, ...), oldest first, at most NET_EVENTS_KEPT. */
  netEvents: NetEvent[];
  /** The IPv4 address: being probed, taken, or not taken because another host has it (RFC 5227). */
  ipv4State: Ipv4State;
  /** Who had the address when the boot probe found it in use. */
  ipv4Conflict?: { mac: string; by: 'claim' | 'probe' };
}

export type Ipv4State = 'tentative' | 'taken' | 'conflict';
/** The lease as stats and /status show it: remaining times in seconds (null: infinite lease). */
export interface DhcpInfo {
  state: DhcpState;
  address: string | null;
  server: string | null;
  leaseTimeS: number | null;
  t1RemainingS: number | null;
  t2RemainingS: number | null;
  expiresInS: number | null;
  counters: DhcpCounters;
}

/** Events of the stack a guest keeps for stats and logs. */
export const NET_EVENTS_KEPT = 16;

export class Guest {
  readonly kernel: GuestKernel;
  readonly driver: VirtualNicDriver;
  readonly net: NetStack;
  readonly echo: EchoService | undefined;
  readonly control: ControlTask | undefined;
  readonly load: LoadGenerator | undefined;
  readonly tcp: TcpLayer | undefined;
  readonly http: HttpService | undefined;
  readonly tcpEcho: TcpEchoService | undefined;
  readonly discard: DiscardService | undefined;
  readonly chargen: ChargenService | undefined;
  readonly dhcp: DhcpClient | undefined;
  private bootAt = 0;
  private readonly netEvents: NetEvent[] = [];
  private addrState: Ipv4State;
  private addrConflict: GuestStats['ipv4Conflict'];

  constructor(hw: DomainServices, readonly cfg: GuestConfig) {
    this.kernel = new GuestKernel(hw, cfg.kind === 'rtos' ? 'fixed-priority' : 'time-sharing');
    this.driver = new VirtualNicDriver(this.kernel);
    const now = (): number => hw.now();
    // A DHCP guest has no configured address to probe: its client probes each lease it is offered.
    const probe = cfg.dhcp ? false : (cfg.probe ?? false);
    this.addrState = probe === false ? 'taken' : 'tentative';
    this.net = new NetStack({ mac: cfg.mac, ipv4: cfg.dhcp ? { addr: 0, prefixLen: 0 } : cfg.ipv4, gateway: cfg.gateway, mtu: cfg.mtu, tentative: probe !== false }, this.driver, now);
    this.driver.bind(this.net);
    this.net.onEvent((e) => {
      if (this.netEvents.push(e) > NET_EVENTS_KEPT) this.netEvents.shift();
      cfg.onNetEvent?.(e);
    });
    this.echo = cfg.echo === false ? undefined : new EchoService(this.net, now, { limits: cfg.echoRate === undefined ? {} : { perSecond: cfg.echoRate } });
    // TCP is a general-purpose OS's: the rtos stays ARP/IPv4/ICMP/UDP by design.
    if (cfg.kind === 'gpos' && cfg.tcp !== false) {
      this.net.install(tcpProtocol());
      this.tcp = this.net.sockets.require(TCP_SOCKETS);
      this.http = new HttpService(this.kernel, this.tcp, () => this.statusDocument(), `nanoshare ${cfg.name}`);
      if (cfg.echo !== false) this.tcpEcho = new TcpEchoService(this.tcp);
      this.discard = new DiscardService(this.tcp);
      this.chargen = new ChargenService(this.tcp);
    }
    this.kernel.onBoot(() => (this.bootAt = this.kernel.now()));
    if (cfg.kind === 'rtos' && cfg.control) this.control = new ControlTask(this.kernel, this.net, cfg.control);
    if (cfg.load) this.load = new LoadGenerator(this.kernel, this.net, cfg.load);
    if (cfg.kind === 'gpos' && cfg.ipv6 !== false) this.net.install(ipv6Protocol);
    if (cfg.dhcp) {
      this.net.install(dhcpProtocol({ hostName: cfg.name }));
      this.dhcp = this.net.sockets.require(DHCP_CLIENT);
      // The machine's ordered stop and an operator's reboot give the lease back.
      this.kernel.onShutdown(() => this.dhcp?.stop());
    }
    this.kernel.onBoot(() => {
      // RFC 5227: probe first, then take and announce; with no probe, announce at once.
      if (probe === false) this.net.announce();
      else this.net.probeAddress(cfg.ipv4.addr, { timing: probe, onDone: (o) => this.probed(o) });
      this.net.sockets.get(IPV6_SOCKETS)?.start();
      this.dhcp?.start();
    });
  }

  /** The boot probe ended: take and announce the address, or leave it untaken on a conflict. */
  private probed(o: ProbeOutcome): void {
    if (o.kind === 'available') {
      this.net.takeAddress();
      this.net.announce();
      this.addrState = 'taken';
    } else {
      this.addrState = 'conflict';
      this.addrConflict = { mac: formatMac(o.mac), by: o.by };
    }
    this.cfg.onAddress?.(o);
  }

  /** The IPv4 address's state (RFC 5227 boot probe). */
  get ipv4State(): Ipv4State {
    return this.addrState;
  }

  /** What GET /status answers: who this guest is, how long it has run, its own counters. */
  statusDocument(): unknown {
    const n = this.net.counters;
    return {
      name: this.cfg.name,
      os: this.cfg.kind,
      mac: formatMac(this.cfg.mac),
      ipv4: this.ipv4Text() ?? null,
      dhcp: this.dhcpInfo(),
      ipv6: this.net.sockets.get(IPV6_SOCKETS)?.usableAddresses().map(formatIpv6) ?? [],
      uptimeS: Math.round((this.kernel.now() - this.bootAt) / 1000) / 1000,
      protocols: this.net.protocols,
      counters: {
        rxFrames: n.rxFrames,
        txFrames: n.txFrames,
        rxHandled: n.rxHandled,
        rxDropped: Object.values(n.rxDropped).reduce((a, b) => a + b, 0),
        txDropped: Object.values(n.txDropped).reduce((a, b) => a + b, 0),
        tcp: this.tcp && { ...this.tcp.counters, drops: undefined, connections: this.tcp.size },
        http: this.http?.counters,
        tcpEcho: this.tcpEcho?.counters,
        discard: this.discard?.counters,
        chargen: this.chargen?.counters,
      },
    };
  }

  /** The IPv4 address in use ("a.b.c.d/n"), undefined while a DHCP guest has none. */
  ipv4Text(): string | undefined {
    return this.net.ipv4.addr === 0 ? undefined : formatIpv4Cidr(this.net.ipv4);
  }

  /** The DHCP client's state and lease, with times left in seconds. */
  dhcpInfo(): DhcpInfo | undefined {
    const d = this.dhcp;
    if (d === undefined) return undefined;
    const { state, lease } = d.info();
    const now = this.kernel.now();
    const left = (at: number | undefined): number | null => (lease === undefined || at === undefined ? null : Math.max(0, Math.round((at - now) / 1000) / 1000));
    return {
      state,
      address: lease ? formatIpv4Cidr({ addr: lease.addr, prefixLen: lease.prefixLen }) : null,
      server: lease ? formatIpv4(lease.server) : null,
      leaseTimeS: lease ? (lease.expiresAt === undefined ? null : lease.leaseTimeS) : null,
      t1RemainingS: left(lease?.t1At),
      t2RemainingS: left(lease?.t2At),
      expiresInS: left(lease?.expiresAt),
      counters: { ...d.counters, drops: { ...d.counters.drops } },
    };
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
      protocols: this.net.protocols,
      tcp: this.tcp && { ...this.tcp.counters, drops: { ...this.tcp.counters.drops }, connections: this.tcp.size },
      tcpEcho: this.tcpEcho && { ...this.tcpEcho.counters },
      discard: this.discard && { ...this.discard.counters },
      chargen: this.chargen && { ...this.chargen.counters },
      http: this.http && { ...this.http.counters, responses: { ...this.http.counters.responses } },
      ipv6: this.net.sockets.get(IPV6_SOCKETS)?.info(),
      ipv4: this.ipv4Text(),
      dhcp: this.dhcpInfo(),
      echo: this.echo?.counters,
      control: c && {
        periodUs: this.cfg.control!.periodUs,
        cycles: c.cycles,
        overruns: c.overruns,
        telemetrySent: c.telemetrySent,
        telemetryDropped: c.telemetryDropped,
        lateness: c.lateness.summary(),
      },
      load: this.load && { sent: this.load.sent, bytes: this.load.bytes, stalls: this.load.stalls },
      netEvents: [...this.netEvents],
      ipv4State: this.addrState,
      ...(this.addrConflict ? { ipv4Conflict: { ...this.addrConflict } } : {}),
    };
  }
}
