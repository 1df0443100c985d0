// The guest-facing services (the "hypercalls"): what a domain's guest may ask of the nanokernel.
// Its virtual NIC (receive within the unit's frame budget, transmit into its bounded queue,
// multicast groups, its address set), the clock and its one virtual timer. Each call acts on the
// caller's own port and domain only.
import type { Clock } from '../machine/clock.js';
import type { DomainServices, VirtualNic } from './guest-interface.js';
import type { Domain, Scheduler } from './scheduler.js';
import type { Switch } from './switch.js';

export function domainServices(d: Domain, sw: Switch, sched: Scheduler, clock: Clock): DomainServices {
  const port = d.port;
  const nic: VirtualNic = {
    mac: port.mac,
    receive: () => {
      if (d.unitFramesLeft <= 0) return undefined;
      const f = port.rx.shift();
      if (f !== undefined) {
        d.unitFramesLeft--;
        port.counters.rxConsumed++;
        d.stats.framesHandled++;
      }
      return f;
    },
    txSpace: () => port.tx.capacity - port.tx.length,
    wantTxSpace: () => {
      port.wantTxSpace = true;
    },
    transmit: (frame) => {
      if (!port.enqueueTx(frame)) {
        sw.drop('txQueueFull', frame, port);
        return false;
      }
      // The doorbell: a transmit outside a dispatched unit (never the case for a guest
      // running under the nanokernel, but cheap to honour) still gets the arbiter to run.
      if (!sched.isRunning) sched.wake();
      return true;
    },
    subscribe: (group) => sw.subscribe(port, group),
    unsubscribe: (group) => sw.unsubscribe(port, group),
    addresses: () => [...port.addresses],
    setAddresses: (addrs) => sw.setAddresses(port, addrs),
  };
  return {
    name: d.name,
    role: d.role,
    now: () => clock.now(),
    setTimer: (atUs) => sched.setTimer(d, atUs),
    nic,
  };
}
