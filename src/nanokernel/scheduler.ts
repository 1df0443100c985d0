// The scheduler: owns the one processor and decides who runs. Domains, units, quanta, the
// deadline guard, and processor-time accounting. The primary runs whenever it has work; the
// secondaries share its idle time round robin, in quanta bounded in time and frames, and no
// secondary unit starts that would likely still run at the primary's next timer deadline.
// Frames move between the NIC and the ports between units, through the I/O hooks it is given
// (virt-rx and virt-tx); it knows a guest only as a GuestOs behind a domain.
// Fault containment lives here too: a unit that throws is caught at the unit boundary, counted,
// reported (rate-limited), and its domain alone is rebooted or halted by its policy.
import type { Clock, TimerHandle } from '../machine/clock.js';
import type { Processor } from '../machine/processor.js';
import { Irq, type GuestOs, type Role } from './guest-interface.js';
import type { InterruptLine, Port } from './port.js';

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

export const DEFAULT_SCHEDULER: SchedulerOptions = { quantumUs: 200, quantumFrames: 64, unitFrames: 32, sliceUs: 2000, guardUs: 300 };

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
  /** Units that threw (guest faults caught at the unit boundary). */
  faults: number;
  /** Times the guest was rebuilt and booted again (after a fault, or on request). */
  reboots: number;
}

/** What the nanokernel does with a guest whose unit threw. */
export type FaultPolicy = 'reboot' | 'halt';

/** A guest fault, as the report hook gets it (at most one per guest per second). */
export interface FaultReport {
  guest: string;
  /** What was done: the policy's action, or 'halt' for a guest that faults while booting. */
  action: FaultPolicy;
  /** Where the fault happened. */
  during: 'boot' | 'unit';
  error: unknown;
  /** The error's message and stack (when it is an Error). */
  message: string;
  stack: string | undefined;
  /** This guest's faults so far, this one included. */
  faults: number;
  /** Faults of this guest not reported since the last report (the rate limit). */
  suppressed: number;
}

/** Shortest time between two fault reports of one guest, in microseconds. */
export const FAULT_REPORT_INTERVAL_US = 1_000_000;

/** How a domain's guest is rebuilt: the switch side reset, then a new guest from its config. */
export interface DomainLifecycle {
  /** Empty the port's queues (drops counted), leave its groups, restore its boot addresses. */
  reset(): void;
  /** Build a new guest on fresh services (the old guest's services go inert). */
  build(): GuestOs;
}

/** One OS domain: a guest, its port, its pending virtual interrupts and its virtual timer. */
export class Domain implements InterruptLine {
  readonly stats: DomainStats = { busyUs: 0, units: 0, quanta: 0, preemptions: 0, interrupts: 0, framesHandled: 0, maxUnitUs: 0, avgUnitUs: 0, guarded: 0, faults: 0, reboots: 0 };
  /** Pending virtual interrupt lines. */
  pending = 0;
  timerAt: number | undefined;
  timerHandle: TimerHandle | undefined;
  /** What the clock calls when the virtual timer is due: made once (scheduler.setTimer), not per arming. */
  onTimer: (() => void) | undefined;
  /** Frames this guest may still take in the current unit. */
  unitFramesLeft = 0;
  guest!: GuestOs;
  /** Bumped at every reboot: services handed to an older guest do nothing. */
  generation = 0;
  /** A halted domain never runs again (until an operator's reboot). */
  halted = false;
  /** When this guest's last fault was reported, and how many were not reported since. */
  lastReportAt = -Infinity;
  suppressed = 0;

  constructor(
    readonly name: string,
    readonly role: Role,
    readonly port: Port,
    readonly onFault: FaultPolicy = 'reboot',
    readonly lifecycle?: DomainLifecycle,
  ) {
    port.line = this;
  }

  raise(lines: number): void {
    if (!this.halted) this.pending |= lines;
  }

