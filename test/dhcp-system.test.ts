// The DHCP client against a real server (issue 9): dnsmasq from Debian's packages, started by the
// test inside its own lab namespace on a bridge with a small range; the machine's TAP joins the
// bridge and both guests are configured "ipv4": "dhcp". Each gets its own lease (dnsmasq's lease
// file says so), answers the raw-socket ping on it, shows it in `stats`; SIGTERM's ordered stop
// RELEASEs both leases (dnsmasq removes them from its file).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, probe, skipLab, stopChild, waitFor } from './lab.js';
import { BIN, FIXED_GUESTS, startMachine, terminate, type Running } from './machine-process.js';

const skip = skipLab(['dnsmasq']);
const RANGE = ['10.77.0.100', '10.77.0.103'];

/** dnsmasq's lease file: one line per lease, "expiry MAC IP hostname client-id". */
function leases(file: string): Array<{ mac: string; ip: string; host: string }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [, mac, ip, host] = l.split(' ');
    return { mac: mac!, ip: ip!, host: host! };
  });
}

describe.skipIf(skip)('system: DHCP from a real dnsmasq, both guests "ipv4": "dhcp"', () => {
  it('each guest leases its own address, answers ping on it, shows it in stats; SIGTERM releases both leases', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-dhcp-'));
    const ns = Netns.create('dhcp');
    const ctl = join(tmp, 'ctl.sock');
    const leaseFile = join(tmp, 'dnsmasq.leases');
    const config = join(tmp, 'machine.json');
    writeFileSync(config, JSON.stringify({ guests: FIXED_GUESTS.map((g) => ({ name: g.name, mac: g.mac, ipv4: 'dhcp' })) }));
    let m: Running | undefined;
    try {
      ns.exec(['ip', 'link', 'add', 'nsbrd0', 'type', 'bridge']);
      ns.exec(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'nsbrd0']);
      ns.exec(['ip', 'link', 'set', 'nsbrd0', 'up']);
      const dnsmasq = ns.spawn(
        [
          'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root', '--interface=nsbrd0', '--bind-interfaces',
          `--dhcp-range=${RANGE[0]},${RANGE[1]},255.255.255.0,2m`, `--dhcp-leasefile=${leaseFile}`, `--pid-file=${join(tmp, 'dnsmasq.pid')}`, '--log-dhcp',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let dnsmasqLog = '';
      dnsmasq.stderr!.setEncoding('utf8');
      dnsmasq.stderr!.on('data', (d: string) => (dnsmasqLog += d));

      m = await startMachine(ns, ['--config', config, '--bridge', 'nsbrd0', '--control', ctl]);
      expect(m.ready.guests.map((g) => g.ipv4)).toEqual(['dhcp', 'dhcp']);

      // dnsmasq checks an address with a ping before offering it, and each guest probes it for up
      // to 7 s (RFC 5227) before use: allow for both.
      const held = await waitFor('a lease for each guest in dnsmasq\'s lease file', () => {
        const l = leases(leaseFile);
        return FIXED_GUESTS.every((g) => l.some((x) => x.mac === g.mac)) ? l : undefined;
      }, 30_000, 200).catch((e: Error) => {
        throw new Error(`${e.message}\ndnsmasq:\n${dnsmasqLog}\nmachine:\n${m!.stderr()}`);
      });
      const addr = new Map(FIXED_GUESTS.map((g) => [g.name, held.find((x) => x.mac === g.mac)!]));
      expect(addr.get('rtos')!.ip).not.toBe(addr.get('gpos')!.ip);
      for (const g of FIXED_GUESTS) expect(addr.get(g.name)!.host).toBe(g.name); // our hostname option reached the server

      type Stats = { guests: Array<{ name: string; ipv4?: string; dhcp?: { state: string; address: string; server: string; leaseTimeS: number; t1RemainingS: number } }> };
      const stats = await waitFor('both guests bound in stats', () => {
        const s = JSON.parse(ns.exec([process.execPath, BIN, 'stats', '--json', '--control', ctl])) as Stats;
        return s.guests.every((g) => g.dhcp?.state === 'bound') ? s : undefined;
      }, 15_000, 300);
      for (const g of FIXED_GUESTS) {
        const s = stats.guests.find((x) => x.name === g.name)!;
        expect(s.dhcp!.address).toBe(`${addr.get(g.name)!.ip}/24`);
        expect(s.ipv4).toBe(`${addr.get(g.name)!.ip}/24`);
        expect(s.dhcp!.server).toBe('10.77.0.1');
        expect(s.dhcp!.leaseTimeS).toBe(120);
        expect(s.dhcp!.t1RemainingS).toBeGreaterThan(0);
        const p = probe(ns, addr.get(g.name)!.ip, { count: 3 });
        expect(p.received, `${g.name} on its lease ${addr.get(g.name)!.ip}`).toBe(3);
      }
      // One log line per guest when it took its lease (read from the pipe once the loop turns).
      const boundLines = (): Array<{ guest: string; address: string; server: string }> =>
        m!.stderr().split('\n').filter((l) => l.includes('"msg":"dhcp"') && l.includes('"state":"bound"')).map((l) => JSON.parse(l) as { guest: string; address: string; server: string });
      await waitFor('a "dhcp" bound log line per guest', () => boundLines().length >= 2, 5_000).catch(() => undefined);
      expect(boundLines().map((b) => [b.guest, b.address, b.server]).sort(), m.stderr()).toEqual(FIXED_GUESTS.map((g) => [g.name, addr.get(g.name)!.ip, '10.77.0.1']).sort());
      const text = ns.exec([process.execPath, BIN, 'stats', '--control', ctl]);
      expect(text).toMatch(/gpos: .*dhcp bound 10\.77\.0\.10[0-3]\/24 from 10\.77\.0\.1, lease 120 s/);
      console.log(`DHCP: rtos ${addr.get('rtos')!.ip}, gpos ${addr.get('gpos')!.ip} leased from dnsmasq and answering ping`);

      const { code, signal } = await terminate(m);
      expect({ code, signal }, m.stderr()).toEqual({ code: 0, signal: null });
      await waitFor('both leases gone from dnsmasq\'s lease file (RELEASE)', () => leases(leaseFile).length === 0, 10_000, 100).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(leases(leaseFile))}\ndnsmasq:\n${dnsmasqLog}`);
      });
      expect(dnsmasqLog).toMatch(/DHCPRELEASE\(nsbrd0\) 10\.77\.0\.10[0-3] 02:4e:53:00:00:0a/);
      expect(dnsmasqLog).toMatch(/DHCPRELEASE\(nsbrd0\) 10\.77\.0\.10[0-3] 02:4e:53:00:00:0b/);
    } finally {
      if (m) await stopChild(m.child);
      await ns.delete();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});
