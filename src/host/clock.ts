// The real clock: monotonic microseconds from performance.now(), timers on a CLOCK_MONOTONIC
// timerfd (the addon's HrTimer: tens of µs of lateness, where setTimeout has a millisecond
// grain), falling back to setTimeout when the addon is not built. defer = setImmediate, which
// runs after the event loop has polled for I/O. Once closed the clock is inert: a guest unit
// still running while the machine stops may ask for a timer, and gets a handle that never fires
// (a closed timerfd must never turn a clean stop into a crash).
// The machine reads this clock 10-13 times per frame (unit accounting, quanta, timers), so a
// read allocates no BigInt: performance.now() is the same CLOCK_MONOTONIC (libuv's hrtime) as a
// double, and timer deadlines go to the timerfd as microseconds in a double too. The timerfd is
// re-armed only for a deadline earlier than the one it holds: a cancelled timer leaves it armed
// (it wakes once for nothing and is armed for the next), so a unit that cancels a timer and sets
// a later one, as a guest does per frame, makes no system call and allocates nothing for it.
import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../machine/clock.js';
import { HrTimer } from '../link/hrtimer.js';

/** A pending timer, and its own handle: one object per at(), no closure. */
class Entry implements TimerHandle {
  cancelled = false;

  constructor(
    readonly clock: SystemClock,
    readonly at: number,
    readonly fn: () => void,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.clock.remove(this);
  }
}

const INERT: TimerHandle = { cancel: () => undefined };

export class SystemClock implements Clock {
  /** performance.now() in µs at time 0 of this clock. */
  private readonly originPerfUs: number;
  /** CLOCK_MONOTONIC (process.hrtime) in µs at time 0 of this clock. */
  readonly originMonoUs: number;
  private timers: Entry[] = [];
  private hr: HrTimer | undefined;
  private fallback: ReturnType<typeof setTimeout> | undefined;
  private armedAt: number | undefined;
  private closed = false;
  readonly highResolution: boolean;

  constructor(useHrTimer = true) {
    // They are one clock; the offset is taken from the tightest of a few hrtime/perf/hrtime
    // brackets, so a preemption (or a slow first call) between two reads cannot skew it.
    let best = Infinity;
    let perfUs = 0;
    let monoUs = 0;
    for (let i = 0; i < 8; i++) {
      const h1 = Number(process.hrtime.bigint()) / 1000;
      const p = performance.now() * 1000;
      const h2 = Number(process.hrtime.bigint()) / 1000;
      if (h2 - h1 < best) {
        best = h2 - h1;
        perfUs = p;
        monoUs = (h1 + h2) / 2;
      }
    }
    this.originPerfUs = perfUs;
    this.originMonoUs = monoUs;
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
    return performance.now() * 1000 - this.originPerfUs;
  }

  at(atUs: number, fn: () => void): TimerHandle {
    if (this.closed) return INERT;
    const e = new Entry(this, atUs, fn);
    // Sorted insert, in place (splice makes an array of what it removed, even of nothing): few
    // timers are ever pending (one per guest, the rate limiter, the NIC).
    const timers = this.timers;
    let i = timers.length;
    timers.push(e);
    while (i > 0 && timers[i - 1]!.at > atUs) {
      timers[i] = timers[i - 1]!;
      i--;
    }
    timers[i] = e;
    if (i === 0 && (this.armedAt === undefined || atUs < this.armedAt)) this.arm();
    return e;
  }

  /** A cancelled entry out of the list, in place. Left armed: the wake-up finds nothing due and arms for the next (fire). */
  remove(e: Entry): void {
    const timers = this.timers;
    const idx = timers.indexOf(e);
    if (idx < 0) return;
    for (let j = idx + 1; j < timers.length; j++) timers[j - 1] = timers[j]!;
    timers.length--;
  }

  defer(fn: () => void): void {
    if (this.closed) return;
    setImmediate(() => {
      if (!this.closed) fn();
    });
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
      // +1 µs: the offset between the two reads of one clock is exact only to a fraction of a µs,
      // and a timer that fired early by that would be re-armed at once instead of running.
      this.hr.armUs(this.originMonoUs + Math.max(0, next.at) + 1);
    } else {
      if (this.fallback) clearTimeout(this.fallback);
      this.fallback = setTimeout(() => this.fire(), Math.max(0, (next.at - this.now()) / 1000));
    }
  }

  private fire(): void {
    if (this.closed) return;
    this.armedAt = undefined;
    this.fallback = undefined;
    const now = this.now();
    while (this.timers.length > 0 && this.timers[0]!.at <= now) {
      const e = this.timers.shift()!;
      e.cancelled = true;
      e.fn();
    }
    if (!this.closed) this.arm();
  }

  /** Drop every pending timer and deferred call; later requests are ignored. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timers = [];
    this.arm();
    this.hr?.close();
  }
}
