// The switch's shared state: the port table (by MAC, group and IP address), the counters, the
// observer, and the one drop path. virt-rx, virt-tx and the services all drop through drop(),
// so every drop is counted under a named reason and seen by capture, whichever side it is on.
import type { IpAddr, Mac } from '../wire/address.js';
import { MacTable } from './mac-table.js';
import { PORT_DROPS, type Port, type PortDropReason } from './port.js';
import { isUnspecified } from './source-guard.js';

/** Why the switch dropped a frame: each is a counter of the same name. */
export type DropReason =
  /** Shorter than an Ethernet header. */
  | 'rxRunt'
  /** Unicast to a MAC no port owns. */
  | 'rxUnknownUnicast'
  /** Multicast to a group no port joined. */
  | 'rxNoSubscriber'
  /** Per port: see PortDropReason. */
  | PortDropReason;

/** Short human text per reason (capture comments say `drop: <text>`). */
export const DROP_TEXT: Record<DropReason, string> = {
  rxRunt: 'runt',
  rxUnknownUnicast: 'unknown unicast',
  rxNoSubscriber: 'no subscriber',
  rxSpoofedMac: 'spoofed source MAC from the wire',
  rxSpoofedIp: 'spoofed source IP from the wire',
  rxQueueFull: 'queue full',
  rxHalted: 'guest halted',
  rxFlushed: 'flushed by a guest reboot or halt',
  txFlushed: 'flushed by a guest reboot or halt',
  txQueueFull: 'queue full',
  txSpoofedMac: 'spoofed source MAC',
  txSpoofedIp: 'spoofed source IP',
  txMalformed: 'malformed',
};

/** Every drop reason, in a stable order (for tables and tests). */
export const DROP_REASONS = Object.keys(DROP_TEXT) as readonly DropReason[];

export type Cast = 'unicast' | 'broadcast' | 'multicast';

/** Observes frames and decisions, for capture and tracing. Never changes them. Port names as strings. */
export interface SwitchObserver {
  /** A frame from the wire delivered to these guests. */
  rx?(frame: Uint8Array, to: readonly string[], cast: Cast): void;
  /** A guest's frame that leaves on the wire. */
  tx?(frame: Uint8Array, from: string): void;
  /** Guest to guest, without the wire. */
  local?(frame: Uint8Array, from: string, to: string): void;
  /** A dropped frame, with its reason and the port it was from or for (if any). */
  drop?(reason: DropReason, frame: Uint8Array, port: string | undefined): void;
}

export type SwitchCounters = {
  rxFrames: number;
  rxUnicast: number;
  rxBroadcast: number;
  rxMulticast: number;
  /** Frames that left on the wire. */
  txFrames: number;
  /** Frames delivered guest to guest. */
  txLocal: number;
  /** setAddresses() refused: another port holds the address. */
  addressConflicts: number;
} & Record<DropReason, number>;

export type Route = Port | readonly Port[] | 'rxUnknownUnicast' | 'rxNoSubscriber';

export class Switch {
  readonly counters: SwitchCounters = {
    rxFrames: 0, rxUnicast: 0, rxBroadcast: 0, rxMulticast: 0, txFrames: 0, txLocal: 0, addressConflicts: 0,
    ...(Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>),
  };
  observer: SwitchObserver = {};
  private readonly byMac = new MacTable<Port>();
  private readonly byGroup = new MacTable<Port[]>();
  private readonly byAddr = new Map<IpAddr, Port>();
  private all: Port[] = [];

  /** The one drop path: counted globally, per port where it has one, and shown to the observer. */
  drop(reason: DropReason, frame: Uint8Array, port?: Port): void {
    this.counters[reason]++;
    if (port && PORT_DROPS.has(reason)) port.counters[reason as PortDropReason]++;
    this.observer.drop?.(reason, frame, port?.name);
  }

  add(port: Port): void {
    if (this.byMac.has(port.mac)) throw new Error(`MAC of ${port.name} is already on the switch`);
    for (const a of port.addresses) if (this.byAddr.has(a)) throw new Error(`an address of ${port.name} is already on the switch`);
    this.byMac.set(port.mac, port);
    for (const a of port.addresses) this.byAddr.set(a, port);
    // Primary ports first (stable): broadcast reaches the primary first, and the arbiter serves
    // ports in this order.
    this.all = [...this.all.filter((p) => p.primary), ...(port.primary ? [port] : []), ...this.all.filter((p) => !p.primary), ...(port.primary ? [] : [port])];
  }

  /** Every port, primaries first. */
  get ports(): readonly Port[] {
    return this.all;
  }

  /** The port that owns a unicast MAC. */
  owner(mac: Mac): Port | undefined {
    return this.byMac.get(mac);
  }

  /** The port that owns the unicast MAC in buf[off..off+6) (read in place: no number is made). */
  ownerAt(buf: Uint8Array, off: number): Port | undefined {
    return this.byMac.getAt(buf, off);
  }

  /** The port that holds an IP address. */
  ownerOfAddr(addr: IpAddr): Port | undefined {
    return this.byAddr.get(addr);
  }

  /** Replace a port's address set; refused (false, counted) if another port holds one of them. */
  setAddresses(port: Port, addrs: readonly IpAddr[]): boolean {
    addrs = addrs.filter((a) => !isUnspecified(a)); // always allowed, never owned
    for (const a of addrs) {
      const o = this.byAddr.get(a);
      if (o !== undefined && o !== port) {
        this.counters.addressConflicts++;
        port.counters.addressConflicts++;
        return false;
      }
    }
    for (const a of port.addresses) this.byAddr.delete(a);
    port.replaceAddresses(addrs);
    for (const a of addrs) this.byAddr.set(a, port);
    return true;
  }

  /** Leave every multicast group (a rebooted guest joins again). */
  unsubscribeAll(port: Port): void {
    for (const g of [...port.groups]) this.unsubscribe(port, g);
  }

  subscribe(port: Port, group: Mac): void {
    if (port.groups.has(group)) return;
    port.groups.add(group);
    this.byGroup.set(group, [...(this.byGroup.get(group) ?? []), port]);
  }

  unsubscribe(port: Port, group: Mac): void {
    if (!port.groups.delete(group)) return;
    const rest = (this.byGroup.get(group) ?? []).filter((p) => p !== port);
    if (rest.length > 0) this.byGroup.set(group, rest);
    else this.byGroup.delete(group);
  }

  /** Where a frame goes, by its destination MAC. The caller guarantees >= 6 bytes. */
  route(frame: Uint8Array): Route {
    if ((frame[0]! & 1) === 0) return this.byMac.getAt(frame, 0) ?? 'rxUnknownUnicast';
    // A group address (I/G bit): broadcast is all ones.
    if ((frame[0]! & frame[1]! & frame[2]! & frame[3]! & frame[4]! & frame[5]!) === 0xff) return this.all;
    return this.byGroup.getAt(frame, 0) ?? 'rxNoSubscriber';
  }
}
