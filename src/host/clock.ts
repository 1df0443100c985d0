// The real clock: monotonic microseconds from process.hrtime, timers on a CLOCK_MONOTONIC
// timerfd (the addon's HrTimer: tens of µs of lateness, where setTimeout has a millisecond
// grain), falling back to setTimeout when the addon is not built. defer = setImmediate, which
// runs after the event loop has polled for I/O.
import type { Clock, TimerHandle } from '../machine/clock.js';
import { HrTimer } from '../link/hrtimer.js';

interface Entry {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

export class SystemClock implements Clock {
  private readonly originNs = process.hrtime.bigint();
  private timers: Entry[] = [];
  private hr: HrTimer | undefined;
  private fallback: ReturnType<typeof setTimeout> | undefined;
  private armedAt: number | undefined;
  readonly highResolution: boolean;

  constructor(useHrTimer = true) {
    if (useHrTimer) {
      try {
        this.hr = new HrTimer(() => this.fire());
      } catch {
        this.hr = undefined;
      }
    }
    this.highResolution = this.hr !== undefined;
  }

  now(): number {
    return Number(process.hrtime.bigint() - this.originNs) / 1000;
  }

  at(atUs: number, fn: () => void): TimerHandle {
    const e: Entry = { at: atUs, fn, cancelled: false };
    // Sorted insert: few timers are ever pending (one per guest, the rate limiter, the NIC).
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.at > atUs) i--;
    this.timers.splice(i, 0, e);
    if (i === 0) this.arm();
    return {
      cancel: () => {
        if (e.cancelled) return;
        e.cancelled = true;
        const idx = this.timers.indexOf(e);
        if (idx >= 0) this.timers.splice(idx, 1);
        if (idx === 0) this.arm();
      },
    };
  }

  defer(fn: () => void): void {
    setImmediate(fn);
  }

  private arm(): void {
    const next = this.timers[0];
    if (next === undefined) {
      this.armedAt = undefined;
      this.hr?.disarm();
      if (this.fallback) clearTimeout(this.fallback);
      this.fallback = undefined;
      return;
    }
    if (this.armedAt === next.at) return;
    this.armedAt = next.at;
    if (this.hr) {
      this.hr.arm(this.originNs + BigInt(Math.max(0, Math.ceil(next.at * 1000))));
    } else {
      if (this.fallback) clearTimeout(this.fallback);
      this.fallback = setTimeout(() => this.fire(), Math.max(0, (next.at - this.now()) / 1000));
    }
  }

  private fire(): void {
    this.armedAt = undefined;
    this.fallback = undefined;
    const now = this.now();
    while (this.timers.length > 0 && this.timers[0]!.at <= now) {
      const e = this.timers.shift()!;
      e.cancelled = true;
      e.fn();
    }
    this.arm();
  }

  close(): void {
    this.timers = [];
    this.arm();
    this.hr?.close();
  }
}
