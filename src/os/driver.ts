// The virtual NIC driver: the guest's side of its port on the nanokernel's switch. On the RX
// interrupt it takes the frames the nanokernel lets it take in this unit and hands them to the
// network stack; the stack transmits through it; after every unit it re-arms the stack's timer.
import { Irq } from '../nanokernel/guest-interface.js';
import type { NetDevice, NetStack } from '../net/index.js';
import type { IpAddr, Mac } from '../wire/address.js';
import type { GuestKernel } from './kernel.js';

export interface DriverCounters {
  rxFrames: number;
  txFrames: number;
  /** The virtual TX queue was full. */
  txQueueFull: number;
}

export class VirtualNicDriver implements NetDevice {
  readonly counters: DriverCounters = { rxFrames: 0, txFrames: 0, txQueueFull: 0 };
  private stack: NetStack | undefined;
  private pollTimer: number | undefined;
  private pollTimerAt: number | undefined;
  /** The stack's source of frames on an RX interrupt: made once, not per interrupt. */
  private readonly nextFrame = (): Uint8Array | undefined => this.kernel.hw.nic.receive();

  constructor(private readonly kernel: GuestKernel) {
    kernel.onInterrupt(Irq.NetRx, () => this.receive());
    kernel.onInterrupt(Irq.AddrConflict, () => this.conflicts());
    kernel.afterUnit(() => this.armPoll());
  }

  /** Bind the network stack that frames go up to. */
  bind(stack: NetStack): void {
    this.stack = stack;
  }

  transmit(frame: Uint8Array): boolean {
    if (this.kernel.hw.nic.transmit(frame)) {
      this.counters.txFrames++;
      return true;
    }
    this.counters.txQueueFull++;
    return false;
  }

  subscribe(group: Mac): void {
    this.kernel.hw.nic.subscribe(group);
  }

  unsubscribe(group: Mac): void {
    this.kernel.hw.nic.unsubscribe(group);
  }

  /** The nanokernel's address set for this port: its TX source check follows DAD, SLAAC and DHCP. */
  setAddresses(addrs: readonly IpAddr[]): boolean {
    return this.kernel.hw.nic.setAddresses(addrs);
  }

  /** The wire claimed one of our addresses (the frame stayed at the switch): the stack defends it. */
  private conflicts(): void {
    const nic = this.kernel.hw.nic;
    for (let c = nic.takeConflict(); c !== undefined; c = nic.takeConflict()) this.stack?.addressClaimed(c.ip, c.mac);
  }

  private receive(): void {
    const nic = this.kernel.hw.nic;
    const stack = this.stack;
    if (stack === undefined) {
      for (let f = nic.receive(); f !== undefined; f = nic.receive()) this.counters.rxFrames++;
      return;
    }
    this.counters.rxFrames += stack.processFrames(this.nextFrame);
  }

  /**
   * Keep one kernel timer no later than the stack's next deadline (ARP retries and expiry). A
   * deadline that moved later keeps the armed timer: it fires early, the stack finds nothing due,
   * and the timer is set again for the new one. An entry refreshed by every frame (a neighbour's
   * expiry) so costs no timer per frame: no cancel, no new timer, no timerfd re-arm.
   */
  private armPoll(): void {
    const at = this.stack?.pollAt();
    if (at === this.pollTimerAt) return;
    if (this.pollTimerAt !== undefined && (at === undefined || at > this.pollTimerAt)) return;
    if (this.pollTimer !== undefined) this.kernel.cancel(this.pollTimer);
    this.pollTimer = undefined;
    this.pollTimerAt = at;
    if (at !== undefined) {
      this.pollTimer = this.kernel.at(at, () => {
        this.pollTimer = undefined;
        this.pollTimerAt = undefined;
        this.stack?.poll();
      });
    }
  }
}
