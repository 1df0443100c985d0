// System test (issue 7, the host fails safe): the TAP, or the bridge it is attached to, deleted
// under the running machine with `ip link del`, in a lab namespace of the test's own. The machine
// logs one line for the loss (not one per retry or per frame), its guests keep running (the rtos's
// control task keeps counting its periods), it reattaches when the device is back (a TAP it created
// is created again; one that existed before is waited for; a bridge is waited for) and ping works
// again; `stats` counts the loss and the reattach.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns, probe, skipLab, stopChild, waitFor } from './lab.js';
import { BIN, GUESTS, startMachine, terminate, type Running } from './machine-process.js';

const skip = skipLab();

interface Snapshot {
  link: { linkLost?: number; linkReattached?: number; txDropped: number };
  guests: Array<{ name: string; control?: { periodUs: number; cycles: number } }>;
}

function stats(ns: Netns, ctl: string): Snapshot {
  return JSON.parse(ns.exec([process.execPath, BIN, 'stats', '--json', '--control', ctl])) as Snapshot;
}

const rtosCycles = (s: Snapshot): number => s.guests.find((g) => g.name === 'rtos')!.control!.cycles;

function pingBoth(ns: Netns, when: string): void {
  for (const g of GUESTS) {
    const r = probe(ns, g.ip, { count: 3, intervalMs: 100, timeoutMs: 2000 });
    expect(r.received, `${when}: echo replies from ${g.name} ${g.ip}`).toBe(3);
  }
}

const logLines = (m: Running, msg: string): string[] => m.stderr().split('\n').filter((l) => l.includes(`"msg":"${msg}`));

/** The rtos's control-task periods run while we wait `ms`, and how many periods fit in the time waited. */
async function awayFor(ns: Netns, ctl: string, ms: number): Promise<{ cycles: number; expected: number }> {
  const first = stats(ns, ctl);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  const cycles = rtosCycles(stats(ns, ctl)) - rtosCycles(first);
  const periodUs = first.guests.find((g) => g.name === 'rtos')!.control!.periodUs;
  return { cycles, expected: ((Date.now() - t0) * 1000) / periodUs };
}

