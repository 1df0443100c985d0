// System tests (issue 7, "the host side fails safe"): the host network is given back on every stop
// path. In a lab namespace an uplink (one end of a veth pair, with an IPv4 and an IPv6 address and
// a default route) is handed to `nanoshare run --uplink`; we compare `ip addr`/`ip route` of the
// namespace before and after: a busy machine stopped with SIGTERM, a SIGTERM in the middle of the
// setup (after the uplink's address was moved), and a second Ctrl-C during the teardown. To land
// a signal at a chosen point of the setup or teardown, the machine's `ip` is a wrapper that logs
// each call and takes 150 ms (the real iproute2 does the work).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns, probe, skipLab, stopChild, waitFor, which } from './lab.js';
import { BIN, GUESTS, pcapByteAccounting, spawnMachine, terminate, waitExit, waitReady, type Spawned } from './machine-process.js';

const UPLINK = 'upl0';
const BRIDGE = 'nsbr-nstap0';
const GUEST_ARGS = ['--rtos-ip', '10.88.0.10/24', '--gpos-ip', '10.88.0.11/24'];

/** A namespace with an uplink: veth upl0 (10.88.0.2/24, fd00:88::2/64, default via 10.88.0.1) and its peer. */
function uplinkLab(tag: string): Netns {
  const ns = Netns.create(tag);
  ns.exec(['ip', 'link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', 'upl0p']);
  ns.exec(['ip', 'link', 'set', UPLINK, 'up']);
  ns.exec(['ip', 'link', 'set', 'upl0p', 'up']);
  ns.exec(['ip', 'addr', 'add', '10.88.0.2/24', 'dev', UPLINK]);
  ns.exec(['ip', '-6', 'addr', 'add', 'fd00:88::2/64', 'dev', UPLINK, 'nodad']);
  ns.exec(['ip', 'route', 'add', 'default', 'via', '10.88.0.1', 'dev', UPLINK]);
  return ns;
}

interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
}

/** What the uplink must get back: its addresses (without lifetimes), the routes, the links and their masters. */
function netState(ns: Netns): { addrs: string[]; routes4: string; routes6: string[]; links: string[] } {
  const up = JSON.parse(ns.exec(['ip', '-j', 'addr', 'show', 'dev', UPLINK])) as Array<{ addr_info: AddrInfo[] }>;
  const links = JSON.parse(ns.exec(['ip', '-j', 'link', 'show'])) as Array<{ ifname: string; master?: string }>;
  return {
    addrs: up[0]!.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.family} ${a.local}/${a.prefixlen}`).sort(),
    routes4: ns.exec(['ip', '-4', 'route', 'show']),
    // Link-local and multicast routes come and go with the interfaces' own IPv6 state.
    routes6: ns.exec(['ip', '-6', 'route', 'show']).split('\n').filter((l) => l && !l.startsWith('fe80') && !l.startsWith('multicast')),
    links: links.map((l) => `${l.ifname}${l.master ? ` master ${l.master}` : ''}`).sort(),
  };
}

/** A PATH directory whose `ip` logs its arguments and takes 150 ms before running the real one. */
function slowIp(dir: string): { env: string[]; calls: () => string[] } {
  const real = which('ip');
  if (!real) throw new Error('the `ip` command is missing');
  const bin = join(dir, 'slowbin');
  const log = join(dir, 'ip.log');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ip'), `#!/bin/sh\necho "$*" >> '${log}'\nsleep 0.15\nexec '${real}' "$@"\n`);
  chmodSync(join(bin, 'ip'), 0o755);
  return {
    env: ['env', `PATH=${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`],
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
  };
}

async function inLab(tag: string, body: (ns: Netns, tmp: string, started: Spawned[]) => Promise<void>): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), `nanoshare-host-${tag}-`));
  const ns = uplinkLab(tag);
  const started: Spawned[] = [];
  try {
    await body(ns, tmp, started);
  } finally {
    for (const m of started) await stopChild(m.child);
    await ns.delete();
    rmSync(tmp, { recursive: true, force: true });
  }
}

