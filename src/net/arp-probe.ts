// RFC 5227 address conflict detection: before a host uses an IPv4 address (configured at boot,
// or offered by DHCP) it asks the LAN with ARP probes (sender IP 0.0.0.0, so no one's cache
// learns the address yet) whether anyone has it. An AddressProbe is one such run, driven by the
// interface's clock through the ARP state's pollAt()/poll() and fed every received ARP packet by
// processArp; it ends in 'available' or 'conflict' and tells its owner once. It never takes the
// address itself: the owner (the guest's boot, the DHCP client) decides, then announces.

import { ArpOperation, ArpRepr, MAC_BROADCAST } from '../wire/index.js';
import type { Ipv4, Mac } from '../wire/index.js';

/** RFC 5227 1.1's timing constants, in microseconds (and a count). */
export interface ProbeTiming {
  /** PROBE_WAIT: the first probe goes out after a random delay in [0, probeWaitUs). */
  probeWaitUs: number;
  /** PROBE_NUM: probes sent. */
  probeNum: number;
  /** PROBE_MIN, PROBE_MAX: a random delay in [probeMinUs, probeMaxUs] between probes. */
  probeMinUs: number;
  probeMaxUs: number;
  /** ANNOUNCE_WAIT: after the last probe, the address is available if nothing was heard for this long. */
  announceWaitUs: number;
}

const SECOND = 1_000_000;

/** RFC 5227 1.1: PROBE_WAIT 1 s, PROBE_NUM 3, PROBE_MIN 1 s, PROBE_MAX 2 s, ANNOUNCE_WAIT 2 s (so 4 to 7 s in all). */
export const RFC5227_TIMING: Readonly<ProbeTiming> = Object.freeze({
  probeWaitUs: SECOND,
  probeNum: 3,
  probeMinUs: SECOND,
  probeMaxUs: 2 * SECOND,
  announceWaitUs: 2 * SECOND,
});

/** Shortest and longest time from start() to 'available' under `t`. */
export function probeDurationUs(t: ProbeTiming): { min: number; max: number } {
  return {
    min: (t.probeNum - 1) * t.probeMinUs + t.announceWaitUs,
    max: t.probeWaitUs + (t.probeNum - 1) * t.probeMaxUs + t.announceWaitUs,
  };
}

/** How a probe ended. `conflict`: `mac` answered for the address (`by: 'claim'`) or probed for it too (`by: 'probe'`). */
export type ProbeOutcome =
  | { readonly kind: 'available'; readonly ip: Ipv4; readonly at: number }
  | { readonly kind: 'conflict'; readonly ip: Ipv4; readonly mac: Mac; readonly by: 'claim' | 'probe'; readonly at: number };

export type ProbeState = 'waiting' | 'probing' | 'listening' | 'available' | 'conflict' | 'cancelled';

export interface ProbeOptions {
  /** Default RFC5227_TIMING; tests and labs may shorten it. */
  timing?: Partial<ProbeTiming>;
  /**
   * Uniform in [0, 1). Default: a generator seeded from our MAC and the address, as RFC 5227
   * 2.1.1 asks (so hosts that start together do not probe in step), and deterministic.
   */
  random?: () => number;
  /** Called once, when the probe ends (not when it is cancelled). */
  onDone: (outcome: ProbeOutcome) => void;
}

/** What a probe needs from the interface: who we are, the clock, and a way to send one ARP packet. */
export interface ProbeHost {
  readonly mac: Mac;
  now(): number;
  /** Send one ARP packet in a broadcast frame; false if the device refused it. */
  sendArp(repr: ArpRepr, dst: Mac): boolean;
  /** Count a probe sent. */
  probeSent(): void;
}

const NO_MAC: Mac = 0;

function checkTiming(t: ProbeTiming): ProbeTiming {
  const bad = (what: string): never => {
    throw new RangeError(`AddressProbe: ${what}`);
  };
  if (!Number.isInteger(t.probeNum) || t.probeNum < 1) bad('probeNum must be an integer >= 1');
  for (const k of ['probeWaitUs', 'probeMinUs', 'probeMaxUs', 'announceWaitUs'] as const) {
    if (!Number.isFinite(t[k]) || t[k] < 0) bad(`${k} must be >= 0`);
  }
  if (t.probeMaxUs < t.probeMinUs) bad('probeMaxUs must be >= probeMinUs');
  return t;
}

