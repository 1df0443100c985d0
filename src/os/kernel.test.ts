// The guest kernel's timers: one virtual timer multiplexed over the guest's one-shot and periodic
// timers. A timer cancelled by another timer's callback in the same interrupt does not run.
import { describe, expect, it } from 'vitest';
import { Irq, type DomainServices } from '../nanokernel/guest-interface.js';
import { GuestKernel } from './kernel.js';

function kernel(): { k: GuestKernel; setNow: (us: number) => void } {
  let now = 0;
  const hw = { now: () => now, setTimer: () => {} } as unknown as DomainServices;
  return { k: new GuestKernel(hw, 'time-sharing'), setNow: (us) => (now = us) };
}

describe('GuestKernel timers', () => {
  it('does not run a one-shot timer that an earlier callback of the same interrupt cancelled', () => {
    const { k, setNow } = kernel();
    const ran: string[] = [];
    let second = 0;
    k.at(100, () => {
      ran.push('first');
      k.cancel(second);
    });
    second = k.at(100, () => ran.push('second'));
    k.at(100, () => ran.push('third'));
    setNow(100);
    k.interrupt(Irq.Timer);
    expect(ran).toEqual(['first', 'third']);
  });

  it('does not run or re-arm a periodic timer that an earlier callback cancelled', () => {
    const { k, setNow } = kernel();
    const ran: string[] = [];
    let periodic = 0;
    k.at(100, () => {
      ran.push('one-shot');
      k.cancel(periodic);
    });
    periodic = k.every(50, 100, () => ran.push('periodic'));
    setNow(100);
    k.interrupt(Irq.Timer);
    setNow(1000);
    k.interrupt(Irq.Timer);
    expect(ran).toEqual(['one-shot']);
  });
});
