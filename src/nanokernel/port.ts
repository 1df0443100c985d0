// A port of the nanokernel's switch: an identity (MAC and the IP addresses the guest may use), two
// bounded queues, counters, and the interrupt line of the domain behind it. virt-rx and virt-tx
// see only ports, never a guest's internals; a port raises its own line when a frame arrives.
import type { IpAddr, Mac } from '../wire/address.js';
import { Ring } from '../machine/ring.js';
import { Irq, type AddressConflict } from './guest-interface.js';
import type { TokenBucket } from './token-bucket.js';
import { isUnspecified } from './source-guard.js';
import { macHigh, macLow } from './mac-table.js';

/** Drops that belong to one port (counted on the switch and on the port). rxSpoofed*: a frame from the wire claimed this port's identity. */
export type PortDropReason = 'rxSpoofedMac' | 'rxSpoofedIp' | 'rxQueueFull' | 'rxHalted' | 'rxFlushed' | 'txQueueFull' | 'txSpoofedMac' | 'txSpoofedIp' | 'txMalformed' | 'txFlushed';

/** Conflict notices waiting for a guest, at most (a flood of claims costs no memory). */
export const CONFLICT_NOTICES_MAX = 4;

export const PORT_DROPS: ReadonlySet<string> = new Set<PortDropReason>(['rxSpoofedMac', 'rxSpoofedIp', 'rxQueueFull', 'rxHalted', 'rxFlushed', 'txQueueFull', 'txSpoofedMac', 'txSpoofedIp', 'txMalformed', 'txFlushed']);

export type PortCounters = {
  /** Frames put into the port's RX ring. */
  rxFrames: number;
  rxBytes: number;
  /** Frames the guest took from its RX ring. */
  rxConsumed: number;
  /** Frames the guest queued. */
  txQueued: number;
  /** Frames that left the port (to the NIC or to another local port). */
  txFrames: number;
  txBytes: number;
  /** Frames that went to another local guest without crossing the NIC. */
  txLocal: number;
  /** Times the arbiter held a frame back for the rate limit. */
  txRateLimited: number;
  /** setAddresses() refused because another port holds an address. */
  addressConflicts: number;
  /** Conflict notices given to the guest (the wire claimed its address, see AddressConflict). */
  conflictNotices: number;
  /** Notices lost because CONFLICT_NOTICES_MAX were already waiting. */
  conflictNoticesDropped: number;
} & Record<PortDropReason, number>;

/** Where a port raises its domain's virtual interrupts. */
export interface InterruptLine {
  raise(lines: number): void;
}

const UNWIRED: InterruptLine = { raise: () => {} };

export class Port {
  // Fields in the order the path of a frame reads them, and the objects every frame touches
  // (counters, then the rings) made first, so that with many ports each port's hot words sit in
  // a few adjacent cache lines: 256 ports' state is more than a level-1 cache holds.
  readonly rx: Ring<Uint8Array>;
  readonly tx: Ring<Uint8Array>;
  readonly counters: PortCounters = {
    // The five every frame touches first, so they share one cache line.
    rxFrames: 0, rxBytes: 0, txQueued: 0, txFrames: 0, txBytes: 0,
    rxConsumed: 0, rxSpoofedMac: 0, rxSpoofedIp: 0, rxQueueFull: 0, rxHalted: 0, rxFlushed: 0,
    txQueueFull: 0, txLocal: 0, txFlushed: 0,
    txSpoofedMac: 0, txSpoofedIp: 0, txMalformed: 0, txRateLimited: 0, addressConflicts: 0, conflictNotices: 0, conflictNoticesDropped: 0,
  };
  /** The interrupt line of the domain behind the port (wired by the scheduler). */
  line: InterruptLine = UNWIRED;
  /** A halted port takes no frames: its guest never runs again. */
  halted = false;
  /** The guest asked to be told when the TX queue has room. */
  wantTxSpace = false;
  /**
   * Told when the TX queue goes from empty to non-empty (set by the arbiter's policy, which keeps
   * a list of active ports so its cost per frame does not grow with the number of ports).
   */
  onTxActive: ((port: Port) => void) | undefined;
  /** The port is on the arbiter's active list (owned by the policy). */
  txActive = false;
  /** DRR state: bytes this port may still send in the current round. */
  deficit = 0;
  /** Share of the link under the weighted policy (relative to other ports). */
  readonly weight: number;
  readonly bucket: TokenBucket | undefined;
  /** The MAC's high and low 24 bits: small integers the source check compares in place. */
  readonly macHi: number;
  readonly macLo: number;
  /**
   * The first IPv4 address of the set (-1 if none), kept in step with it: the source check
   * compares a frame's source with it in place before it asks the switch's address table, which
   * with 256 guests is a line or two more to fetch per frame.
   */
  ip4 = -1;
  readonly name: string;
  /** [name], made once: an observer told of a unicast delivery gets it with no array per frame. */
  readonly nameList: readonly string[];
  readonly mac: Mac;
  /** Primary ports are served first by the strict policy. */
  readonly primary: boolean;
  readonly groups: Set<Mac>;
  private addrs: Set<IpAddr>;
  private readonly conflicts: AddressConflict[];

