// The scheduler on a virtual clock: scripted guests spend virtual time in their units, so the
// quantum and preemption bounds are checked exactly, with no wall clock involved.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../machine/clock.js';
import { Nic } from '../machine/nic.js';
import { Processor } from '../machine/processor.js';
import { MemoryLink } from '../link/memory.js';
import { MAC_BROADCAST, writeMac } from '../wire/address.js';
import { Nanokernel, type FaultReport, type NanokernelOptions } from './nanokernel.js';
import { Irq, type DomainServices, type GuestOs } from './guest-interface.js';

const RTOS_MAC = 0x024e5300000a;
const GPOS_MAC = 0x024e5300000b;

/** A guest that does what the test scripts: units cost `unitUs` of virtual time. */
class ScriptedGuest implements GuestOs {
  /** Task steps still to run. */
  work = 0;
  readonly units: string[] = [];
  framesTaken = 0;
  onStep: (() => void) | undefined;
  onInterrupt: ((lines: number) => void) | undefined;

  constructor(readonly hw: DomainServices, readonly clock: ManualClock, readonly log: string[], public unitUs: number) {}

  boot(): void {}

  interrupt(lines: number): void {
    this.log.push(`${this.hw.name}:irq${lines}`);
    if (lines & Irq.NetRx) while (this.hw.nic.receive()) this.framesTaken++;
    this.onInterrupt?.(lines);
    this.clock.spend(this.unitUs);
  }

  runnable(): boolean {
    return this.work > 0;
  }

  step(): void {
    this.work--;
    this.log.push(`${this.hw.name}:step`);
    this.clock.spend(this.unitUs);
    this.onStep?.();
  }
}

function setup(opts: NanokernelOptions = {}, unitUs = 50) {
  const clock = new ManualClock();
  const link = new MemoryLink();
  const nk = new Nanokernel(new Processor(clock), new Nic(link, clock), opts);
  const log: string[] = [];
  let rtos!: ScriptedGuest;
  let gpos!: ScriptedGuest;
  nk.addDomain({ name: 'gpos', role: 'secondary', mac: GPOS_MAC, guest: (hw) => (gpos = new ScriptedGuest(hw, clock, log, unitUs)) });
  nk.addDomain({ name: 'rtos', role: 'primary', mac: RTOS_MAC, guest: (hw) => (rtos = new ScriptedGuest(hw, clock, log, unitUs)) });
  return { clock, link, nk, log, rtos, gpos, domain: (n: string) => nk.domains.find((d) => d.name === n)! };
}

function frameTo(dst: number, src = 0x020000000099): Uint8Array {
  const f = new Uint8Array(60);
  writeMac(f, 0, dst);
  writeMac(f, 6, src);
  f[12] = 0x88; // a local experimental EtherType: the scheduler does not care what is inside
  f[13] = 0xb5;
  return f;
}

