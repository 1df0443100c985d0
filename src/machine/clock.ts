// Time is injected: nothing below cli/ reads the system clock. The machine runs on a Clock;
// tests drive a ManualClock, the command line gives a SystemClock.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic time in microseconds (fractional allowed). */
  now(): number;
  /** Call `fn` once at or after monotonic time `atUs`. */
  at(atUs: number, fn: () => void): TimerHandle;
  /** Call `fn` soon, after pending I/O has had a chance to run (setImmediate in a real clock). */
  defer(fn: () => void): void;
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told: `advance(us)` runs due timers and deferred calls in order. */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: PendingTimer[] = [];
  private deferred: Array<() => void> = [];

  constructor(startUs = 0) {
    this.t = startUs;
  }

  now(): number {
    return this.t;
  }

  at(atUs: number, fn: () => void): TimerHandle {
    const timer: PendingTimer = { at: atUs, seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  /** Spend `us` of processor time inside a unit of work (moves time without running timers). */
  spend(us: number): void {
    this.t += us;
  }

  /** Run deferred calls until none are left (bounded, to catch livelock in tests). */
  runDeferred(limit = 100_000): void {
    let n = 0;
    while (this.deferred.length > 0) {
      if (++n > limit) throw new Error('ManualClock: deferred work did not settle');
      const fn = this.deferred.shift()!;
      fn();
    }
  }

  /** Advance to now + us, firing due timers in time order and settling deferred work after each. */
  advance(us: number): void {
    const end = this.t + us;
    this.runDeferred();
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      let next: PendingTimer | undefined;
      for (const x of this.timers) if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      if (next.at > this.t) this.t = next.at;
      next.fn();
      this.runDeferred();
    }
    if (end > this.t) this.t = end;
  }
}
