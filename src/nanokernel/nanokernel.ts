// The nanokernel: owns the processor and the NIC, runs the OS domains on the one processor
// (the primary whenever it has work, secondaries in its idle time, in bounded quanta), delivers
// their virtual interrupts, and shares the NIC: RX demux, TX arbitration, source enforcement,
// guest-to-guest delivery, counters. It knows a guest only as a GuestOs and a Port.
import type { Ipv4, Mac } from '../wire/address.js';
import type { Clock, TimerHandle } from '../machine/clock.js';
import { Nic, NicIrq } from '../machine/nic.js';
import { Processor } from '../machine/processor.js';
import { Irq, type DomainServices, type GuestOs, type Role, type VirtualNic } from './guest-interface.js';
import { Port } from './port.js';
import { RxDemux } from './demux.js';
import { makeTxPolicy, type TxPolicy, type TxPolicyName } from './arbiter.js';
import { TokenBucket } from './token-bucket.js';
import { checkSource } from './source-guard.js';

export interface SchedulerOptions {
  /** Longest secondary quantum, in processor microseconds. */
  quantumUs: number;
  /** Most frames a secondary may take in one quantum. */
  quantumFrames: number;
  /** Most frames any guest may take in one unit (one interrupt handler run or task step). */
  unitFrames: number;
  /** Longest run of the processor before it yields to the event loop for I/O. */
  sliceUs: number;
  /**
   * Longest guard before the primary's next timer deadline in which no secondary unit starts.
   * The guard is twice the secondary's recent unit length, capped here, so a unit that cannot
   * finish before the deadline waits for the primary instead of making it late.
   */
  guardUs: number;
}

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
}

export const DEFAULT_SCHEDULER: SchedulerOptions = { quantumUs: 200, quantumFrames: 64, unitFrames: 32, sliceUs: 2000, guardUs: 300 };

export interface DomainSpec {
  name: string;
  role: Role;
  mac: Mac;
  ipv4?: Ipv4;
  /** Weight under DRR (default 1). */
  weight?: number;
  /** Transmit rate limit in bits/s (default none). */
  rateBps?: number;
  /** Builds the guest on the services it is given. */
  guest: (services: DomainServices) => GuestOs;
}

export interface DomainStats {
  /** Processor time spent in this guest's units. */
  busyUs: number;
  units: number;
  quanta: number;
  /** Quanta cut short because the primary had work. */
  preemptions: number;
  /** Virtual interrupt deliveries. */
  interrupts: number;
  /** Frames the guest took from its RX ring. */
  framesHandled: number;
  /** Longest single unit, in microseconds. */
  maxUnitUs: number;
  /** Moving average of a unit's length (1/8 weight to the newest). */
  avgUnitUs: number;
  /** Times a unit was held back because the primary's deadline was nearer than the guard. */
  guarded: number;
}

export class Domain {
  readonly stats: DomainStats = { busyUs: 0, units: 0, quanta: 0, preemptions: 0, interrupts: 0, framesHandled: 0, maxUnitUs: 0, avgUnitUs: 0, guarded: 0 };
  /** Pending virtual interrupt lines. */
  pending = 0;
  timerAt: number | undefined;
  timerHandle: TimerHandle | undefined;
  /** Frames this guest may still take in the current unit. */
  unitFramesLeft = 0;
  guest!: GuestOs;

  constructor(readonly name: string, readonly role: Role, readonly port: Port) {}

  hasWork(): boolean {
    return this.pending !== 0 || this.guest.runnable();
  }
}

export interface SwitchCounters {
  rxFrames: number;
  rxUnicast: number;
  rxBroadcast: number;
  rxMulticast: number;
  rxUnknownUnicast: number;
  rxNoSubscriber: number;
  txFrames: number;
  txLocal: number;
  txSpoofedMac: number;
  txSpoofedIp: number;
  txMalformed: number;
}

/** Observes frames and decisions, for capture and tracing. Never changes them. */
export interface SwitchObserver {
  drop?(reason: string, frame: Uint8Array, port: Port | undefined): void;
  local?(frame: Uint8Array, from: Port, to: Port): void;
}

