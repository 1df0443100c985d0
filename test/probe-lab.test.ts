// Many machines on one LAN (issue 11), in a lab namespace with one Linux bridge: two machines
// started with default MACs (different TAPs and addresses) both answer; a machine whose guest's
// address is already on the bridge logs the conflict and leaves it, with the RFC's own timing;
// when every guest's address is taken, `nanoshare run` exits 2 with one line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns, probe, skipLab, stopChild } from './lab.js';
import { BIN, spawnMachine, startMachine, terminate, waitExit, waitReady, type Running } from './machine-process.js';

const skip = skipLab();

/** A lab namespace with bridge nsbr0 at 10.77.0.1/24 (the host on the LAN). */
function lab(tag: string): { ns: Netns; tmp: string; bridgeMac: string } {
  const tmp = mkdtempSync(join(tmpdir(), `nanoshare-mac-${tag}-`));
  const ns = Netns.create(`mac${tag}`);
  ns.exec(['ip', 'link', 'add', 'nsbr0', 'type', 'bridge']);
  // A MAC set by hand: otherwise the bridge takes its lowest port's (the TAP's) when one joins.
  ns.exec(['ip', 'link', 'set', 'nsbr0', 'address', '02:10:77:00:00:01']);
  ns.exec(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'nsbr0']);
  ns.exec(['ip', 'link', 'set', 'nsbr0', 'up']);
  const bridgeMac = (JSON.parse(ns.exec(['ip', '-j', 'link', 'show', 'dev', 'nsbr0'])) as Array<{ address: string }>)[0]!.address;
  return { ns, tmp, bridgeMac };
}

const conflictLines = (stderr: string): Array<{ guest: string; ipv4: string; mac: string; msg: string }> =>
  stderr.split('\n').filter((l) => l.includes('"msg":"address conflict')).map((l) => JSON.parse(l) as { guest: string; ipv4: string; mac: string; msg: string });

