// The one processor: the Node main thread. It runs whatever its owner (the nanokernel) installs
// as the entry point, whenever an interrupt or a timer wakes it, and never runs two things at once.
import type { Clock } from './clock.js';

export class Processor {
  private entry: () => void = () => {};
  private woken = false;
  /** Times the processor was woken (interrupts + timers + self-requeues). */
  wakeups = 0;

  constructor(readonly clock: Clock) {}

  /** Install the code that runs on every wake-up. */
  setEntry(entry: () => void): void {
    this.entry = entry;
  }

  /** Ask to run the entry point soon (after pending I/O). Coalesces: many wakes, one run. */
  wake(): void {
    if (this.woken) return;
    this.woken = true;
    this.clock.defer(this.dispatch);
  }

  private readonly dispatch = (): void => {
    this.woken = false;
    this.wakeups++;
    this.entry();
  };
}