export class Nanokernel {
  readonly domains: Domain[] = [];
  readonly counters: SwitchCounters = {
    rxFrames: 0, rxUnicast: 0, rxBroadcast: 0, rxMulticast: 0, rxUnknownUnicast: 0, rxNoSubscriber: 0,
    txFrames: 0, txLocal: 0, txSpoofedMac: 0, txSpoofedIp: 0, txMalformed: 0,
  };
  /** Processor time in the nanokernel itself (demux, arbitration), in microseconds. */
  kernelUs = 0;
  runs = 0;
  readonly sched: SchedulerOptions;
  readonly startedAt: number;
  observer: SwitchObserver = {};

  private readonly demux = new RxDemux();
  private policy: TxPolicy | undefined;
  private readonly clock: Clock;
  private running = false;
  private rateTimer: TimerHandle | undefined;
  private secondaryCursor = 0;
  private secondaries: Domain[] = [];
  /** The last run held a secondary back for the primary's imminent deadline. */
  private waitingForPrimary = false;
  private started = false;

  constructor(readonly processor: Processor, readonly nic: Nic, private readonly opts: NanokernelOptions = {}) {
    this.clock = processor.clock;
    this.sched = { ...DEFAULT_SCHEDULER, ...stripUndefined(opts) };
    this.startedAt = this.clock.now();
    processor.setEntry(() => this.run(true));
    nic.onInterrupt((cause) => {
      if (cause & (NicIrq.Rx | NicIrq.TxDone)) this.interrupt();
    });
  }

  /** Create a domain and its port. Primaries are scheduled before secondaries. */
  addDomain(spec: DomainSpec): Domain {
    if (this.started) throw new Error('domains are added before start()');
    const now = this.clock.now();
    const bucket = spec.rateBps ? new TokenBucket(spec.rateBps, Math.max(3 * 1522, spec.rateBps / 8 / 100), now) : undefined;
    const port = new Port(spec.name, spec.mac, spec.ipv4, spec.role === 'primary', this.opts.rxQueue ?? 256, this.opts.txQueue ?? 256, spec.weight ?? 1, bucket);
    this.demux.add(port);
    const d = new Domain(spec.name, spec.role, port);
    d.guest = spec.guest(this.servicesFor(d));
    this.domains.push(d);
    this.domains.sort((a, b) => rank(a.role) - rank(b.role));
    this.secondaries = this.domains.filter((x) => x.role === 'secondary');
    return d;
  }

  /** Boot every guest (primary first) and start dispatching. */
  start(): void {
    this.started = true;
    this.policy = makeTxPolicy(this.opts.txPolicy ?? 'strict', this.domains.map((d) => d.port));
    for (const d of this.domains) this.account(d, () => d.guest.boot());
    this.pumpTx();
    if (this.hasWork()) this.processor.wake();
  }

  get txPolicy(): TxPolicyName {
    return this.policy?.name ?? this.opts.txPolicy ?? 'strict';
  }

  private servicesFor(d: Domain): DomainServices {
    const port = d.port;
    const nic: VirtualNic = {
      mac: port.mac,
      receive: () => {
        if (d.unitFramesLeft <= 0) return undefined;
        const f = port.rx.shift();
        if (f !== undefined) {
          d.unitFramesLeft--;
          port.counters.rxConsumed++;
          d.stats.framesHandled++;
        }
        return f;
      },
      txSpace: () => port.tx.capacity - port.tx.length,
      wantTxSpace: () => {
        port.wantTxSpace = true;
      },
      transmit: (frame) => {
        const ok = port.enqueueTx(frame);
        // The doorbell: a transmit outside a dispatched unit (never the case for a guest
        // running under the nanokernel, but cheap to honour) still gets the arbiter to run.
        if (ok && !this.running) this.processor.wake();
        return ok;
      },
      subscribe: (group) => this.demux.subscribe(port, group),
      unsubscribe: (group) => this.demux.unsubscribe(port, group),
    };
    return {
      name: d.name,
      role: d.role,
      now: () => this.clock.now(),
      setTimer: (atUs) => this.setTimer(d, atUs),
      nic,
    };
  }