describe('Nanokernel scheduler', () => {
  it('orders the primary first whatever order the domains were added in', () => {
    const { nk } = setup();
    expect(nk.domains.map((d) => d.role)).toEqual(['primary', 'secondary']);
  });

  it('runs all the primary\'s work before the secondary gets a unit', () => {
    const { nk, clock, log, rtos, gpos } = setup();
    gpos.work = 3;
    rtos.work = 3;
    nk.start();
    clock.advance(0);
    expect(log).toEqual(['rtos:step', 'rtos:step', 'rtos:step', 'gpos:step', 'gpos:step', 'gpos:step']);
  });

  it('bounds a secondary quantum in microseconds', () => {
    const { nk, clock, gpos, domain } = setup({ quantumUs: 200 }, 50);
    gpos.work = 20;
    nk.start();
    clock.advance(0);
    const d = domain('gpos');
    expect(d.stats.units - 1).toBe(20); // every step, plus boot
    // 50 µs units, 200 µs quanta: four units a quantum.
    expect(d.stats.quanta).toBe(5);
    expect(d.stats.busyUs).toBe(1000);
  });

  it('bounds a secondary quantum in frames and a unit in frames', () => {
    const { nk, clock, link, gpos, domain } = setup({ quantumUs: 1_000_000, quantumFrames: 64, unitFrames: 16 }, 1);
    nk.start();
    link.inject(Array.from({ length: 200 }, () => frameTo(GPOS_MAC)));
    clock.advance(0);
    const d = domain('gpos');
    expect(gpos.framesTaken).toBe(200);
    // 16 frames per unit: 13 units; 64 frames per quantum: 4 quanta (64+64+64+8).
    expect(d.stats.units - 1).toBe(13); // plus boot
    expect(d.stats.quanta).toBe(4);
  });

  it('preempts the secondary at the next unit boundary when the primary gets a frame', () => {
    const { nk, clock, link, log, rtos, gpos, domain } = setup({ quantumUs: 10_000 }, 50);
    gpos.work = 10;
    let n = 0;
    let preemptedIn: number | undefined;
    let primaryIn: number | undefined;
    gpos.onStep = () => {
      if (++n === 3) {
        link.inject([frameTo(RTOS_MAC)]); // arrives while the secondary runs
        preemptedIn = nk.runs;
      }
    };
    rtos.onInterrupt = () => (primaryIn ??= nk.runs);
    nk.start();
    clock.advance(0);
    const third = log.indexOf('gpos:step', log.indexOf('gpos:step', log.indexOf('gpos:step') + 1) + 1);
    expect(log[third + 1]).toBe(`rtos:irq${Irq.NetRx}`);
    // Straight back to the primary, in the same run: no turn of the event loop in between.
    expect(primaryIn).toBe(preemptedIn);
    expect(domain('gpos').stats.preemptions).toBe(1);
    expect(log.filter((x) => x === 'gpos:step')).toHaveLength(10);
  });

  it('delivers the primary\'s timer within one secondary unit of its deadline', () => {
    const { nk, clock, rtos, gpos } = setup({ quantumUs: 10_000 }, 70);
    let firedAt: number | undefined;
    rtos.onInterrupt = (lines) => {
      if (lines & Irq.Timer) firedAt = clock.now();
    };
    gpos.work = 100;
    nk.start();
    rtos.hw.setTimer(1000);
    clock.advance(0); // the secondary runs until a unit would cross the deadline, then waits
    expect(firedAt).toBeUndefined();
    expect(clock.now()).toBeLessThanOrEqual(1000);
    clock.advance(1000 - clock.now() + 5000);
    expect(firedAt).toBeDefined();
    expect(firedAt! - 1000).toBeGreaterThanOrEqual(0);
    expect(firedAt! - 1000).toBeLessThanOrEqual(70);
  });

  it('starts no secondary unit that would run into the primary\'s deadline, then resumes it', () => {
    const { nk, clock, rtos, gpos, domain } = setup({ quantumUs: 10_000, guardUs: 300 }, 70);
    let firedAt: number | undefined;
    rtos.onInterrupt = (lines) => {
      if (lines & Irq.Timer) firedAt = clock.now();
    };
    gpos.work = 100;
    nk.start();
    rtos.hw.setTimer(1000);
    clock.advance(10_000);
    // Units of 70 µs: the last one starts at 910 at the latest and ends by 980, before 1000.
    expect(firedAt).toBe(1000);
    expect(domain('gpos').stats.guarded).toBeGreaterThanOrEqual(1);
    expect(gpos.work).toBe(0); // and the secondary got all its work done after
  });

  it('caps the guard, so a secondary with long units is not starved by a frequent deadline', () => {
    // The primary's timer every 500 µs; the secondary's units take 400 µs. Uncapped, the guard
    // (twice the recent unit, 800 µs) would be longer than the period: no unit would ever start.
    const { nk, clock, rtos, gpos, domain } = setup({ quantumUs: 10_000, guardUs: 100 }, 400);
    rtos.unitUs = 10;
    let next = 500;
    rtos.onInterrupt = (lines) => {
      if (lines & Irq.Timer) rtos.hw.setTimer((next += 500));
    };
    gpos.work = 30;
    nk.start();
    rtos.hw.setTimer(next);
    clock.advance(40_000);
    expect(gpos.work).toBe(0);
    expect(domain('gpos').stats.guarded).toBeGreaterThan(0); // the guard did hold some units back
  });

  it('yields to the event loop between secondary quanta so new I/O is seen', () => {
    const { nk, clock, gpos, nk: { processor } } = setup({ quantumUs: 100 }, 50);
    gpos.work = 10;
    nk.start();
    const before = processor.wakeups;
    clock.advance(0);
    // Five quanta of two units, each run ending with a deferred wake-up for the next.
    expect(processor.wakeups - before).toBeGreaterThanOrEqual(4);
  });

  it('keeps the RX line asserted while frames remain (level-triggered)', () => {
    const { nk, clock, link, gpos } = setup({ unitFrames: 4 }, 1);
    nk.start();
    link.inject(Array.from({ length: 10 }, () => frameTo(GPOS_MAC)));
    clock.advance(0);
    expect(gpos.framesTaken).toBe(10);
  });

  it('drops and counts frames past a full guest RX ring, and unknown unicast', () => {
    const { nk, link, domain } = setup({ rxQueue: 8 });
    nk.start();
    // The whole batch is demultiplexed before any guest runs: 8 fit, 4 do not.
    link.inject([...Array.from({ length: 12 }, () => frameTo(GPOS_MAC)), frameTo(0x020000000777)]);
    expect(domain('gpos').port.counters.rxQueueFull).toBe(4);
    expect(domain('gpos').port.counters.rxFrames).toBe(8);
    expect(nk.counters.rxUnknownUnicast).toBe(1);
  });

  it('gives broadcast to both guests', () => {
    const { nk, clock, link, rtos, gpos } = setup();
    nk.start();
    link.inject([frameTo(MAC_BROADCAST)]);
    clock.advance(0);
    expect([rtos.framesTaken, gpos.framesTaken]).toEqual([1, 1]);
  });

  it('accounts processor time per domain and in the nanokernel', () => {
    const { nk, clock, rtos, gpos, domain } = setup({}, 30);
    rtos.work = 2;
    gpos.work = 3;
    nk.start();
    clock.advance(0);
    expect(domain('rtos').stats.busyUs).toBe(60);
    expect(domain('gpos').stats.busyUs).toBe(90);
    const snap = nk.snapshot();
    expect(snap.domains.map((d) => d.cpu.units)).toEqual([3, 4]); // boot is a unit too
    expect(snap.processor.kernelUs).toBe(0); // the switch did nothing that took time
  });

  it('accounts the nanokernel\'s own time apart from the guests\'', () => {
    const { nk, clock, link, gpos, domain } = setup({}, 30);
    // The switch's work (here: its observer) costs 7 µs a frame, in the nanokernel's time.
    nk.observer = { rx: () => clock.spend(7) };
    gpos.work = 1;
    nk.start();
    link.inject([frameTo(GPOS_MAC), frameTo(GPOS_MAC), frameTo(MAC_BROADCAST)]);
    clock.advance(0);
    expect(nk.kernelUs).toBe(21);
    expect(domain('gpos').stats.busyUs).toBe(30 * (domain('gpos').stats.units - 1));
    expect(nk.snapshot().processor.kernelUs).toBe(21);
  });
});

