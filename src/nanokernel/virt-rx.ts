// virt-rx (after seL4 sDDF's virt_rx): takes the frames the NIC received and delivers each to the
// ports its destination MAC names: unicast to its owner, broadcast to every port, multicast to
// the group's subscribers. Unknown unicast and unjoined groups are dropped and counted. Delivery
// raises the port's own interrupt line; a full or halted port drops the frame, counted.
import { ETHERNET_HEADER_LEN } from '../wire/index.js';
import type { Ring } from '../machine/ring.js';
import { Port } from './port.js';
import type { Switch } from './switch.js';

export class VirtRx {
  constructor(private readonly sw: Switch, private readonly ring: Ring<Uint8Array>) {}

  /** Frames wait in the NIC's RX ring. */
  pending(): boolean {
    return !this.ring.isEmpty();
  }

  /** Take every frame from the NIC's RX ring and deliver it by destination MAC. */
  drain(): void {
    const ring = this.ring;
    for (let frame = ring.shift(); frame !== undefined; frame = ring.shift()) this.receive(frame);
  }

  /** One frame from the wire. */
  receive(frame: Uint8Array): void {
    const sw = this.sw;
    const c = sw.counters;
    c.rxFrames++;
    if (frame.length < ETHERNET_HEADER_LEN) return sw.drop('rxRunt', frame);
    const to = sw.route(frame);
    if (typeof to === 'string') return sw.drop(to, frame);
    if (to instanceof Port) {
      c.rxUnicast++;
      if (deliver(sw, to, frame)) sw.observer.rx?.(frame, [to.name], 'unicast');
      return;
    }
    const cast = frame[0] === 0xff ? 'broadcast' : 'multicast';
    if (cast === 'broadcast') c.rxBroadcast++;
    else c.rxMulticast++;
    const names: string[] = [];
    for (const p of to) if (deliver(sw, p, frame)) names.push(p.name);
    if (names.length > 0) sw.observer.rx?.(frame, names, cast);
  }
}

/** Put a frame into a port's RX ring (raising its line), or drop it: halted port, full ring. */
export function deliver(sw: Switch, port: Port, frame: Uint8Array): boolean {
  if (port.halted) {
    sw.drop('rxHalted', frame, port);
    return false;
  }
  if (!port.deliver(frame)) {
    sw.drop('rxQueueFull', frame, port);
    return false;
  }
  return true;
}