  private setTimer(d: Domain, atUs: number | undefined): void {
    d.timerHandle?.cancel();
    d.timerHandle = undefined;
    d.timerAt = atUs;
    if (atUs === undefined) return;
    d.timerHandle = this.clock.at(atUs, () => {
      d.timerHandle = undefined;
      this.interrupt();
    });
  }

  /**
   * A hardware interrupt (NIC, timer): the nanokernel and the primary run at once; secondary
   * work is deferred to the next turn of the event loop, so the interrupt path stays short and
   * other pending interrupts (the primary's timer) are taken promptly.
   */
  private interrupt(): void {
    if (this.running) return;
    this.run(false);
  }

  /** Raise due virtual timers. */
  private checkTimers(now: number): void {
    for (const d of this.domains) {
      if (d.timerAt !== undefined && d.timerAt <= now) {
        d.timerAt = undefined;
        d.timerHandle?.cancel();
        d.timerHandle = undefined;
        d.pending |= Irq.Timer;
      }
    }
  }

  private primaryHasWork(): boolean {
    for (const d of this.domains) if (d.role === 'primary' && d.hasWork()) return true;
    return false;
  }

  hasWork(): boolean {
    if (!this.nic.rx.isEmpty()) return true;
    for (const d of this.domains) if (d.hasWork()) return true;
    return this.txWaiting();
  }

  /** Frames queued in a guest's TX queue that the arbiter could move now. */
  private txWaiting(): boolean {
    if (this.nic.txSpace() === 0 || this.nic.txPending() >= (this.opts.txFeed ?? 8)) return false; // TxDone will wake us
    const now = this.clock.now();
    for (const d of this.domains) {
      const head = d.port.tx.peek();
      if (head && (!d.port.bucket || d.port.bucket.allows(head.length, now))) return true;
    }
    return false;
  }

  /** One run of the processor: NIC RX, the primary while it has work, one secondary quantum (if allowed), TX. */
  private run(secondaries: boolean): void {
    if (this.running || !this.started) return;
    this.running = true;
    this.waitingForPrimary = false;
    this.runs++;
    const clock = this.clock;
    const start = clock.now();
    let guestUs = 0;
    try {
      this.demuxNicRx();
      this.checkTimers(start);
      for (;;) {
        for (const d of this.domains) {
          if (d.role !== 'primary') continue;
          while (d.hasWork() && clock.now() - start < this.sched.sliceUs) {
            guestUs += this.runUnit(d);
            this.pumpTx();
            this.demuxNicRx();
            this.checkTimers(clock.now());
          }
        }
        if (this.primaryHasWork() || !secondaries) break; // slice spent, or interrupt context
        const q = this.runSecondaryQuantum();
        guestUs += q.spentUs;
        // A preempted quantum hands the processor straight back to the primary.
        if (!q.preempted || clock.now() - start >= this.sched.sliceUs) break;
      }
      this.pumpTx();
    } finally {
      this.running = false;
      this.kernelUs += Math.max(0, clock.now() - start - guestUs);
    }
    // Held back for the primary's deadline: its timer interrupt is the next thing to run, and
    // everything else that arrives meanwhile comes as an interrupt too, so do not spin.
    if (this.waitingForPrimary && !this.primaryHasWork() && this.nic.rx.isEmpty()) return;
    if (this.hasWork()) this.processor.wake();
  }

  /** Give one quantum to the next secondary with work (round robin among secondaries). */
  private runSecondaryQuantum(): { spentUs: number; preempted: boolean } {
    const secondaries = this.secondaries;
    const n = secondaries.length;
    for (let i = 0; i < n; i++) {
      const d = secondaries[(this.secondaryCursor + i) % n]!;
      if (!d.hasWork()) continue;
      this.secondaryCursor = (this.secondaryCursor + i + 1) % n;
      return this.runQuantum(d);
    }
    return { spentUs: 0, preempted: false };
  }

