// virt-tx (after seL4 sDDF's virt_tx): moves the guests' queued frames to the NIC. The arbiter's
// policy picks the next port (strict priority or weighted share, arbiter.ts), a per-port token
// bucket limits its rate, the source check refuses a frame that speaks as someone else, and a
// frame addressed to another local guest is delivered to its port, never sent out.
import type { Clock, TimerHandle } from '../machine/clock.js';
import type { Nic } from '../machine/nic.js';
import { Irq } from './guest-interface.js';
import { Port } from './port.js';
import { makeTxPolicy, type TxPolicy, type TxPolicyName } from './arbiter.js';
import { checkSource } from './source-guard.js';
import type { Switch } from './switch.js';
import { deliver } from './virt-rx.js';

export interface VirtTxOptions {
  policy: TxPolicyName;
  /** Most frames kept in the NIC's TX ring (see NanokernelOptions.txFeed). */
  feed: number;
  /** Most frames moved per call, so a deep queue is written over several runs. */
  budget: number;
}

export class VirtTx {
  private policy: TxPolicy | undefined;
  private rateTimer: TimerHandle | undefined;

  constructor(
    private readonly sw: Switch,
    private readonly nic: Nic,
    private readonly clock: Clock,
    private readonly opts: VirtTxOptions,
    /** Called when a rate-limited port may send again. */
    private readonly kick: () => void,
  ) {}

  get policyName(): TxPolicyName {
    return this.policy?.name ?? this.opts.policy;
  }

  /** Fix the set of ports the arbiter serves (at start). */
  start(): void {
    this.policy = makeTxPolicy(this.opts.policy, this.sw.ports);
  }

  /** Frames queued in a port's TX queue that the arbiter could move now. */
  pending(): boolean {
    if (this.nic.txSpace() === 0 || this.nic.txPending() >= this.opts.feed) return false; // TxDone will wake us
    return this.policy?.pending(this.clock.now()) ?? false;
  }

  /** Move frames from the ports' TX queues to the NIC, by the arbiter's policy. */
  pump(): void {
    const policy = this.policy;
    if (!policy) return;
    const now = this.clock.now();
    // Bounded like every other unit of work: a deep TX queue is written out over several runs,
    // so the primary's interrupts never wait behind hundreds of writes.
    let budget = this.opts.budget;
    const nic = this.nic;
    nic.beginTx(); // the frames of one pump may leave together (TSO at a TAP)
    try {
      while (budget-- > 0 && nic.txSpace() > 0 && nic.txPending() < this.opts.feed) {
        const port = policy.select(now);
        if (!port) break;
        const frame = port.tx.shift()!;
        port.bucket?.consume(frame.length);
        if (port.wantTxSpace && port.tx.length <= port.tx.capacity >> 1) {
          port.wantTxSpace = false;
          port.line.raise(Irq.TxSpace);
        }
        this.forward(port, frame);
      }
    } finally {
      nic.endTx(); // whatever happened, nothing stays held in the link
    }
    this.armRateTimer(now);
  }

  /** If a rate-limited port still holds frames, wake when its bucket allows the head frame. */
  private armRateTimer(now: number): void {
    if (this.rateTimer || !this.policy) return;
    const at = this.policy.nextReadyAt(now);
    if (at === Infinity || at <= now) return;
    this.rateTimer = this.clock.at(at, () => {
      this.rateTimer = undefined;
      this.kick();
    });
  }

  /** Source check, then local delivery and/or the NIC. */
  private forward(port: Port, frame: Uint8Array): void {
    const sw = this.sw;
    const verdict = checkSource(port, frame, sw);
    if (verdict !== 'ok') {
      sw.drop(verdict === 'spoofed-mac' ? 'txSpoofedMac' : verdict === 'spoofed-ip' ? 'txSpoofedIp' : 'txMalformed', frame, port);
      return;
    }
    port.counters.txFrames++;
    port.counters.txBytes += frame.length;
    const to = sw.route(frame);
    if (to instanceof Port) {
      // Unicast to a local guest (or to itself): delivered here, never sent out.
      port.counters.txLocal++;
      sw.counters.txLocal++;
      if (deliver(sw, to, frame)) sw.observer.local?.(frame, port.name, to.name);
      return;
    }
    if (typeof to !== 'string') {
      for (const p of to) {
        if (p === port) continue;
        if (deliver(sw, p, frame)) sw.observer.local?.(frame, port.name, p.name);
      }
    }
    sw.counters.txFrames++;
    sw.observer.tx?.(frame, port.name);
    this.nic.transmit(frame);
  }

  /** Cancel the rate-limit timer. */
  stop(): void {
    this.rateTimer?.cancel();
    this.rateTimer = undefined;
  }
}