describe('Nanokernel switch', () => {
  function observed() {
    const m = setup();
    const seen: string[] = [];
    m.nk.observer = {
      rx: (_f, to, cast) => seen.push(`rx ${cast} ${to.join(',')}`),
      tx: (_f, from) => seen.push(`tx ${from}`),
      local: (_f, from, to) => seen.push(`local ${from}>${to}`),
      drop: (reason, _f, port) => seen.push(`drop ${reason} ${port ?? '-'}`),
    };
    return { ...m, seen };
  }

  it('shows the observer every delivery from the wire, by guest name and cast', () => {
    const { nk, clock, link, seen } = observed();
    nk.start();
    link.inject([frameTo(GPOS_MAC), frameTo(MAC_BROADCAST), frameTo(0x020000000777)]);
    clock.advance(0);
    expect(seen).toEqual(['rx unicast gpos', 'rx broadcast rtos,gpos', 'drop rxUnknownUnicast -']);
    expect(nk.counters.rxUnicast + nk.counters.rxBroadcast + nk.counters.rxUnknownUnicast).toBe(nk.counters.rxFrames);
  });

  it('delivers a guest\'s unicast to another guest locally and its broadcast to both the wire and the others', () => {
    const { nk, clock, link, seen, gpos, rtos } = observed();
    nk.start();
    gpos.hw.nic.transmit(frameTo(RTOS_MAC, GPOS_MAC));
    gpos.hw.nic.transmit(frameTo(MAC_BROADCAST, GPOS_MAC));
    clock.advance(0);
    expect(seen).toEqual(['local gpos>rtos', 'local gpos>rtos', 'tx gpos']);
    expect(link.drain()).toHaveLength(1); // only the broadcast left on the wire
    expect(rtos.framesTaken).toBe(2);
    expect(gpos.framesTaken).toBe(0); // a guest does not hear its own broadcast
    expect([nk.counters.txLocal, nk.counters.txFrames]).toEqual([1, 1]);
  });

  it('drops a guest frame with another\'s source MAC, counted under its reason and port', () => {
    const { nk, clock, link, seen, gpos } = observed();
    nk.start();
    gpos.hw.nic.transmit(frameTo(MAC_BROADCAST, RTOS_MAC));
    clock.advance(0);
    expect(seen).toEqual(['drop txSpoofedMac gpos']);
    expect(link.drain()).toHaveLength(0);
  });

  it('drops past a full TX queue through the same path', () => {
    const { nk, seen, gpos, domain } = observed();
    void nk;
    for (let i = 0; i < 257; i++) gpos.hw.nic.transmit(frameTo(MAC_BROADCAST, GPOS_MAC));
    expect(seen).toEqual(['drop txQueueFull gpos']);
    expect(domain('gpos').port.counters.txQueueFull).toBe(1);
  });

  it('lets a guest change its address set by hypercall, never to another guest\'s address', () => {
    const clock = new ManualClock();
    const nk = new Nanokernel(new Processor(clock), new Nic(new MemoryLink(), clock));
    const log: string[] = [];
    let a!: ScriptedGuest;
    let b!: ScriptedGuest;
    nk.addDomain({ name: 'rtos', role: 'primary', mac: RTOS_MAC, ipv4: 0x0a4d000a, guest: (hw) => (a = new ScriptedGuest(hw, clock, log, 1)) });
    nk.addDomain({ name: 'gpos', role: 'secondary', mac: GPOS_MAC, ipv4: 0x0a4d000b, guest: (hw) => (b = new ScriptedGuest(hw, clock, log, 1)) });
    expect(b.hw.nic.addresses()).toEqual([0x0a4d000b]);
    expect(b.hw.nic.setAddresses([0x0a4d000b, 0x0a4d000a])).toBe(false);
    expect(b.hw.nic.addresses()).toEqual([0x0a4d000b]);
    expect(b.hw.nic.setAddresses([0x0a4d0063])).toBe(true);
    expect(a.hw.nic.setAddresses([0x0a4d000a, 0x0a4d000b])).toBe(true); // freed by gpos
    expect(nk.counters.addressConflicts).toBe(1);
  });
});