  /** True when a unit of `d` started now would likely still run at the primary's next deadline. */
  private guarded(d: Domain, now: number): boolean {
    let deadline = Infinity;
    for (const p of this.domains) if (p.role === 'primary' && p.timerAt !== undefined && p.timerAt < deadline) deadline = p.timerAt;
    if (deadline - now >= Math.min(2 * d.stats.avgUnitUs, this.sched.guardUs)) return false;
    d.stats.guarded++;
    this.waitingForPrimary = true;
    return true;
  }

  /** Units of `d` until its work, the quantum's time or frames run out, or the primary has work. */
  private runQuantum(d: Domain): { spentUs: number; preempted: boolean } {
    const clock = this.clock;
    const q0 = clock.now();
    const f0 = d.stats.framesHandled;
    let spentUs = 0;
    if (this.guarded(d, q0)) return { spentUs, preempted: false };
    d.stats.quanta++;
    for (;;) {
      spentUs += this.runUnit(d);
      this.pumpTx();
      this.demuxNicRx();
      const now = clock.now();
      this.checkTimers(now);
      if (!d.hasWork()) return { spentUs, preempted: false };
      if (this.primaryHasWork()) {
        d.stats.preemptions++;
        return { spentUs, preempted: true };
      }
      if (now - q0 >= this.sched.quantumUs || d.stats.framesHandled - f0 >= this.sched.quantumFrames) return { spentUs, preempted: false };
      if (this.guarded(d, now)) return { spentUs, preempted: false };
    }
  }

  /** One unit of a guest: its pending interrupts, else one task step. Returns its duration. */
  private runUnit(d: Domain): number {
    return this.account(d, () => {
      if (d.pending !== 0) {
        const lines = d.pending;
        d.pending = 0;
        d.stats.interrupts++;
        d.guest.interrupt(lines);
      } else {
        d.guest.step();
      }
    });
  }

  private account(d: Domain, fn: () => void): number {
    const t0 = this.clock.now();
    d.unitFramesLeft = this.sched.unitFrames;
    try {
      fn();
    } finally {
      d.unitFramesLeft = 0;
      // Level-triggered RX: frames left in the ring keep the line asserted.
      if (!d.port.rx.isEmpty()) d.pending |= Irq.NetRx;
    }
    const dt = this.clock.now() - t0;
    d.stats.busyUs += dt;
    d.stats.units++;
    if (dt > d.stats.maxUnitUs) d.stats.maxUnitUs = dt;
    d.stats.avgUnitUs += (dt - d.stats.avgUnitUs) / 8;
    return dt;
  }

  /** Take every frame from the NIC's RX ring and deliver it by destination MAC. */
  private demuxNicRx(): void {
    const ring = this.nic.rx;
    for (let frame = ring.shift(); frame !== undefined; frame = ring.shift()) {
      this.counters.rxFrames++;
      const to = this.demux.route(frame);
      if (to instanceof Port) {
        this.counters.rxUnicast++;
        this.deliver(to, frame);
      } else if (typeof to === 'string') {
        if (to === 'unknown-unicast') this.counters.rxUnknownUnicast++;
        else this.counters.rxNoSubscriber++;
        this.observer.drop?.(`rx-${to}`, frame, undefined);
      } else {
        if (frame[0] === 0xff) this.counters.rxBroadcast++;
        else this.counters.rxMulticast++;
        for (const p of to) this.deliver(p, frame);
      }
    }
  }

  private deliver(port: Port, frame: Uint8Array): void {
    if (port.deliver(frame)) {
      const d = this.domainOf(port);
      d.pending |= Irq.NetRx;
    } else {
      this.observer.drop?.('rx-queue-full', frame, port);
    }
  }

  private domainOf(port: Port): Domain {
    for (const d of this.domains) if (d.port === port) return d;
    throw new Error(`no domain for port ${port.name}`);
  }