describe.skipIf(skip)('system: many machines on one LAN (RFC 5227, derived MACs)', () => {
  it('two machines with default MACs on one bridge: four distinct MACs, every guest answers ping', async () => {
    const { ns, tmp } = lab('two');
    const machines: Running[] = [];
    try {
      machines.push(await startMachine(ns, ['--tap', 'nsa0', '--bridge', 'nsbr0', '--control', join(tmp, 'a.sock')]));
      machines.push(await startMachine(ns, ['--tap', 'nsb0', '--bridge', 'nsbr0', '--rtos-ip', '10.77.0.20/24', '--gpos-ip', '10.77.0.21/24', '--control', join(tmp, 'b.sock')]));
      const guests = machines.flatMap((m) => m.ready.guests);
      expect(guests.every((g) => g.macDerived === true && g.ipv4State === 'taken')).toBe(true);
      expect(new Set(guests.map((g) => g.mac)).size).toBe(4);
      for (const g of guests) expect(parseInt(g.mac.slice(0, 2), 16) & 0x03, g.mac).toBe(0x02); // locally administered unicast
      for (const g of guests) {
        const ip = g.ipv4.split('/')[0]!;
        expect(probe(ns, ip, { count: 3, intervalMs: 100 }).received, `ping ${g.name} ${ip}`).toBe(3);
      }
      const neigh = ns.exec(['ip', 'neigh', 'show', 'dev', 'nsbr0']);
      for (const g of guests) expect(neigh, neigh).toContain(`${g.ipv4.split('/')[0]} lladdr ${g.mac}`);
      // Restarted, the first machine derives the same MACs.
      const before = machines[0]!.ready.guests.map((g) => g.mac);
      expect((await terminate(machines.shift()!)).code).toBe(0);
      const again = await startMachine(ns, ['--tap', 'nsa0', '--bridge', 'nsbr0', '--control', join(tmp, 'a.sock')]);
      machines.push(again);
      expect(again.ready.guests.map((g) => g.mac)).toEqual(before);
    } finally {
      for (const m of machines) await stopChild(m.child);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a guest whose address is already on the LAN logs the conflict and does not take it (RFC timing); the other guest serves', async () => {
    const { ns, tmp, bridgeMac } = lab('one');
    let m: Running | undefined;
    try {
      ns.exec(['ip', 'addr', 'add', '10.77.0.10/24', 'dev', 'nsbr0']); // the rtos's default address, held by the "host"
      const t0 = Date.now();
      m = await waitReady(spawnMachine(ns, ['--bridge', 'nsbr0', '--address-probe', 'rfc', '--control', join(tmp, 'ctl.sock')]), 30_000);
      const bootMs = Date.now() - t0;
      expect(conflictLines(m.stderr())).toEqual([
        expect.objectContaining({ guest: 'rtos', ipv4: '10.77.0.10', mac: bridgeMac, msg: expect.stringMatching(/rtos.*10\.77\.0\.10.*in use by/) }),
      ]);
      expect(m.ready.guests.map((g) => [g.name, g.ipv4State])).toEqual([['rtos', 'conflict'], ['gpos', 'taken']]);
      expect(bootMs, 'ready after the probes (RFC 5227: 4 to 7 s)').toBeGreaterThanOrEqual(4000);
      expect(probe(ns, '10.77.0.11', { count: 3, intervalMs: 100 }).received).toBe(3);
      // `stats --json` says so too.
      const stats = JSON.parse(ns.exec([process.execPath, BIN, 'stats', '--json', '--control', join(tmp, 'ctl.sock')])) as { guests: Array<{ name: string; ipv4State: string; ipv4Conflict?: { mac: string } }> };
      expect(stats.guests.find((g) => g.name === 'rtos')).toEqual(expect.objectContaining({ ipv4State: 'conflict', ipv4Conflict: expect.objectContaining({ mac: bridgeMac }) }));
      const text = ns.exec([process.execPath, BIN, 'stats', '--control', join(tmp, 'ctl.sock')]);
      expect(text).toMatch(new RegExp(`^rtos: .*ipv4 NOT TAKEN: in use by ${bridgeMac}`, 'm'));
      expect(text).toMatch(/^gpos: .*ipv4 taken/m);
      // The rtos never announced 10.77.0.10: the bridge's neighbour table has no rtos MAC for it.
      const rtosMac = m.ready.guests.find((g) => g.name === 'rtos')!.mac;
      expect(ns.exec(['ip', 'neigh', 'show', 'dev', 'nsbr0'])).not.toContain(rtosMac);
      expect((await terminate(m)).code).toBe(0);
    } finally {
      if (m) await stopChild(m.child);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('every guest\'s address taken: exit 2 with one line saying so', async () => {
    const { ns, tmp } = lab('all');
    try {
      ns.exec(['ip', 'addr', 'add', '10.77.0.10/24', 'dev', 'nsbr0']);
      ns.exec(['ip', 'addr', 'add', '10.77.0.11/24', 'dev', 'nsbr0']);
      const s = spawnMachine(ns, ['--bridge', 'nsbr0', '--control', join(tmp, 'ctl.sock')]);
      const exit = await waitExit(s, 30_000);
      expect(exit, s.stderr()).toEqual({ code: 2, signal: null });
      expect(conflictLines(s.stderr()).map((c) => c.guest).sort()).toEqual(['gpos', 'rtos']);
      const last = s.stderr().trim().split('\n').at(-1)!;
      expect(last).toMatch(/^nanoshare: every guest's address is in use on the LAN \(rtos 10\.77\.0\.10, gpos 10\.77\.0\.11\)/);
      expect(s.stderr()).not.toContain('"msg":"ready"');
      expect(ns.run(['ip', 'link', 'show', 'dev', 'nstap0']).status, 'the TAP is removed').not.toBe(0);
    } finally {
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