describe('Nanokernel fault containment', () => {
  function faulty(policy: 'reboot' | 'halt' = 'reboot') {
    const clock = new ManualClock();
    const link = new MemoryLink();
    const reports: FaultReport[] = [];
    const nk = new Nanokernel(new Processor(clock), new Nic(link, clock), { onFault: (r) => reports.push(r) });
    const log: string[] = [];
    const built: ScriptedGuest[] = [];
    let rtos!: ScriptedGuest;
    nk.addDomain({ name: 'rtos', role: 'primary', mac: RTOS_MAC, ipv4: 0x0a4d000a, guest: (hw) => (rtos = new ScriptedGuest(hw, clock, log, 10)) });
    nk.addDomain({
      name: 'gpos', role: 'secondary', mac: GPOS_MAC, ipv4: 0x0a4d000b, onFault: policy,
      guest: (hw) => {
        const g = new ScriptedGuest(hw, clock, log, 10);
        built.push(g);
        return g;
      },
    });
    const gpos = (): ScriptedGuest => built[built.length - 1]!;
    return { clock, link, nk, log, reports, built, gpos, rtos: () => rtos, domain: (n: string) => nk.domains.find((d) => d.name === n)! };
  }

  it('catches a throwing unit, reports it with the guest and the stack, and reboots that guest alone', () => {
    const { nk, clock, reports, built, gpos, rtos, domain, log } = faulty();
    nk.start();
    gpos().onStep = () => {
      throw new Error('guest bug');
    };
    gpos().work = 1;
    rtos().work = 2;
    nk.scheduler.wake();
    expect(() => clock.advance(0)).not.toThrow();
    expect(built).toHaveLength(2); // built again from its spec
    expect(domain('gpos').stats).toMatchObject({ faults: 1, reboots: 1 });
    expect(domain('rtos').stats).toMatchObject({ faults: 0, reboots: 0 });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ guest: 'gpos', action: 'reboot', during: 'unit', message: 'guest bug', faults: 1, suppressed: 0 });
    expect(reports[0]!.stack).toMatch(/guest bug[\s\S]*nanokernel\.test/);
    expect(log.filter((x) => x === 'rtos:step')).toHaveLength(2);
    expect(nk.snapshot().domains.map((d) => d.state)).toEqual(['running', 'running']);
  });

  it('starts the rebooted guest clean: queues flushed (counted), timer cancelled, no pending lines, old services inert', () => {
    const { nk, clock, link, built, gpos, domain } = faulty();
    nk.start();
    const old = gpos();
    old.hw.setTimer(500);
    old.onInterrupt = () => {
      throw new Error('boom');
    };
    link.inject([frameTo(GPOS_MAC), frameTo(GPOS_MAC), frameTo(GPOS_MAC)]);
    clock.advance(0);
    // The first unit took the frames it could and threw: nothing is left for the new guest.
    const d = domain('gpos');
    expect(built).toHaveLength(2);
    expect(d.port.rx.length).toBe(0);
    expect(d.pending).toBe(0);
    expect(d.timerAt).toBeUndefined();
    expect(old.hw.nic.transmit(frameTo(MAC_BROADCAST, GPOS_MAC))).toBe(false);
    old.hw.setTimer(10);
    expect(d.timerAt).toBeUndefined();
    clock.advance(1000);
    expect(gpos().units).toEqual([]);
    expect(d.stats.faults).toBe(1);
  });

  it('counts the frames a reboot flushes under a named reason', () => {
    const { nk, clock, gpos, domain } = faulty();
    nk.start();
    const d = domain('gpos');
    // Frames queued both ways when the reboot comes.
    d.port.deliver(frameTo(GPOS_MAC));
    gpos().hw.nic.transmit(frameTo(MAC_BROADCAST, GPOS_MAC));
    expect(nk.reboot('gpos')).toBe(true);
    expect([d.port.counters.rxFlushed, d.port.counters.txFlushed, nk.counters.rxFlushed, nk.counters.txFlushed]).toEqual([1, 1, 1, 1]);
    expect(d.stats.reboots).toBe(1);
    expect(d.stats.faults).toBe(0); // asked for, not a fault
    expect(nk.reboot('nosuch')).toBe(false);
    clock.advance(0);
  });

  it('reports at most one fault per guest per second, with the count it suppressed', () => {
    const { nk, clock, reports, gpos, domain } = faulty();
    nk.start();
    const crash = (): void => {
      gpos().onStep = () => {
        throw new Error('again');
      };
      gpos().work = 1;
      nk.scheduler.wake();
      clock.advance(0);
    };
    crash();
    crash();
    crash();
    expect(domain('gpos').stats.faults).toBe(3);
    expect(reports).toHaveLength(1);
    clock.advance(1_000_000);
    crash();
    expect(reports).toHaveLength(2);
    expect(reports[1]).toMatchObject({ faults: 4, suppressed: 2 });
  });

  it('halts a guest whose policy is halt: it never runs again and frames for it are dropped, counted', () => {
    const { nk, clock, link, reports, built, gpos, domain, log } = faulty('halt');
    nk.start();
    gpos().onStep = () => {
      throw new Error('halt me');
    };
    gpos().work = 2;
    nk.scheduler.wake();
    clock.advance(0);
    expect(built).toHaveLength(1);
    expect(reports[0]).toMatchObject({ action: 'halt' });
    expect(log.filter((x) => x === 'gpos:step')).toHaveLength(1);
    link.inject([frameTo(GPOS_MAC), frameTo(MAC_BROADCAST)]);
    clock.advance(1000);
    expect(domain('gpos').port.counters.rxHalted).toBe(2);
    expect(nk.counters.rxHalted).toBe(2);
    expect(log.filter((x) => x.startsWith('gpos:'))).toEqual(['gpos:step']);
    expect(nk.snapshot().domains[1]!.state).toBe('halted');
    // An operator's reboot brings it back.
    expect(nk.reboot('gpos')).toBe(true);
    expect(built).toHaveLength(2);
    link.inject([frameTo(GPOS_MAC)]);
    clock.advance(0);
    expect(gpos().framesTaken).toBe(1);
  });

  it('halts a guest that faults while booting, instead of rebooting it in a loop', () => {
    const clock = new ManualClock();
    const reports: FaultReport[] = [];
    const nk = new Nanokernel(new Processor(clock), new Nic(new MemoryLink(), clock), { onFault: (r) => reports.push(r) });
    let builds = 0;
    nk.addDomain({
      name: 'gpos', role: 'secondary', mac: GPOS_MAC,
      guest: (hw) => {
        builds++;
        const g = new ScriptedGuest(hw, clock, [], 1);
        g.boot = () => {
          throw new Error('cannot boot');
        };
        return g;
      },
    });
    expect(() => nk.start()).not.toThrow();
    expect(reports).toMatchObject([{ guest: 'gpos', during: 'boot', action: 'halt' }]);
    expect(nk.domains[0]!.halted).toBe(true);
    expect(builds).toBe(1);
  });

  it('contains a guest whose runnable() throws', () => {
    const { nk, clock, gpos, domain } = faulty();
    nk.start();
    gpos().runnable = () => {
      throw new Error('bad scheduler');
    };
    nk.scheduler.wake();
    expect(() => clock.advance(0)).not.toThrow();
    expect(domain('gpos').stats.faults).toBe(1);
    expect(domain('gpos').stats.reboots).toBe(1);
  });
});