  constructor(
    name: string,
    mac: Mac,
    /** The IP addresses the port may use as a source (unspecified 0.0.0.0 and :: are always allowed). */
    addresses: readonly IpAddr[] | undefined,
    primary: boolean,
    rxQueue: number,
    txQueue: number,
    weight = 1,
    bucket?: TokenBucket,
  ) {
    this.rx = new Ring(rxQueue);
    this.tx = new Ring(txQueue);
    this.weight = weight;
    this.bucket = bucket;
    this.macHi = macHigh(mac);
    this.macLo = macLow(mac);
    this.name = name;
    this.nameList = [name];
    this.mac = mac;
    this.primary = primary;
    this.groups = new Set<Mac>();
    this.addrs = new Set();
    this.conflicts = [];
    this.replaceAddresses(addresses ?? []);
  }

  /** The addresses the guest may use. Changed only through the switch (Switch.setAddresses). */
  get addresses(): ReadonlySet<IpAddr> {
    return this.addrs;
  }

  /** For the switch only, which keeps its address table in step. */
  replaceAddresses(addrs: readonly IpAddr[]): void {
    this.addrs = new Set(addrs.filter((a) => !isUnspecified(a)));
    let ip4 = -1;
    for (const a of this.addrs) if (typeof a === 'number') {
      ip4 = a;
      break;
    }
    this.ip4 = ip4;
  }

  /** Put a frame into the RX ring and raise the RX line; false if full (the caller drops it). */
  deliver(frame: Uint8Array): boolean {
    if (!this.rx.push(frame)) return false;
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    this.line.raise(Irq.NetRx);
    return true;
  }

  /**
   * The wire claimed `ip`, one of this port's addresses, from `mac`: tell the guest (a small
   * notice, not the frame), raising Irq.AddrConflict. A notice already waiting for the same
   * claim is not repeated; beyond CONFLICT_NOTICES_MAX waiting, the notice is dropped and counted.
   */
  noteConflict(ip: IpAddr, mac: Mac): void {
    if (this.halted) return;
    if (this.conflicts.some((c) => c.ip === ip && c.mac === mac)) return;
    if (this.conflicts.length >= CONFLICT_NOTICES_MAX) {
      this.counters.conflictNoticesDropped++;
      return;
    }
    this.conflicts.push({ ip, mac });
    this.counters.conflictNotices++;
    this.line.raise(Irq.AddrConflict);
  }

  /** The oldest waiting conflict notice (for the guest's takeConflict()). */
  takeConflict(): AddressConflict | undefined {
    return this.conflicts.shift();
  }

  /** Queue a frame from the guest; false if full (the caller drops it). */
  enqueueTx(frame: Uint8Array): boolean {
    if (!this.tx.push(frame)) return false;
    this.counters.txQueued++;
    if (this.tx.length === 1) this.onTxActive?.(this);
    return true;
  }

  /** Empty both queues (a reboot starts from nothing in flight), handing each frame to `drop`. */
  flush(drop: (reason: 'rxFlushed' | 'txFlushed', frame: Uint8Array) => void): void {
    for (let f = this.rx.shift(); f !== undefined; f = this.rx.shift()) drop('rxFlushed', f);
    for (let f = this.tx.shift(); f !== undefined; f = this.tx.shift()) drop('txFlushed', f);
    this.deficit = 0;
    this.wantTxSpace = false;
    this.conflicts.length = 0;
  }
}