  /** Move frames from the guests' TX queues to the NIC, by the arbiter's policy. */
  private pumpTx(): void {
    const policy = this.policy;
    if (!policy) return;
    const now = this.clock.now();
    const feed = this.opts.txFeed ?? 8;
    // Bounded like every other unit of work: a deep TX queue is written out over several runs,
    // so the primary's interrupts never wait behind hundreds of writes.
    let budget = this.sched.unitFrames;
    while (budget-- > 0 && this.nic.txSpace() > 0 && this.nic.txPending() < feed) {
      const port = policy.select(now);
      if (!port) break;
      const frame = port.tx.shift()!;
      port.bucket?.consume(frame.length);
      if (port.wantTxSpace && port.tx.length <= port.tx.capacity >> 1) {
        port.wantTxSpace = false;
        this.domainOf(port).pending |= Irq.TxSpace;
      }
      this.forward(port, frame);
    }
    this.armRateTimer(now);
  }

  /** If a rate-limited port still holds frames, wake when its bucket allows the head frame. */
  private armRateTimer(now: number): void {
    if (this.rateTimer) return;
    let at = Infinity;
    for (const d of this.domains) {
      const head = d.port.tx.peek();
      if (head && d.port.bucket) at = Math.min(at, d.port.bucket.readyAt(head.length, now));
    }
    if (at === Infinity || at <= now) return;
    this.rateTimer = this.clock.at(at, () => {
      this.rateTimer = undefined;
      this.interrupt();
      if (this.running) this.processor.wake();
    });
  }

  /** Source check, then local delivery and/or the NIC. */
  private forward(port: Port, frame: Uint8Array): void {
    const verdict = checkSource(port, frame);
    if (verdict !== 'ok') {
      if (verdict === 'spoofed-mac') {
        port.counters.txSpoofedMac++;
        this.counters.txSpoofedMac++;
      } else if (verdict === 'spoofed-ip') {
        port.counters.txSpoofedIp++;
        this.counters.txSpoofedIp++;
      } else {
        port.counters.txMalformed++;
        this.counters.txMalformed++;
      }
      this.observer.drop?.(`tx-${verdict}`, frame, port);
      return;
    }
    port.counters.txFrames++;
    port.counters.txBytes += frame.length;
    const to = this.demux.route(frame);
    if (to instanceof Port) {
      // Unicast to a local guest (or to itself): delivered here, never sent out.
      port.counters.txLocal++;
      this.counters.txLocal++;
      this.observer.local?.(frame, port, to);
      this.deliver(to, frame);
      return;
    }
    if (typeof to !== 'string') {
      for (const p of to) {
        if (p === port) continue;
        this.observer.local?.(frame, port, p);
        this.deliver(p, frame);
      }
    }
    this.counters.txFrames++;
    this.nic.transmit(frame);
  }

  /** A JSON-friendly snapshot of every counter. */
  snapshot(): NanokernelSnapshot {
    const now = this.clock.now();
    return {
      uptimeUs: now - this.startedAt,
      txPolicy: this.txPolicy,
      scheduler: { ...this.sched },
      processor: { kernelUs: this.kernelUs, runs: this.runs, wakeups: this.processor.wakeups },
      switch: { ...this.counters },
      nic: { ...this.nic.counters },
      link: { name: this.nic.link.name, ...this.nic.link.stats },
      domains: this.domains.map((d) => ({
        name: d.name,
        role: d.role,
        weight: d.port.weight,
        rateBps: d.port.bucket?.rateBps,
        cpu: { ...d.stats },
        port: { ...d.port.counters, rxQueued: d.port.rx.length, txQueued: d.port.tx.length },
      })),
    };
  }

  /** Stop timers and close the NIC (and its link). */
  shutdown(): void {
    for (const d of this.domains) {
      d.timerHandle?.cancel();
      d.timerHandle = undefined;
    }
    this.rateTimer?.cancel();
    this.nic.close();
  }
}

export interface NanokernelSnapshot {
  uptimeUs: number;
  txPolicy: TxPolicyName;
  scheduler: SchedulerOptions;
  processor: { kernelUs: number; runs: number; wakeups: number };
  switch: SwitchCounters;
  nic: Record<string, number>;
  link: Record<string, number | string>;
  domains: Array<{
    name: string;
    role: Role;
    weight: number;
    rateBps: number | undefined;
    cpu: DomainStats;
    port: Record<string, number>;
  }>;
}

function rank(role: Role): number {
  return role === 'primary' ? 0 : 1;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