describe('Nanokernel scheduler: the corners', () => {
  it('takes domains only before start, and says whether it has started', () => {
    const { nk } = setup();
    expect(nk.scheduler.isStarted).toBe(false);
    nk.start();
    expect(nk.scheduler.isStarted).toBe(true);
    expect(() => nk.addDomain({ name: 'late', role: 'secondary', mac: 0x024e5300000c, guest: () => new ScriptedGuest({} as DomainServices, new ManualClock(), [], 1) })).toThrow('domains are added before start()');
  });

  it('is running only inside a run', () => {
    const { nk, clock, gpos } = setup();
    const seen: boolean[] = [];
    gpos.work = 1;
    gpos.onStep = () => seen.push(nk.scheduler.isRunning);
    nk.start();
    expect(nk.scheduler.isRunning).toBe(false);
    clock.advance(0);
    expect(seen).toEqual([true]);
    expect(nk.scheduler.isRunning).toBe(false);
  });

  it('counts its runs', () => {
    const { nk, clock, gpos } = setup();
    nk.start();
    clock.advance(0);
    const before = nk.runs;
    gpos.work = 1;
    nk.scheduler.wake();
    clock.advance(0);
    expect(nk.runs).toBeGreaterThan(before);
    expect(nk.snapshot().processor.runs).toBe(nk.runs);
  });

  /** Three secondaries and no primary, 50 µs units. */
  function threeSecondaries(quantumUs: number) {
    const clock = new ManualClock();
    const nk = new Nanokernel(new Processor(clock), new Nic(new MemoryLink(), clock), { quantumUs });
    const log: string[] = [];
    const guests = ['s1', 's2', 's3'].map((name, i) => {
      let g!: ScriptedGuest;
      nk.addDomain({ name, role: 'secondary', mac: 0x024e53000010 + i, guest: (hw) => (g = new ScriptedGuest(hw, clock, log, 50)) });
      return g;
    });
    return { clock, nk, log, guests };
  }

  it('shares the processor among several secondaries in turn, a quantum each', () => {
    const { clock, nk, log, guests } = threeSecondaries(100);
    guests[0]!.work = 4;
    guests[1]!.work = 4;
    guests[2]!.work = 2;
    nk.start();
    clock.advance(0);
    // Two 50 µs units a quantum; s3 runs out first, then s1 and s2 alternate.
    expect(log).toEqual(['s1:step', 's1:step', 's2:step', 's2:step', 's3:step', 's3:step', 's1:step', 's1:step', 's2:step', 's2:step']);
    expect(nk.domains.map((d) => d.stats.quanta)).toEqual([2, 2, 1]);
  });

  it('skips a secondary without work and comes back to the first one after the last', () => {
    const { clock, nk, log, guests } = threeSecondaries(50);
    guests[0]!.work = 2;
    guests[2]!.work = 2;
    nk.start();
    clock.advance(0);
    expect(log).toEqual(['s1:step', 's3:step', 's1:step', 's3:step']);
  });

  it('keeps the longest unit and a running average (1/8 weight) per domain', () => {
    const { nk, clock, gpos, domain } = setup({}, 80);
    gpos.work = 2;
    gpos.onStep = () => void (gpos.unitUs = 16); // after the first step's 80 µs
    nk.start(); // boot: 0 µs
    clock.advance(0);
    const s = domain('gpos').stats;
    // Units of 0 (boot), 80, 16 µs.
    expect(s.maxUnitUs).toBe(80);
    expect(s.avgUnitUs).toBeCloseTo(80 / 8 + (16 - 80 / 8) / 8, 9);
  });

  it('counts interrupt units apart from task steps', () => {
    const { nk, clock, link, gpos, domain } = setup({}, 1);
    nk.start();
    gpos.work = 2;
    link.inject([frameTo(GPOS_MAC)]);
    clock.advance(0);
    expect(domain('gpos').stats.interrupts).toBe(1);
    expect(domain('gpos').stats.units).toBe(4); // boot, one interrupt, two steps
  });

  it('raises nothing on a halted domain', () => {
    const { nk, domain } = setup();
    nk.start();
    const d = domain('gpos');
    nk.scheduler.halt(d);
    d.raise(Irq.NetRx);
    expect(d.pending).toBe(0);
    expect(d.hasWork()).toBe(false);
  });

  it('raises a virtual timer exactly at its deadline, not before', () => {
    const { nk, clock, gpos } = setup();
    const fired: number[] = [];
    gpos.onInterrupt = (l) => {
      if (l & Irq.Timer) fired.push(clock.now());
    };
    nk.start();
    gpos.hw.setTimer(500);
    clock.advance(499);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([500]);
    gpos.hw.setTimer(undefined);
    clock.advance(10_000);
    expect(fired).toEqual([500]);
  });

  it('stops: no unit and no virtual timer runs after stop()', () => {
    const { nk, clock, log, rtos, gpos } = setup();
    nk.start();
    clock.advance(0);
    rtos.hw.setTimer(100);
    gpos.work = 5;
    nk.scheduler.stop();
    expect(nk.scheduler.isStarted).toBe(false);
    nk.scheduler.wake();
    clock.advance(1000);
    expect(log).toEqual([]);
    expect(nk.domains[0]!.timerHandle).toBeUndefined();
  });

  it('runs work that arrives from outside a run (a kick) at once, and defers it inside one', () => {
    const { nk, clock, gpos } = setup();
    nk.start();
    clock.advance(0);
    gpos.work = 1;
    nk.scheduler.kick();
    expect(gpos.work).toBe(1); // from outside: an interrupt-context run: the secondary waits for a wake-up
    clock.advance(0);
    expect(gpos.work).toBe(0);
  });

  it('after an operator\'s reboot, boots the new guest and runs the work it starts with', () => {
    const { nk, clock, built, gpos } = (() => {
      const clock = new ManualClock();
      const nk = new Nanokernel(new Processor(clock), new Nic(new MemoryLink(), clock));
      const built: ScriptedGuest[] = [];
      nk.addDomain({
        name: 'gpos', role: 'secondary', mac: GPOS_MAC,
        guest: (hw) => {
          const g = new ScriptedGuest(hw, clock, [], 1);
          g.boot = () => void (g.work = 3);
          built.push(g);
          return g;
        },
      });
      return { clock, nk, built, gpos: () => built[built.length - 1]! };
    })();
    nk.start();
    clock.advance(0);
    expect(gpos().work).toBe(0);
    expect(nk.reboot('gpos')).toBe(true);
    expect(built).toHaveLength(2);
    expect(gpos().work).toBe(3); // booted
    clock.advance(0);
    expect(gpos().work).toBe(0); // and run without anyone else waking the processor
  });
});