const skip = skipLab();

describe.skipIf(skip)('system: the host network is given back on every stop path (--uplink in a lab namespace)', () => {
  it('a busy machine (--gpos-load) stopped with SIGTERM exits 0 and the uplink gets its addresses and routes back', async () => {
    await inLab('hbusy', async (ns, tmp, started) => {
      const before = netState(ns);
      expect(before.addrs).toEqual(['inet 10.88.0.2/24', 'inet6 fd00:88::2/64']);
      expect(before.routes4).toContain('default via 10.88.0.1 dev upl0');
      const s = spawnMachine(ns, ['--uplink', UPLINK, ...GUEST_ARGS, '--gpos-load', '10.88.0.2:9', '--control', join(tmp, 'ctl.sock')]);
      started.push(s);
      const m = await waitReady(s);
      expect(m.ready.uplink).toBe(UPLINK);
      // Set up as documented: the uplink and the TAP are ports of the bridge, which holds the address.
      const during = netState(ns);
      expect(during.links).toContain(`${UPLINK} master ${BRIDGE}`);
      expect(during.links).toContain(`nstap0 master ${BRIDGE}`);
      expect(during.addrs).toEqual([]);
      // Busy: the gpos is sending as fast as it may.
      await waitFor('the gpos load on the bridge', () => {
        const st = JSON.parse(ns.exec(['ip', '-j', '-s', 'link', 'show', 'dev', 'nstap0'])) as Array<{ stats64: { rx: { packets: number } } }>;
        return st[0]!.stats64.rx.packets > 2000;
      });
      const exit = await terminate(m);
      expect(exit, m.stderr()).toEqual({ code: 0, signal: null });
      expect(m.stderr()).toContain('"msg":"stopped"');
      expect(netState(ns)).toEqual(before);
    });
  });

  it('SIGTERM during the setup (the uplink\'s address already moved): exit 0, no ready, and everything is put back', async () => {
    await inLab('hsetup', async (ns, tmp, started) => {
      const before = netState(ns);
      const ip = slowIp(tmp);
      const s = spawnMachine(ns, ['--uplink', UPLINK, ...GUEST_ARGS, '--control', join(tmp, 'ctl.sock')], ip.env);
      started.push(s);
      // The uplink's address has been taken off it: the setup is half done.
      await waitFor('the uplink address being moved', () => ip.calls().some((c) => c.startsWith(`addr del 10.88.0.2/24 dev ${UPLINK}`)), 20_000);
      expect(s.stderr()).not.toContain('"msg":"ready"');
      const exit = await terminate(s, 30_000);
      expect(exit, s.stderr()).toEqual({ code: 0, signal: null });
      expect(s.stderr()).not.toContain('"msg":"ready"');
      expect(s.stderr()).toContain('"msg":"stopped"');
      expect(netState(ns)).toEqual(before);
    });
  });

  it('a second Ctrl-C during the teardown does not cut it short: exit 0 and everything is put back', async () => {
    await inLab('hdouble', async (ns, tmp, started) => {
      const before = netState(ns);
      const ip = slowIp(tmp);
      const s = spawnMachine(ns, ['--uplink', UPLINK, ...GUEST_ARGS, '--control', join(tmp, 'ctl.sock')], ip.env);
      started.push(s);
      const m = await waitReady(s, 30_000);
      const setupCalls = ip.calls().length;
      m.child.kill('SIGINT');
      // The teardown has started (its first ip call) and has more to do when the second Ctrl-C lands.
      await waitFor('the teardown to start', () => ip.calls().length > setupCalls, 10_000);
      m.child.kill('SIGINT');
      const exit = await waitExit(m, 30_000);
      expect(exit, m.stderr()).toEqual({ code: 0, signal: null });
      expect(m.stderr()).toContain('already stopping');
      expect(netState(ns)).toEqual(before);
    });
  });
});