describe.skipIf(skip)('system: the TAP or its bridge deleted under the running machine (issue 7)', () => {
  it('our own TAP deleted: one log line, the guests keep running, the TAP is created again and ping works again; stats count it', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-reattach-'));
    const ns = Netns.create('reattach');
    const ctl = join(tmp, 'ctl.sock');
    let m: Running | undefined;
    try {
      m = await startMachine(ns, ['--control', ctl]);
      pingBoth(ns, 'before');
      const before = rtosCycles(stats(ns, ctl));

      ns.exec(['ip', 'link', 'del', 'nstap0']);
      await waitFor('"link back" in the log', () => logLines(m!, 'link back').length > 0, 15_000);
      // The host side is set up again: the TAP is up with the host's address.
      const addrs = ns.exec(['ip', '-br', 'addr', 'show', 'dev', 'nstap0']);
      expect(addrs).toContain('10.77.0.1/24');
      pingBoth(ns, 'after the TAP came back');

      expect(logLines(m, 'link gone'), m.stderr()).toHaveLength(1);
      expect(logLines(m, 'link back'), m.stderr()).toHaveLength(1);
      expect(logLines(m, 'link error'), 'the loss is not also logged as link errors').toEqual([]);
      const s = stats(ns, ctl);
      expect([s.link.linkLost, s.link.linkReattached]).toEqual([1, 1]);
      expect(rtosCycles(s), 'the rtos control task ran on').toBeGreaterThan(before);

      const text = ns.exec([process.execPath, BIN, 'stats', '--control', ctl]);
      expect(text).toContain('link lost 1, reattached 1');

      const exit = await terminate(m);
      expect(exit, m.stderr()).toEqual({ code: 0, signal: null });
      expect(ns.run(['ip', 'link', 'show', 'dev', 'nstap0']).status, 'the TAP we created again is gone with us').not.toBe(0);
    } finally {
      if (m) await stopChild(m.child);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a TAP that existed before, deleted and away for 3 s: one line (no retry flood), the rtos keeps its period, it reattaches when the TAP is added again', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-reattach-'));
    const ns = Netns.create('reattach-ext');
    const ctl = join(tmp, 'ctl.sock');
    let m: Running | undefined;
    try {
      ns.exec(['ip', 'tuntap', 'add', 'nstap0', 'mode', 'tap']);
      m = await startMachine(ns, ['--control', ctl]);
      pingBoth(ns, 'before');

      ns.exec(['ip', 'link', 'del', 'nstap0']);
      await waitFor('"link gone" in the log', () => logLines(m!, 'link gone').length > 0, 10_000);
      const away = await awayFor(ns, ctl, 3000);
      console.log(`TAP away 3 s: rtos control task ${away.cycles} periods of ${Math.round(away.expected)}`);
      expect(away.cycles, 'the rtos control task kept (at least half of) its 1 ms period while the TAP was away').toBeGreaterThan(away.expected / 2);
      expect(ns.run(['ip', 'link', 'show', 'dev', 'nstap0']).status, 'a TAP that was not ours is waited for, not created').not.toBe(0);
      expect(m.stderr().split('\n').filter(Boolean).length, `log after 3 s away:\n${m.stderr()}`).toBe(2); // ready + link gone

      ns.exec(['ip', 'tuntap', 'add', 'nstap0', 'mode', 'tap']);
      await waitFor('"link back" in the log', () => logLines(m!, 'link back').length > 0, 15_000);
      pingBoth(ns, 'after the TAP was added again');
      expect(logLines(m, 'link gone')).toHaveLength(1);

      const exit = await terminate(m);
      expect(exit, m.stderr()).toEqual({ code: 0, signal: null });
      // A TAP that was there before is left as found: still there, down, without our address.
      expect(ns.exec(['ip', '-br', 'addr', 'show', 'dev', 'nstap0'])).not.toContain('10.77.0.1');
    } finally {
      if (m) await stopChild(m.child);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the bridge deleted: one line, the TAP is attached again when the bridge is back, ping works again', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-reattach-'));
    const ns = Netns.create('reattach-br');
    const ctl = join(tmp, 'ctl.sock');
    const bridge = (): void => {
      ns.exec(['ip', 'link', 'add', 'nsbr0', 'type', 'bridge']);
      ns.exec(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'nsbr0']);
      ns.exec(['ip', 'link', 'set', 'nsbr0', 'up']);
    };
    let m: Running | undefined;
    try {
      bridge();
      m = await startMachine(ns, ['--bridge', 'nsbr0', '--control', ctl]);
      pingBoth(ns, 'before');

      ns.exec(['ip', 'link', 'del', 'nsbr0']);
      await waitFor('"bridge gone" in the log', () => logLines(m!, 'bridge gone').length > 0, 10_000);
      // Link events while the bridge is away (the TAP going down and up) add no line.
      ns.exec(['ip', 'link', 'set', 'nstap0', 'down']);
      ns.exec(['ip', 'link', 'set', 'nstap0', 'up']);
      await new Promise((r) => setTimeout(r, 500));
      bridge();
      await waitFor('"bridge back" in the log', () => logLines(m!, 'bridge back').length > 0, 10_000);
      const info = JSON.parse(ns.exec(['ip', '-j', 'link', 'show', 'dev', 'nstap0'])) as Array<{ master?: string }>;
      expect(info[0]!.master).toBe('nsbr0');
      pingBoth(ns, 'after the bridge came back');
      expect(logLines(m, 'bridge gone'), m.stderr()).toHaveLength(1);
      expect(logLines(m, 'link gone'), 'the TAP itself was never lost').toEqual([]);

      const exit = await terminate(m);
      expect(exit, m.stderr()).toEqual({ code: 0, signal: null });
    } finally {
      if (m) await stopChild(m.child);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
