// RFC 5227 probing on a stack over a recording device and a manual clock: the probe frames field
// by field, their timing (PROBE_WAIT, PROBE_MIN..PROBE_MAX, ANNOUNCE_WAIT) as the interface's
// pollAt() schedules it, and the conflicts that end a probe (a claim by reply or announcement, a
// simultaneous probe) against the ARP traffic that must not.
import { describe, expect, it } from 'vitest';
import { ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, MAC_BROADCAST, isWireError } from '../wire/index.js';
import type { Ipv4 } from '../wire/index.js';
import { AddressProbe, RFC5227_TIMING, probeDurationUs, seededRandom } from './arp-probe.js';
import type { ProbeOptions, ProbeOutcome } from './arp-probe.js';
import { arpFrame, ip, newStack, OUR_MAC, PEER_IP, PEER_MAC } from './testing.js';

const S = 1_000_000;
const TARGET = ip('10.77.0.50');
const OTHER = ip('10.77.0.60');

/** A stack with a probe for TARGET; `sent` records (time, frame) as the driver's timer would see them. */
function probing(opts: Partial<ProbeOptions> = {}) {
  const s = newStack();
  const outcomes: ProbeOutcome[] = [];
  const start = s.clock.t;
  const probe = s.stack.probeAddress(TARGET, { onDone: (o) => outcomes.push(o), ...opts });
  const sent: Array<{ at: number; frame: Uint8Array }> = [];
  /** Run the stack's timers up to `until` (absolute µs), as the OS's one timer does: at each pollAt(). */
  const runTo = (until: number): void => {
    for (let at = s.stack.pollAt(); at !== undefined && at <= until; at = s.stack.pollAt()) {
      s.clock.t = Math.max(s.clock.t, at);
      s.stack.poll();
      for (const frame of s.dev.take()) sent.push({ at: s.clock.t, frame });
    }
    s.clock.t = Math.max(s.clock.t, until);
  };
  return { ...s, probe, outcomes, sent, runTo, start };
}

function arpOf(frame: Uint8Array) {
  const eth = EthernetFrame.checked(frame);
  if (isWireError(eth)) throw new Error(eth.message);
  const arp = ArpPacket.checked(eth.payload());
  if (isWireError(arp)) throw new Error(arp.message);
  return { eth, arp };
}

const reply = (mac: number, sender: Ipv4, target: Ipv4) => arpFrame(MAC_BROADCAST, mac, new ArpRepr(ArpOperation.Reply, mac, sender, 0, target));
const request = (mac: number, sender: Ipv4, target: Ipv4) => arpFrame(MAC_BROADCAST, mac, new ArpRepr(ArpOperation.Request, mac, sender, 0, target));

