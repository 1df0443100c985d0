// The instrument of the system tests and of `bench floor` (test/icmp-probe.mjs), checked against
// the one responder whose behaviour is beyond doubt: Linux's own stack in a namespace behind a
// veth pair. It must count what was answered and what was not, and time only real replies.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Netns, PROBE_SCRIPT, probe, skipLab } from './lab.js';

const skip = skipLab();

describe.skipIf(skip)('icmp-probe (system: raw-socket ICMP in a namespace of its own)', () => {
  const made: Netns[] = [];
  afterAll(async () => {
    for (const ns of made) await ns.delete();
  });

  const lab = (): { ns: Netns } => {
    const ns = Netns.create('probe');
    const peer = Netns.create('probepeer');
    made.push(ns, peer);
    execFileSync('ip', ['link', 'add', 'nspv0', 'netns', ns.name, 'type', 'veth', 'peer', 'name', 'nspv1', 'netns', peer.name]);
    ns.exec(['ip', 'addr', 'add', '10.79.0.1/24', 'dev', 'nspv0']);
    ns.exec(['ip', 'link', 'set', 'nspv0', 'up']);
    peer.exec(['ip', 'addr', 'add', '10.79.0.2/24', 'dev', 'nspv1']);
    peer.exec(['ip', 'link', 'set', 'nspv1', 'up']);
    return { ns };
  };

  it('counts every reply of a live host with its round-trip time, and none from an absent one', () => {
    const { ns } = lab();
    const live = probe(ns, '10.79.0.2', { count: 5, intervalMs: 20, timeoutMs: 1000 });
    expect(live.sent).toBe(5);
    expect(live.received).toBe(5);
    expect(live.rttsMs).toHaveLength(5);
    for (const t of live.rttsMs) {
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThan(1000);
    }
    const absent = probe(ns, '10.79.0.9', { count: 2, intervalMs: 20, timeoutMs: 300 });
    expect(absent.sent).toBe(2);
    expect(absent.received).toBe(0);
    expect(absent.rttsMs).toEqual([]);
  });

  it('floods with a fixed window: never more answered than sent, never more in flight than the window', () => {
    const { ns } = lab();
    const r = JSON.parse(ns.exec([process.execPath, PROBE_SCRIPT, 'flood', '10.79.0.2', '0.5', '8'])) as {
      sent: number; received: number; lost: number; rate: number; window: number;
    };
    expect(r.window).toBe(8);
    expect(r.received).toBeGreaterThan(100);
    expect(r.received).toBeLessThanOrEqual(r.sent);
    // Each send is a reply's (or a loss's) replacement, after the first window.
    expect(r.sent).toBeLessThanOrEqual(r.received + r.lost + 8);
    expect(r.rate).toBeGreaterThan(0);
  });
});
