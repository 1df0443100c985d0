// The one network card: an RX ring filled from the link, a TX ring drained onto it (at the
// configured line rate, if any), and an interrupt line to whoever owns the card (the nanokernel).
// The card runs in promiscuous mode: the nanokernel serves several MACs and does its own filtering.
import type { Link } from '../link/link.js';
import { ETHERNET_HEADER_LEN, VLAN_TAG_LEN } from '../wire/index.js';
import type { Clock, TimerHandle } from './clock.js';
import { Ring } from './ring.js';

export interface NicOptions {
  /** RX ring slots (frames). */
  rxRing?: number;
  /** TX ring slots (frames). */
  txRing?: number;
  /** Line rate in bits/s: frames leave no faster than this (preamble and gap counted). 0 = as fast as the link takes them. */
  lineRateBps?: number;
}

export interface NicCounters {
  rxFrames: number;
  rxBytes: number;
  /** Dropped because the RX ring was full (the nanokernel did not keep up). */
  rxRingFull: number;
  /** Shorter than an Ethernet header. */
  rxRunts: number;
  /** Longer than MTU + header + one VLAN tag. */
  rxOversize: number;
  txFrames: number;
  txBytes: number;
  txRingFull: number;
  /** The link refused the frame. */
  txLinkDropped: number;
  interrupts: number;
}

/** Interrupt causes, as bits of the line's status word. */
export const NicIrq = { Rx: 1, TxDone: 2 } as const;

/** Bits on the wire per frame besides its bytes: 7 preamble + 1 SFD + 12 inter-frame gap + 4 FCS. */
const WIRE_OVERHEAD_BYTES = 24;

export class Nic {
  readonly rx: Ring<Uint8Array>;
  private readonly tx: Ring<Uint8Array>;
  readonly counters: NicCounters = {
    rxFrames: 0, rxBytes: 0, rxRingFull: 0, rxRunts: 0, rxOversize: 0,
    txFrames: 0, txBytes: 0, txRingFull: 0, txLinkDropped: 0, interrupts: 0,
  };
  private readonly maxFrame: number;
  private readonly lineRateBps: number;
  private txBusyUntil = 0;
  private txBacklogged = false;
  private txTimer: TimerHandle | undefined;
  /** Nesting of beginTx()/endTx(). */
  private txBatchDepth = 0;
  private irqHandler: (cause: number) => void = () => {};
  private errorHandler: (err: Error) => void = () => {};

  constructor(readonly link: Link, private readonly clock: Clock, opts: NicOptions = {}) {
    this.rx = new Ring(opts.rxRing ?? 1024);
    this.tx = new Ring(opts.txRing ?? 1024);
    this.lineRateBps = opts.lineRateBps ?? 0;
    this.maxFrame = link.mtu + ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
    link.attach({
      onFrames: (batch) => this.receive(batch),
      onError: (err) => this.errorHandler(err),
    });
  }

  /** Connect the interrupt line. */
  onInterrupt(handler: (cause: number) => void): void {
    this.irqHandler = handler;
  }

  /** Where faults of the cable are reported (the link counts them itself). */
  onLinkError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }

  /** Frames from the cable: into the RX ring, then one interrupt for the batch. */
  private receive(batch: readonly Uint8Array[]): void {
    let accepted = 0;
    for (let i = 0; i < batch.length; i++) {
      const frame = batch[i]!;
      if (frame.length < ETHERNET_HEADER_LEN) {
        this.counters.rxRunts++;
        continue;
      }
      if (frame.length > this.maxFrame) {
        this.counters.rxOversize++;
        continue;
      }
      if (!this.rx.push(frame)) {
        this.counters.rxRingFull++;
        continue;
      }
      this.counters.rxFrames++;
      this.counters.rxBytes += frame.length;
      accepted++;
    }
    if (accepted > 0) this.raise(NicIrq.Rx);
  }

  /** Free TX ring slots. */
  txSpace(): number {
    return this.tx.capacity - this.tx.length;
  }

  /** Frames in the TX ring, not yet on the wire (nonzero only with a line rate). */
  txPending(): number {
    return this.tx.length;
  }

  /**
   * Frames transmitted between beginTx() and the matching endTx() may go to the wire together
   * (a TAP joins one flow's TCP segments into one write: link/tso.ts), in the order given, by
   * endTx() at the latest. Calls nest; the outermost pair decides.
   */
  beginTx(): void {
    if (this.txBatchDepth++ === 0) this.link.hold?.();
  }

  endTx(): void {
    if (this.txBatchDepth > 0 && --this.txBatchDepth === 0) this.link.flush?.();
  }

  /** Queue a frame for the wire; false when the TX ring is full. */
  transmit(frame: Uint8Array): boolean {
    if (!this.tx.push(frame)) {
      this.counters.txRingFull++;
      return false;
    }
    this.drainTx();
    return true;
  }

  /** Move frames from the TX ring to the link, no faster than the line rate. */
  private drainTx(): void {
    if (this.txTimer) return; // a drain is already scheduled for when the wire is free
    let sent = false;
    const link = this.link;
    this.beginTx();
    try {
      while (!this.tx.isEmpty()) {
        if (this.lineRateBps > 0) {
          const now = this.clock.now();
          if (this.txBusyUntil > now) {
            this.txTimer = this.clock.at(this.txBusyUntil, () => {
              this.txTimer = undefined;
              this.txBacklogged = true; // the ring was waiting for the wire, not idle
              this.drainTx();
            });
            break;
          }
          // Back to back while backlogged: a late wake-up does not lose wire time, the frames
          // that should have left meanwhile leave now. After an idle wire, start from now.
          const start = this.txBacklogged ? this.txBusyUntil : now;
          const frame = this.tx.peek()!;
          this.txBusyUntil = start + ((frame.length + WIRE_OVERHEAD_BYTES) * 8 * 1e6) / this.lineRateBps;
          this.txBacklogged = false;
        }
        const frame = this.tx.shift()!;
        if (link.send(frame)) {
          this.counters.txFrames++;
          this.counters.txBytes += frame.length;
        } else {
          this.counters.txLinkDropped++;
        }
        sent = true;
      }
    } finally {
      this.endTx();
    }
    if (sent && this.lineRateBps > 0) this.raise(NicIrq.TxDone);
  }

  private raise(cause: number): void {
    this.counters.interrupts++;
    this.irqHandler(cause);
  }

  close(): void {
    this.txTimer?.cancel();
    this.txTimer = undefined;
    this.link.close();
  }
}