describe.skipIf(skip)('system: control socket path and a full disk under the capture', () => {
  it('a regular file at the --control path: exit 2, one line, the file untouched, no TAP left', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-host-ctlfile-'));
    const ns = Netns.create('hctl');
    try {
      const file = join(tmp, 'ctl.sock');
      writeFileSync(file, 'precious\n');
      const s = spawnMachine(ns, ['--control', file]);
      const exit = await waitExit(s, 15_000);
      expect(exit).toEqual({ code: 2, signal: null });
      const lines = s.stderr().split('\n').filter(Boolean);
      expect(lines, s.stderr()).toHaveLength(1);
      expect(lines[0]).toMatch(/^nanoshare: --control .*ctl\.sock: a regular file is there, not a socket/);
      expect(readFileSync(file, 'utf8')).toBe('precious\n');
      expect(ns.run(['ip', 'link', 'show', 'dev', 'nstap0']).status, 'nstap0 left behind').not.toBe(0);
    } finally {
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a full disk (a 192 KiB tmpfs in a private mount namespace): the machine runs on, the file ends on a whole record, the counts say how many were lost', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-host-full-'));
    const mnt = join(tmp, 'small');
    mkdirSync(mnt);
    const out = join(tmp, 'cap.pcap');
    const ns = Netns.create('hfull');
    const started: Spawned[] = [];
    let pid: number | undefined;
    try {
      // The capture's tmpfs exists only in the private mount namespace of this shell and its
      // machine; the shell copies the file out after the machine exits.
      const script = `mount -t tmpfs -o size=192k nanoshare-host-full '${mnt}' || exit 97
"${process.execPath}" "${BIN}" run --stats-interval 0 --control '${join(tmp, 'ctl.sock')}' --capture '${mnt}/cap.pcap'; rc=$?
cp '${mnt}/cap.pcap' '${out}'; exit $rc`;
      const sh = ns.spawn(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      sh.stderr!.setEncoding('utf8');
      sh.stderr!.on('data', (d: string) => (err += d));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => sh.once('exit', (code, signal) => r({ code, signal })));
      started.push({ child: sh, stderr: () => err, exited });
      const ready = await waitFor('ready', () => err.split('\n').find((l) => l.includes('"msg":"ready"')), 15_000);
      pid = (JSON.parse(ready) as { pid: number }).pid;
      // About 2.9 KB of capture per ping of 1400 bytes (request and reply): the tmpfs fills in ~70.
      const flood = probe(ns, GUESTS[1].ip, { count: 300, intervalMs: 5, timeoutMs: 1000, payloadBytes: 1400 });
      expect(flood.sent).toBe(300);
      await waitFor('the capture write error', () => err.includes('capture write failed'), 10_000);
      expect(err.split('\n').filter((l) => l.includes('capture write failed')), 'the error is logged once').toHaveLength(1);
      // Still running and answering after the disk filled up.
      expect(probe(ns, GUESTS[0].ip).received).toBe(3);
      process.kill(pid, 'SIGTERM');
      const exit = await exited;
      expect(exit, err).toEqual({ code: 0, signal: null });
      const stopped = JSON.parse(err.split('\n').find((l) => l.includes('"msg":"stopped"'))!) as { capture: { blocks: number; writeErrors: number } };
      expect(stopped.capture.writeErrors).toBeGreaterThan(0);
      const acct = pcapByteAccounting(out);
      expect(acct.trailing, `${acct.trailing} bytes of a partial record after ${acct.records} records`).toBe(0);
      expect(acct.records).toBe(stopped.capture.blocks);
      expect(acct.bytes).toBeLessThanOrEqual(192 * 1024);
      console.log(`full disk: ${acct.records} records (${acct.bytes} bytes) written, ${stopped.capture.writeErrors} lost`);
    } finally {
      // The machine is the shell's child: stop it by its own PID if the test failed before.
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      for (const m of started) await stopChild(m.child);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
