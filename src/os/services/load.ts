// A traffic generator: a task that sends UDP datagrams to one destination as fast as the
// virtual TX queue takes them, then sleeps until the nanokernel says there is room again
// (Irq.TxSpace), so it saturates the link without spinning the processor. For benchmarks and
// for seeing the arbiter at work; off unless configured.
import type { Ipv4 } from '../../wire/address.js';
import { Irq } from '../../nanokernel/guest-interface.js';
import type { NetStack, UdpSocket } from '../../net/index.js';
import type { GuestKernel, TaskHandle } from '../kernel.js';

const RETRY_US = 10_000;

export interface LoadOptions {
  dst: Ipv4;
  port: number;
  /** UDP payload bytes per datagram (default 1200). */
  size?: number;
  /** Task priority (the rtos runs it below its control task). */
  priority?: number;
  /** Datagrams per task step, at most (default 8: a step is a bounded unit). */
  batch?: number;
}

export class LoadGenerator {
  sent = 0;
  bytes = 0;
  /** Times the TX queue was full and the task went to sleep. */
  stalls = 0;
  private readonly socket: UdpSocket;
  private readonly payload: Uint8Array;
  private readonly handle: TaskHandle;

  constructor(private readonly kernel: GuestKernel, net: NetStack, private readonly opts: LoadOptions) {
    this.payload = new Uint8Array(opts.size ?? 1200);
    this.socket = net.udpBind(0, () => {});
    this.handle = kernel.spawn({ name: 'load', priority: opts.priority ?? 10, step: () => this.step() });
    kernel.onInterrupt(Irq.TxSpace, () => this.handle.release());
    kernel.onBoot(() => this.handle.release());
  }

  private step(): boolean {
    const nic = this.kernel.hw.nic;
    const batch = this.opts.batch ?? 8;
    for (let i = 0; i < batch; i++) {
      // Keep a few slots free so the guest's own replies (echo, ARP) are never crowded out.
      if (nic.txSpace() <= 4) {
        this.stalls++;
        nic.wantTxSpace();
        return false;
      }
      if (!this.socket.send(this.opts.dst, this.opts.port, this.payload)) {
        // Not the queue: the destination is unresolved or unroutable. Try again a little later.
        this.stalls++;
        this.kernel.at(this.kernel.now() + RETRY_US, () => this.handle.release());
        return false;
      }
      this.sent++;
      this.bytes += this.payload.length;
    }
    return true;
  }
}