  /**
   * One unit of the guest: its pending interrupts, else one task step. Guest code, run inside the
   * scheduler's fault boundary; made once per domain, so a unit allocates nothing.
   */
  readonly unit = (): void => {
    if (this.pending !== 0) {
      const lines = this.pending;
      this.pending = 0;
      this.stats.interrupts++;
      this.guest.interrupt(lines);
    } else {
      this.guest.step();
    }
  };

  /** Guest code: a throw here is caught by the caller's unit boundary. */
  hasWork(): boolean {
    return !this.halted && (this.pending !== 0 || this.guest.runnable());
  }
}

/** How the scheduler moves frames between units (virt-rx and virt-tx). */
export interface SchedulerIo {
  /** Take the NIC's received frames to the ports. */
  receive(): void;
  /** Move the ports' queued frames to the NIC (or to other ports). */
  transmit(): void;
  /** Frames wait in the NIC's RX ring. */
  rxPending(): boolean;
  /** Frames wait in the ports' TX queues that transmit() could move now. */
  txPending(): boolean;
}

export class Scheduler {
  /** Primary first. */
  readonly domains: Domain[] = [];
  /** Processor time in the nanokernel itself (demux, arbitration), in microseconds. */
  kernelUs = 0;
  runs = 0;
  private readonly clock: Clock;
  private running = false;
  private started = false;
  private secondaryCursor = 0;
  private secondaries: Domain[] = [];
  private primaries: Domain[] = [];
  /** The last run held a secondary back for the primary's imminent deadline. */
  private waitingForPrimary = false;
  /** The last secondary quantum ended because the primary had work (a field, not a result object: no garbage per quantum). */
  private preempted = false;

  constructor(
    readonly processor: Processor,
    readonly opts: SchedulerOptions,
    private readonly io: SchedulerIo,
    /** Told of guest faults, rate-limited per guest (board/ and cli/ log them). */
    private readonly onFault: (report: FaultReport) => void = () => {},
  ) {
    this.clock = processor.clock;
    processor.setEntry(() => this.run(true));
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** True while a run is dispatching units. */
  get isRunning(): boolean {
    return this.running;
  }

  add(d: Domain): void {
    if (this.started) throw new Error('domains are added before start()');
    this.domains.push(d);
    this.domains.sort((a, b) => rank(a.role) - rank(b.role));
    this.primaries = this.domains.filter((x) => x.role === 'primary');
    this.secondaries = this.domains.filter((x) => x.role === 'secondary');
  }

  /** Boot every guest (primary first) and start dispatching. */
  start(): void {
    this.started = true;
    for (const d of this.domains) this.account(d, () => d.guest.boot(), 'boot');
    this.io.transmit();
    if (this.hasWork()) this.processor.wake();
  }

  /** Program a domain's one virtual timer (undefined disarms it). */
  setTimer(d: Domain, atUs: number | undefined): void {
    d.timerHandle?.cancel();
    d.timerHandle = undefined;
    d.timerAt = atUs;
    if (atUs === undefined) return;
    d.onTimer ??= () => {
      d.timerHandle = undefined;
      this.interrupt();
    };
    d.timerHandle = this.clock.at(atUs, d.onTimer);
  }

  /**
   * A hardware interrupt (NIC, timer): the nanokernel and the primary run at once; secondary
   * work is deferred to the next turn of the event loop, so the interrupt path stays short and
   * other pending interrupts (the primary's timer) are taken promptly.
   */
  interrupt(): void {
    if (this.running) return;
    this.run(false);
  }

  /** Work arrived from outside a unit (a doorbell, a rate-limit timer): run now or soon. */
  kick(): void {
    if (this.running) this.processor.wake();
    else this.run(false);
  }

  /** Ask for a run soon (after pending I/O). */
  wake(): void {
    this.processor.wake();
  }

  hasWork(): boolean {
    if (this.io.rxPending()) return true;
    const domains = this.domains;
    for (let i = 0; i < domains.length; i++) if (this.domainHasWork(domains[i]!)) return true;
    return this.io.txPending();
  }

  /** Raise due virtual timers. */
  private checkTimers(now: number): void {
    const domains = this.domains;
    for (let i = 0; i < domains.length; i++) {
      const d = domains[i]!;
      if (d.timerAt !== undefined && d.timerAt <= now) {
        d.timerAt = undefined;
        d.timerHandle?.cancel();
        d.timerHandle = undefined;
        d.pending |= Irq.Timer;
      }
    }
  }

  private primaryHasWork(): boolean {
    const primaries = this.primaries;
    for (let i = 0; i < primaries.length; i++) if (this.domainHasWork(primaries[i]!)) return true;
    return false;
  }

  /** d.hasWork(), with the guest's runnable() inside the fault boundary. */
  private domainHasWork(d: Domain): boolean {
    try {
      return d.hasWork();
    } catch (e) {
      this.fault(d, e, 'unit');
      return !d.halted && d.pending !== 0;
    }
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
      this.io.receive();
      this.checkTimers(start);
      for (;;) {
        for (let i = 0; i < this.primaries.length; i++) {
          const d = this.primaries[i]!;
          while (this.domainHasWork(d) && clock.now() - start < this.opts.sliceUs) {
            guestUs += this.runUnit(d);
            this.io.transmit();
            this.io.receive();
            this.checkTimers(clock.now());
          }
        }
        if (this.primaryHasWork() || !secondaries) break; // slice spent, or interrupt context
        const q = this.runSecondaryQuantum();
        guestUs += q;
        // A preempted quantum hands the processor straight back to the primary.
        if (!this.preempted || clock.now() - start >= this.opts.sliceUs) break;
      }
      this.io.transmit();
    } finally {
      this.running = false;
      this.kernelUs += Math.max(0, clock.now() - start - guestUs);
    }
    // Held back for the primary's deadline: its timer interrupt is the next thing to run, and
    // everything else that arrives meanwhile comes as an interrupt too, so do not spin.
    if (this.waitingForPrimary && !this.primaryHasWork() && !this.io.rxPending()) return;
    if (this.hasWork()) this.processor.wake();
  }