/** xorshift32 seeded from the MAC and the address: a different sequence per host, the same one on every run. */
export function seededRandom(mac: Mac, ip: Ipv4): () => number {
  let s = (Math.floor(mac / 0x1_0000_0000) ^ (mac >>> 0) ^ Math.imul(ip >>> 0, 0x9e37_79b9)) >>> 0 || 0x1234_5678;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

/** One run of RFC 5227 2.1 probing for `ip`. Create with startProbe(); the ARP state drives it. */
export class AddressProbe {
  readonly timing: Readonly<ProbeTiming>;
  private st: ProbeState = 'waiting';
  private sent = 0;
  private nextAt: number;
  private readonly random: () => number;

  constructor(
    readonly ip: Ipv4,
    private readonly host: ProbeHost,
    private readonly opts: ProbeOptions,
  ) {
    if (ip === 0 || ip === 0xffff_ffff) throw new RangeError('AddressProbe: the address must be a unicast IPv4 address');
    this.timing = checkTiming({ ...RFC5227_TIMING, ...opts.timing });
    this.random = opts.random ?? seededRandom(host.mac, ip);
    this.nextAt = host.now() + Math.floor(this.random() * this.timing.probeWaitUs);
  }

  get state(): ProbeState {
    return this.st;
  }

  /** Probes sent so far. */
  get probesSent(): number {
    return this.sent;
  }

  /** Still running (waiting, probing or listening after the last probe). */
  get active(): boolean {
    return this.st === 'waiting' || this.st === 'probing' || this.st === 'listening';
  }

  /** Stop without an outcome (the owner lost interest: a new DHCP offer, a reboot). */
  cancel(): void {
    if (this.active) this.st = 'cancelled';
  }

  /** When poll() next has work, or undefined once ended. */
  pollAt(): number | undefined {
    return this.active ? this.nextAt : undefined;
  }

  /** Send the next probe, or end as 'available' after ANNOUNCE_WAIT with nothing heard. */
  poll(now: number): void {
    while (this.active && now >= this.nextAt) {
      if (this.sent >= this.timing.probeNum) return this.finish({ kind: 'available', ip: this.ip, at: now });
      this.sent++;
      this.st = 'probing';
      // RFC 5227 2.1.1: a request, sender MAC ours, sender IP zero, target MAC zero, target IP the address.
      if (this.host.sendArp(new ArpRepr(ArpOperation.Request, this.host.mac, 0, NO_MAC, this.ip), MAC_BROADCAST)) this.host.probeSent();
      const t = this.timing;
      if (this.sent < t.probeNum) {
        this.nextAt += t.probeMinUs + Math.floor(this.random() * (t.probeMaxUs - t.probeMinUs + 1));
      } else {
        this.st = 'listening';
        this.nextAt += t.announceWaitUs;
      }
    }
  }

  /**
   * Every received ARP packet while the probe runs (the sender MAC already checked against the
   * Ethernet source). A conflict: any ARP whose sender IP is the address, from a MAC not ours
   * (someone has it), or a probe for it from a MAC not ours (someone else wants it now). True if
   * this packet ended the probe.
   */
  observe(op: number, senderMac: Mac, senderIp: Ipv4, targetIp: Ipv4): boolean {
    if (!this.active || senderMac === this.host.mac) return false;
    let by: 'claim' | 'probe' | undefined;
    if (senderIp === this.ip) by = 'claim';
    else if (senderIp === 0 && targetIp === this.ip && op === ArpOperation.Request) by = 'probe';
    if (by === undefined) return false;
    this.finish({ kind: 'conflict', ip: this.ip, mac: senderMac, by, at: this.host.now() });
    return true;
  }

  private finish(o: ProbeOutcome): void {
    this.st = o.kind;
    this.opts.onDone(o);
  }
}
