// Assembly of the whole machine from a config: processor, NIC on a link, nanokernel, and the
// guests. Pure (no I/O of its own): the link and the clock are given, so tests build the same
// machine on a MemoryLink and a ManualClock.
import { formatIpv4Cidr, formatMac } from '../wire/address.js';
import type { Link } from '../link/link.js';
import type { Clock } from '../machine/clock.js';
import { Nic } from '../machine/nic.js';
import { Processor } from '../machine/processor.js';
import { Nanokernel, type FaultReport, type NanokernelSnapshot } from '../nanokernel/nanokernel.js';
import { Guest, type GuestStats } from '../os/guest.js';
import type { NetEvent } from '../net/index.js';
import type { MachineConfig } from './config.js';
import type { Capture } from '../capture/capture.js';
import { captureObserver } from './capture.js';
import type { ProbeOutcome } from '../net/index.js';

export interface Machine {
  readonly processor: Processor;
  readonly nic: Nic;
  readonly nanokernel: Nanokernel;
  /** Guests by name, primary first. */
  readonly guests: Map<string, Guest>;
  start(): void;
  stop(): void;
  stats(): MachineStats;
}

export interface MachineStats extends NanokernelSnapshot {
  guests: GuestStats[];
}

export interface MachineHooks {
  /** A guest's code threw (rate-limited per guest by the nanokernel): log it with the guest and the stack. */
  onFault?: (report: FaultReport) => void;
  /** Write every frame and the nanokernel's decision about it into this capture. */
  capture?: Capture;
  /** A guest's boot-time RFC 5227 probe ended (after every boot of it): its address taken, or in use by `outcome.mac`. */
  onAddress?: (guest: string, outcome: ProbeOutcome) => void;
  /** A guest's stack saw something to log (a DHCP lease taken or lost, an ARP conflict). */
  onNetEvent?: (guest: string, e: NetEvent) => void;
}

export function buildMachine(cfg: MachineConfig, link: Link, clock: Clock, hooks: MachineHooks = {}): Machine {
  const processor = new Processor(clock);
  const nic = new Nic(link, clock, { lineRateBps: cfg.lineRateBps });
  const nanokernel = new Nanokernel(processor, nic, { txPolicy: cfg.txPolicy, ...cfg.scheduler, onFault: hooks.onFault });
  if (hooks.capture) nanokernel.observer = captureObserver(hooks.capture);
  // Rebuilt guests (after a fault, or `nanoshare reboot`) replace their entry in place.
  const guests = new Map<string, Guest>();
  // The guests' MTU is the configured one, capped at what the link carries (so no guest
  // builds a frame the NIC would refuse).
  const mtu = Math.min(cfg.mtu, link.mtu);
  for (const g of cfg.guests) {
    nanokernel.addDomain({
      name: g.name,
      role: g.primary ? 'primary' : 'secondary',
      mac: g.mac,
      // A probed address joins the port's address set only once taken (the guest publishes it):
      // until then the wire's answers for it must reach the guest, not be dropped as spoofs.
      // A DHCP guest's joins it when its lease is bound.
      ipv4: !g.dhcp && cfg.addressProbe === false ? g.ipv4.addr : undefined,
      weight: g.weight,
      rateBps: g.rateBps,
      onFault: g.onFault,
      guest: (hw) => {
        const guest = new Guest(hw, {
          name: g.name, kind: g.os, mac: g.mac, ipv4: g.ipv4, dhcp: g.dhcp, gateway: g.gateway, echo: g.echo, echoRate: g.echoRate, ipv6: g.ipv6,
          mtu, control: g.control, load: g.load && { ...g.load, priority: 10 },
          probe: cfg.addressProbe, onAddress: hooks.onAddress && ((o) => hooks.onAddress!(g.name, o)),
          onNetEvent: hooks.onNetEvent && ((e) => hooks.onNetEvent!(g.name, e)),
        });
        guests.set(g.name, guest);
        return guest.os;
      },
    });
  }
  // Primary first, as the nanokernel orders its domains (re-inserted, so later sets keep this order).
  const built = new Map(guests);
  guests.clear();
  for (const d of nanokernel.domains) guests.set(d.name, built.get(d.name)!);
  return {
    processor,
    nic,
    nanokernel,
    guests,
    start: () => nanokernel.start(),
    stop: () => nanokernel.shutdown(),
    stats: () => ({ ...nanokernel.snapshot(), guests: [...guests.values()].map((g) => g.stats()) }),
  };
}

/**
 * The guests as the `ready` log line names them; with the machine, also the protocols each OS
 * runs and, for a DHCP guest, its client's state and the leased address once it has one.
 */
export function describeGuests(
  cfg: MachineConfig,
  machine?: Machine,
): Array<{ name: string; os: string; mac: string; macDerived?: true; ipv4: string; ipv4State?: string; protocols?: readonly string[]; dhcp?: { state: string; address: string | null } }> {
  return cfg.guests.map((g) => {
    const guest = machine?.guests.get(g.name);
    const lease = g.dhcp ? guest?.dhcpInfo() : undefined;
    return {
      name: g.name, os: g.os, mac: formatMac(g.mac), ...(g.macDerived ? { macDerived: true as const } : {}), ipv4: g.dhcp ? 'dhcp' : formatIpv4Cidr(g.ipv4),
      ...(guest && !g.dhcp ? { ipv4State: guest.ipv4State } : {}), protocols: guest?.net.protocols,
      ...(lease ? { dhcp: { state: lease.state, address: lease.address } } : {}),
    };
  });
}
