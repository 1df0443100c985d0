// A port of the nanokernel's switch: an identity, two bounded queues and counters. The demux and
// the arbiter see only ports, never a guest's internals.
import type { Ipv4, Mac } from '../wire/address.js';
import { Ring } from '../machine/ring.js';
import type { TokenBucket } from './token-bucket.js';

export interface PortCounters {
  /** Frames put into the port's RX ring. */
  rxFrames: number;
  rxBytes: number;
  /** Frames the guest took from its RX ring. */
  rxConsumed: number;
  /** Dropped: the guest's RX ring was full. */
  rxQueueFull: number;
  /** Frames the guest queued. */
  txQueued: number;
  /** Dropped: the guest's TX queue was full. */
  txQueueFull: number;
  /** Frames that left the port (to the NIC or to another local port). */
  txFrames: number;
  txBytes: number;
  /** Frames that went to another local guest without crossing the NIC. */
  txLocal: number;
  /** Dropped: source MAC was not the port's. */
  txSpoofedMac: number;
  /** Dropped: source IPv4 (or ARP sender) was not the port's. */
  txSpoofedIp: number;
  /** Dropped: the frame did not parse. */
  txMalformed: number;
  /** Times the arbiter held a frame back for the rate limit. */
  txRateLimited: number;
}

export class Port {
  readonly rx: Ring<Uint8Array>;
  readonly tx: Ring<Uint8Array>;
  readonly groups = new Set<Mac>();
  readonly counters: PortCounters = {
    rxFrames: 0, rxBytes: 0, rxConsumed: 0, rxQueueFull: 0,
    txQueued: 0, txQueueFull: 0, txFrames: 0, txBytes: 0, txLocal: 0,
    txSpoofedMac: 0, txSpoofedIp: 0, txMalformed: 0, txRateLimited: 0,
  };
  /** DRR state: bytes this port may still send in the current round. */
  deficit = 0;
  /** The guest asked to be told when the TX queue has room. */
  wantTxSpace = false;

  constructor(
    readonly name: string,
    readonly mac: Mac,
    /** The one IPv4 address the port may use as a source (0.0.0.0 is always allowed, for probes). */
    public ipv4: Ipv4 | undefined,
    /** Primary ports are served first by the strict policy. */
    readonly primary: boolean,
    rxQueue: number,
    txQueue: number,
    /** Share of the link under the weighted policy (relative to other ports). */
    readonly weight = 1,
    readonly bucket?: TokenBucket,
  ) {
    this.rx = new Ring(rxQueue);
    this.tx = new Ring(txQueue);
  }

  /** Put a frame into the RX ring; false (counted) if full. */
  deliver(frame: Uint8Array): boolean {
    if (!this.rx.push(frame)) {
      this.counters.rxQueueFull++;
      return false;
    }
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    return true;
  }

  /** Queue a frame from the guest; false (counted) if full. */
  enqueueTx(frame: Uint8Array): boolean {
    if (!this.tx.push(frame)) {
      this.counters.txQueueFull++;
      return false;
    }
    this.counters.txQueued++;
    return true;
  }
}
