// The virtual NIC driver's one protocol timer: armed no later than the stack's next deadline, and
// left alone when that deadline only moves later (a neighbour entry every frame refreshes), so
// the echo path sets, cancels and re-arms no timer per frame.
import { describe, expect, it } from 'vitest';
import type { NetStack } from '../net/index.js';
import { VirtualNicDriver } from './driver.js';
import type { GuestKernel } from './kernel.js';

/** The part of GuestKernel the driver uses: interrupt lines, the after-unit hook, one-shot timers. */
class FakeKernel {
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  readonly log: string[] = [];
  private nextId = 1;
  private readonly hooks: Array<() => void> = [];
  readonly hw = { nic: {} };
  onInterrupt(): void {}
  afterUnit(hook: () => void): void {
    this.hooks.push(hook);
  }
  at(at: number, fn: () => void): number {
    const id = this.nextId++;
    this.timers.set(id, { at, fn });
    this.log.push(`at ${at}`);
    return id;
  }
  cancel(id: number): void {
    this.timers.delete(id);
    this.log.push(`cancel ${id}`);
  }
  endUnit(): void {
    for (const h of this.hooks) h();
  }
  fire(): void {
    const [id, t] = [...this.timers][0]!;
    this.timers.delete(id);
    t.fn();
    this.endUnit();
  }
}

function setup(): { kernel: FakeKernel; stack: { next: number | undefined; polls: number } } {
  const kernel = new FakeKernel();
  const driver = new VirtualNicDriver(kernel as unknown as GuestKernel);
  const stack = { next: undefined as number | undefined, polls: 0 };
  driver.bind({ pollAt: () => stack.next, poll: () => void stack.polls++ } as unknown as NetStack);
  return { kernel, stack };
}

describe('VirtualNicDriver: the stack timer', () => {
  it('arms one timer at the stack\'s deadline and keeps it while the deadline moves later', () => {
    const { kernel, stack } = setup();
    stack.next = 1000;
    kernel.endUnit();
    expect(kernel.log).toEqual(['at 1000']);
    for (const later of [1500, 2000, 2500, undefined]) {
      stack.next = later; // a frame refreshed a neighbour's expiry, or nothing is left to poll
      kernel.endUnit();
    }
    expect(kernel.log).toEqual(['at 1000']); // no cancel, no new timer
    expect([...kernel.timers.values()].map((t) => t.at)).toEqual([1000]);
  });

  it('moves the timer when the deadline comes earlier', () => {
    const { kernel, stack } = setup();
    stack.next = 1000;
    kernel.endUnit();
    stack.next = 800;
    kernel.endUnit();
    expect(kernel.log).toEqual(['at 1000', 'cancel 1', 'at 800']);
  });

  it('a timer that fires early polls the stack and is set again for the later deadline', () => {
    const { kernel, stack } = setup();
    stack.next = 1000;
    kernel.endUnit();
    stack.next = 3000;
    kernel.endUnit();
    kernel.fire();
    expect(stack.polls).toBe(1);
    expect(kernel.log).toEqual(['at 1000', 'at 3000']);
    stack.next = undefined;
    kernel.fire();
    expect(stack.polls).toBe(2);
    expect(kernel.timers.size).toBe(0); // nothing left to poll: no timer
  });
});
