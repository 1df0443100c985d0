// What a guest OS sees of the nanokernel (its "hypercalls"), and what the nanokernel sees of a
// guest (its entry points). Nothing else crosses the boundary.
import type { IpAddr, Mac } from '../wire/address.js';

/** Virtual interrupt lines, as bits. */
export const Irq = {
  /** Frames are waiting in the virtual RX ring (level-triggered: re-raised while any remain). */
  NetRx: 1,
  /** The virtual timer's deadline has passed. */
  Timer: 2,
  /** The virtual TX queue has room again (raised once per wantTxSpace()). */
  TxSpace: 4,
  /** The wire claimed one of the guest's addresses (a frame virt-rx dropped): takeConflict() says who. */
  AddrConflict: 8,
} as const;

/**
 * Evidence that another host on the wire claims one of the guest's addresses: virt-rx dropped
 * an ARP packet with `ip` as its sender address from `mac`. The frame itself never reaches the
 * guest (the wire does not speak for a guest); this notice lets it defend the address (RFC 5227 2.4).
 */
export interface AddressConflict {
  readonly ip: IpAddr;
  readonly mac: Mac;
}

export type Role = 'primary' | 'secondary';

/** The guest's virtual NIC: its port on the nanokernel's switch. */
export interface VirtualNic {
  readonly mac: Mac;
  /** Next received frame, or undefined when the ring is empty or this unit's frame budget is spent. Do not modify it: a broadcast frame is shared. */
  receive(): Uint8Array | undefined;
  /** Queue a frame for transmission; false when the virtual TX queue is full (the drop is counted). */
  transmit(frame: Uint8Array): boolean;
  /** Free slots in the virtual TX queue. */
  txSpace(): number;
  /** Ask for one Irq.TxSpace when at least half the TX queue is free again. */
  wantTxSpace(): void;
  /** Receive frames sent to a multicast group. */
  subscribe(group: Mac): void;
  unsubscribe(group: Mac): void;
  /** The IP addresses this guest may use as a source (its port's address set). */
  addresses(): readonly IpAddr[];
  /**
   * Replace the address set (DHCP, SLAAC, a configured change). Refused (false, counted) when
   * another local guest holds one of the addresses; the set is then unchanged. Unspecified
   * sources (0.0.0.0, ::) are always allowed and need not be listed.
   */
  setAddresses(addrs: readonly IpAddr[]): boolean;
  /** The next conflict notice (Irq.AddrConflict), oldest first, or undefined. */
  takeConflict(): AddressConflict | undefined;
}

/** The services the nanokernel gives a guest. */
export interface DomainServices {
  readonly name: string;
  readonly role: Role;
  /** Monotonic time in microseconds. */
  now(): number;
  /** Program the one virtual timer (undefined disarms it). Irq.Timer is raised at or after `atUs`. */
  setTimer(atUs: number | undefined): void;
  readonly nic: VirtualNic;
}

/** A guest OS as the nanokernel knows it. Each call is one bounded unit of work. */
export interface GuestOs {
  /** Start: called once, primary first. May transmit and program the timer. */
  boot(): void;
  /** Last words before the machine stops or an operator reboots it (a DHCP RELEASE): one unit; what it transmits is sent before the stop. */
  shutdown?(): void;
  /** Virtual interrupt entry with the pending lines (bits of Irq). */
  interrupt(lines: number): void;
  /** True when the guest's own scheduler has a task ready to run. */
  runnable(): boolean;
  /** Run one step of the guest's most eligible task. */
  step(): void;
}