  /** Give one quantum to the next secondary with work (round robin among secondaries); its time, `preempted` set. */
  private runSecondaryQuantum(): number {
    const secondaries = this.secondaries;
    const n = secondaries.length;
    for (let i = 0; i < n; i++) {
      const d = secondaries[(this.secondaryCursor + i) % n]!;
      if (!this.domainHasWork(d)) continue;
      this.secondaryCursor = (this.secondaryCursor + i + 1) % n;
      return this.runQuantum(d);
    }
    this.preempted = false;
    return 0;
  }

  /** True when a unit of `d` started now would likely still run at the primary's next deadline. */
  private guarded(d: Domain, now: number): boolean {
    let deadline = Infinity;
    const primaries = this.primaries;
    for (let i = 0; i < primaries.length; i++) {
      const at = primaries[i]!.timerAt;
      if (at !== undefined && at < deadline) deadline = at;
    }
    if (deadline - now >= Math.min(2 * d.stats.avgUnitUs, this.opts.guardUs)) return false;
    d.stats.guarded++;
    this.waitingForPrimary = true;
    return true;
  }

  /** Units of `d` until its work, the quantum's time or frames run out, or the primary has work (`preempted`); their time. */
  private runQuantum(d: Domain): number {
    this.preempted = false;
    const clock = this.clock;
    const q0 = clock.now();
    const f0 = d.stats.framesHandled;
    let spentUs = 0;
    if (this.guarded(d, q0)) return spentUs;
    d.stats.quanta++;
    for (;;) {
      spentUs += this.runUnit(d);
      this.io.transmit();
      this.io.receive();
      const now = clock.now();
      this.checkTimers(now);
      if (!this.domainHasWork(d)) return spentUs;
      if (this.primaryHasWork()) {
        d.stats.preemptions++;
        this.preempted = true;
        return spentUs;
      }
      if (now - q0 >= this.opts.quantumUs || d.stats.framesHandled - f0 >= this.opts.quantumFrames) return spentUs;
      if (this.guarded(d, now)) return spentUs;
    }
  }

