// The guest-facing services (the "hypercalls"): what a domain's guest may ask of the nanokernel.
// Its virtual NIC (receive within the unit's frame budget, transmit into its bounded queue,
// multicast groups, its address set), the clock and its one virtual timer. Each call acts on the
// caller's own port and domain only, and only while the caller is the domain's current guest:
// services handed to a guest before a reboot do nothing afterwards.
import type { Clock } from '../machine/clock.js';
import type { DomainServices, VirtualNic } from './guest-interface.js';
import type { Domain, Scheduler } from './scheduler.js';
import type { Switch } from './switch.js';

export function domainServices(d: Domain, sw: Switch, sched: Scheduler, clock: Clock): DomainServices {
  const port = d.port;
  const gen = d.generation;
  const stale = (): boolean => d.generation !== gen;
  const nic: VirtualNic = {
    mac: port.mac,
    receive: () => {
      if (d.unitFramesLeft <= 0 || stale()) return undefined;
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
      if (stale() || d.halted) return false;
      if (!port.enqueueTx(frame)) {
        sw.drop('txQueueFull', frame, port);
        return false;
      }
      // The doorbell: a transmit outside a dispatched unit (never the case for a guest
      // running under the nanokernel, but cheap to honour) still gets the arbiter to run.
      if (!sched.isRunning) sched.wake();
      return true;
    },
    subscribe: (group) => {
      if (!stale()) sw.subscribe(port, group);
    },
    unsubscribe: (group) => {
      if (!stale()) sw.unsubscribe(port, group);
    },
    addresses: () => [...port.addresses],
    setAddresses: (addrs) => !stale() && sw.setAddresses(port, addrs),
    takeConflict: () => (stale() ? undefined : port.takeConflict()),
  };
  return {
    name: d.name,
    role: d.role,
    now: () => clock.now(),
    setTimer: (atUs) => {
      if (!stale() && !d.halted) sched.setTimer(d, atUs);
    },
    nic,
  };
}