describe('RFC 5227 address probe', () => {
  it('sends PROBE_NUM probes from 0.0.0.0, each field as 2.1.1 says, and ends available after ANNOUNCE_WAIT', () => {
    const p = probing({ random: () => 0.5 });
    p.runTo(p.start + 60 * S);
    expect(p.sent).toHaveLength(3);
    for (const { frame } of p.sent) {
      const { eth, arp } = arpOf(frame);
      expect(eth.dstAddr()).toBe(MAC_BROADCAST);
      expect(eth.srcAddr()).toBe(OUR_MAC);
      expect(eth.etherType()).toBe(EtherType.Arp);
      expect(arp.operation()).toBe(ArpOperation.Request);
      expect(arp.senderHwAddr()).toBe(OUR_MAC);
      expect(arp.senderProtoAddr()).toBe(0);
      expect(arp.targetHwAddr()).toBe(0);
      expect(arp.targetProtoAddr()).toBe(TARGET);
    }
    // random 0.5: first after PROBE_WAIT/2, then PROBE_MIN + (PROBE_MAX - PROBE_MIN + 1 µs)/2, floored.
    const gap = S + Math.floor(0.5 * (S + 1));
    expect(p.sent.map((x) => x.at - p.start)).toEqual([S / 2, S / 2 + gap, S / 2 + 2 * gap]);
    expect(p.outcomes).toEqual([{ kind: 'available', ip: TARGET, at: p.start + S / 2 + 2 * gap + 2 * S }]);
    expect(p.probe.state).toBe('available');
    expect(p.probe.probesSent).toBe(3);
    expect(p.stack.counters.arpProbesTx).toBe(3);
    expect(p.stack.pollAt()).toBeUndefined(); // the ended probe left the ARP state
  });

  it('is not available a microsecond before ANNOUNCE_WAIT has passed', () => {
    const p = probing({ random: () => 0 });
    // random 0: probes at +0, +1 s, +2 s; available at +4 s.
    p.runTo(p.start + 4 * S - 1);
    expect(p.sent.map((x) => x.at - p.start)).toEqual([0, S, 2 * S]);
    expect(p.outcomes).toEqual([]);
    expect(p.probe.state).toBe('listening');
    p.runTo(p.start + 4 * S);
    expect(p.outcomes.map((o) => o.kind)).toEqual(['available']);
  });

  it('keeps every delay within RFC 5227 1.1 with its default, seeded generator', () => {
    for (const target of [TARGET, OTHER, ip('192.0.2.7')]) {
      const s = newStack();
      const start = s.clock.t;
      const out: ProbeOutcome[] = [];
      s.stack.probeAddress(target, { onDone: (o) => out.push(o) });
      const at: number[] = [];
      for (let t = s.stack.pollAt(); t !== undefined; t = s.stack.pollAt()) {
        s.clock.t = t;
        s.stack.poll();
        if (s.dev.take().length > 0) at.push(t - start);
      }
      expect(at).toHaveLength(3);
      expect(at[0]).toBeGreaterThanOrEqual(0);
      expect(at[0]).toBeLessThan(RFC5227_TIMING.probeWaitUs);
      for (const i of [1, 2]) {
        expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(RFC5227_TIMING.probeMinUs);
        expect(at[i]! - at[i - 1]!).toBeLessThanOrEqual(RFC5227_TIMING.probeMaxUs);
      }
      expect(out[0]!.at - start - at[2]!).toBe(RFC5227_TIMING.announceWaitUs);
      const { min, max } = probeDurationUs(RFC5227_TIMING);
      expect([min, max]).toEqual([4 * S, 7 * S]);
      expect(out[0]!.at - start).toBeGreaterThanOrEqual(min);
      expect(out[0]!.at - start).toBeLessThanOrEqual(max);
    }
  });

  it('seeds its delays from the MAC and the address: the same on every run, different per host', () => {
    const draw = (mac: number, a: Ipv4) => {
      const r = seededRandom(mac, a);
      return [r(), r(), r()];
    };
    expect(draw(OUR_MAC, TARGET)).toEqual(draw(OUR_MAC, TARGET));
    expect(draw(OUR_MAC, TARGET)).not.toEqual(draw(PEER_MAC, TARGET));
    expect(draw(OUR_MAC, TARGET)).not.toEqual(draw(OUR_MAC, OTHER));
    for (const x of draw(OUR_MAC, TARGET)) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it('takes shortened timing for tests and labs', () => {
    const p = probing({ random: () => 0, timing: { probeWaitUs: 10, probeMinUs: 100, probeMaxUs: 100, announceWaitUs: 300, probeNum: 2 } });
    p.runTo(p.start + S);
    expect(p.sent.map((x) => x.at - p.start)).toEqual([0, 100]);
    expect(p.outcomes).toEqual([{ kind: 'available', ip: TARGET, at: p.start + 400 }]);
  });

  it('ends in a conflict when another host answers for the address (a reply), and probes no more', () => {
    const p = probing({ random: () => 0 });
    p.runTo(p.start); // first probe
    expect(p.sent).toHaveLength(1);
    p.clock.advance(300_000);
    p.stack.processFrame(arpFrame(OUR_MAC, PEER_MAC, new ArpRepr(ArpOperation.Reply, PEER_MAC, TARGET, OUR_MAC, 0)));
    expect(p.outcomes).toEqual([{ kind: 'conflict', ip: TARGET, mac: PEER_MAC, by: 'claim', at: p.start + 300_000 }]);
    expect(p.probe.state).toBe('conflict');
    p.runTo(p.start + 60 * S);
    expect(p.sent).toHaveLength(1);
    expect(p.outcomes).toHaveLength(1);
  });

  it('ends in a conflict on a gratuitous ARP or any request with the address as sender', () => {
    for (const frame of [request(PEER_MAC, TARGET, TARGET), request(PEER_MAC, TARGET, PEER_IP), reply(PEER_MAC, TARGET, PEER_IP)]) {
      const p = probing({ random: () => 0 });
      p.runTo(p.start + 3 * S); // all three probes out, listening
      p.stack.processFrame(frame);
      expect(p.outcomes.map((o) => o.kind === 'conflict' && o.by)).toEqual(['claim']);
    }
  });

  it('ends in a conflict on a simultaneous probe for the same address from another MAC (2.1.1)', () => {
    const p = probing({ random: () => 0 });
    p.runTo(p.start + S);
    p.stack.processFrame(request(PEER_MAC, 0, TARGET));
    expect(p.outcomes).toEqual([{ kind: 'conflict', ip: TARGET, mac: PEER_MAC, by: 'probe', at: p.start + S }]);
  });

  it('is not ended by ARP that does not claim the address: a request for it from a host that has its own, probes for others, a reply about another address', () => {
    const p = probing({ random: () => 0 });
    p.stack.processFrame(request(PEER_MAC, PEER_IP, TARGET)); // someone asking who has it: not a claim
    p.stack.processFrame(request(PEER_MAC, 0, OTHER));
    p.stack.processFrame(reply(PEER_MAC, OTHER, TARGET));
    p.stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Reply, PEER_MAC, 0, 0, TARGET))); // a "probe" that is a reply
    p.runTo(p.start + 60 * S);
    expect(p.outcomes.map((o) => o.kind)).toEqual(['available']);
  });

  it('ignores its own probes and packets whose sender MAC is not the frame source', () => {
    const outcomes: ProbeOutcome[] = [];
    const probe = new AddressProbe(TARGET, { mac: OUR_MAC, now: () => 0, sendArp: () => true, probeSent: () => {} }, { onDone: (o) => outcomes.push(o) });
    expect(probe.observe(ArpOperation.Request, OUR_MAC, 0, TARGET)).toBe(false);
    expect(probe.observe(ArpOperation.Reply, OUR_MAC, TARGET, TARGET)).toBe(false);
    expect(outcomes).toEqual([]);
    const p = probing({ random: () => 0 });
    // The ARP sender claims the address, but the Ethernet source is someone else: dropped before any probe sees it.
    p.stack.processFrame(arpFrame(MAC_BROADCAST, PEER_MAC, new ArpRepr(ArpOperation.Request, 0x02_00_00_00_00_99, TARGET, 0, TARGET)));
    expect(p.stack.counters.rxDropped['arp-sha-mismatch']).toBe(1);
    p.runTo(p.start + 60 * S);
    expect(p.outcomes.map((o) => o.kind)).toEqual(['available']);
  });

  it('tells its owner once: a claim after the probe ended changes nothing', () => {
    const p = probing({ random: () => 0 });
    p.runTo(p.start + 60 * S);
    p.stack.processFrame(reply(PEER_MAC, TARGET, PEER_IP));
    expect(p.outcomes.map((o) => o.kind)).toEqual(['available']);
    const c = probing({ random: () => 0 });
    c.stack.processFrame(reply(PEER_MAC, TARGET, PEER_IP));
    c.stack.processFrame(request(0x02_00_00_00_00_77, 0, TARGET));
    expect(c.outcomes).toHaveLength(1);
  });

  it('stops quietly when cancelled', () => {
    const p = probing({ random: () => 0 });
    p.runTo(p.start);
    p.probe.cancel();
    expect(p.probe.state).toBe('cancelled');
    expect(p.stack.pollAt()).toBeUndefined();
    p.runTo(p.start + 60 * S);
    p.stack.processFrame(reply(PEER_MAC, TARGET, PEER_IP));
    expect(p.sent).toHaveLength(1);
    expect(p.outcomes).toEqual([]);
  });

  it('refuses timing that RFC 5227 cannot mean, and an address that is not unicast', () => {
    const host = { mac: OUR_MAC, now: () => 0, sendArp: () => true, probeSent: () => {} };
    const onDone = (): void => {};
    expect(() => new AddressProbe(TARGET, host, { onDone, timing: { probeNum: 0 } })).toThrow(/probeNum/);
    expect(() => new AddressProbe(TARGET, host, { onDone, timing: { probeMinUs: 3 * S } })).toThrow(/probeMaxUs/);
    expect(() => new AddressProbe(TARGET, host, { onDone, timing: { announceWaitUs: -1 } })).toThrow(/announceWaitUs/);
    expect(() => new AddressProbe(0, host, { onDone })).toThrow(/unicast/);
    expect(() => new AddressProbe(0xffff_ffff, host, { onDone })).toThrow(/unicast/);
  });

  it('runs on an interface with no address yet (a DHCP client): a probe from 0.0.0.0 is not a claim on it', () => {
    const s = newStack({ ipv4: { addr: 0, prefixLen: 0 } });
    const outcomes: ProbeOutcome[] = [];
    s.stack.probeAddress(TARGET, { random: () => 0, onDone: (o) => outcomes.push(o) });
    s.stack.processFrame(request(PEER_MAC, 0, OTHER));
    expect(s.stack.counters.arpConflicts).toBe(0);
    expect(s.dev.take()).toEqual([]); // nothing defended
    s.stack.processFrame(request(PEER_MAC, 0, TARGET));
    expect(outcomes.map((o) => o.kind === 'conflict' && o.by)).toEqual(['probe']);
  });
});
