// A one-shot high-resolution timer for the machine's clock: setTimeout has millisecond
// granularity, the rtos's 1 ms periodic task needs tens of microseconds. Backed by a
// CLOCK_MONOTONIC timerfd polled on the main event loop (native/tap.cc), so the callback runs on
// the one thread like every other event. An armed timer keeps the process alive; a disarmed one does not.
import { loadNativeAddon, type NativeHrTimer } from './tap.js';

/** One-shot timer on absolute CLOCK_MONOTONIC deadlines, the clock of `process.hrtime.bigint()`. */
export class HrTimer {
  private readonly timer: NativeHrTimer;

  /** Throws TapError ENOADDON when the native addon is not built. */
  constructor(callback: () => void) {
    this.timer = new (loadNativeAddon().HrTimer)(callback);
  }

  /** Fire once at `deadlineNs` (now if it has passed); replaces any earlier deadline. */
  arm(deadlineNs: bigint): void {
    this.timer.arm(deadlineNs);
  }

  /** `arm` with the deadline in CLOCK_MONOTONIC microseconds as a number: no BigInt per re-arm. */
  armUs(deadlineUs: number): void {
    this.timer.armUs(deadlineUs);
  }

  disarm(): void {
    this.timer.disarm();
  }

  /** Disarm and release the timerfd. Idempotent; the timer cannot be armed again. */
  close(): void {
    this.timer.close();
  }
}