  /** One unit of a guest: its pending interrupts, else one task step. Returns its duration. */
  private runUnit(d: Domain): number {
    return this.account(d, d.unit);
  }

  /** Run one unit of `d`'s guest inside the fault boundary, and account its processor time. */
  private account(d: Domain, fn: () => void, during: 'boot' | 'unit' = 'unit'): number {
    const t0 = this.clock.now();
    d.unitFramesLeft = this.opts.unitFrames;
    try {
      fn();
    } catch (e) {
      d.unitFramesLeft = 0;
      this.fault(d, e, during);
    } finally {
      d.unitFramesLeft = 0;
      // Level-triggered RX: frames left in the ring keep the line asserted.
      if (!d.port.rx.isEmpty()) d.raise(Irq.NetRx);
    }
    const dt = this.clock.now() - t0;
    d.stats.busyUs += dt;
    d.stats.units++;
    if (dt > d.stats.maxUnitUs) d.stats.maxUnitUs = dt;
    d.stats.avgUnitUs += (dt - d.stats.avgUnitUs) / 8;
    return dt;
  }

  /**
   * A unit of `d` threw: count, report (rate-limited), then reboot or halt `d` by its policy. A
   * guest that faults while booting is halted: built from the same config, it would fault again.
   */
  private fault(d: Domain, error: unknown, during: 'boot' | 'unit'): void {
    d.stats.faults++;
    const action: FaultPolicy = during === 'boot' ? 'halt' : d.onFault;
    const now = this.clock.now();
    if (now - d.lastReportAt >= FAULT_REPORT_INTERVAL_US) {
      const suppressed = d.suppressed;
      d.lastReportAt = now;
      d.suppressed = 0;
      const err = error instanceof Error ? error : undefined;
      try {
        this.onFault({ guest: d.name, action, during, error, message: err ? err.message : String(error), stack: err?.stack, faults: d.stats.faults, suppressed });
      } catch {
        // The reporter's own failure (a closed log) must not take the machine down.
      }
    } else {
      d.suppressed++;
    }
    if (action === 'halt') this.halt(d);
    else this.reboot(d);
  }

  /** Stop `d` for good: its timer cancelled, its lines cleared, its port closed (frames to it dropped, counted). */
  halt(d: Domain): void {
    this.quiesce(d);
    d.halted = true;
    d.port.halted = true;
  }

  /**
   * Rebuild `d`'s guest from its config and boot it; the other domains do not notice. Its port's
   * queues are flushed, its timer cancelled, its pending lines cleared first.
   */
  reboot(d: Domain): void {
    const life = d.lifecycle;
    if (!life) return this.halt(d);
    this.quiesce(d);
    d.stats.reboots++;
    d.halted = false;
    d.port.halted = false;
    d.generation++;
    let guest: GuestOs;
    try {
      guest = life.build();
    } catch (e) {
      return this.fault(d, e, 'boot');
    }
    d.guest = guest;
    if (this.started) this.account(d, () => guest.boot(), 'boot');
    if (this.started && !this.running) this.processor.wake();
  }

  private quiesce(d: Domain): void {
    this.setTimer(d, undefined);
    d.pending = 0;
    d.unitFramesLeft = 0;
    d.lifecycle?.reset();
  }

  /**
   * Let `d`'s guest say goodbye (GuestOs.shutdown, one unit inside the fault boundary), then move
   * what it queued to the NIC at once, before a stop or a reboot flushes its port.
   */
  farewell(d: Domain): void {
    if (!this.started || d.halted || d.guest.shutdown === undefined) return;
    const guest = d.guest;
    this.account(d, () => guest.shutdown!());
    for (let i = 0; i < 4 && this.io.txPending(); i++) this.io.transmit();
  }

  /** Stop dispatching and cancel every virtual timer: no unit runs after this. */
  stop(): void {
    this.started = false;
    for (const d of this.domains) {
      d.timerHandle?.cancel();
      d.timerHandle = undefined;
    }
  }
}

function rank(role: Role): number {
  return role === 'primary' ? 0 : 1;
}
