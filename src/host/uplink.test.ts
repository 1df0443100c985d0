import { describe, expect, it } from 'vitest';
import { setupUplink, type IpCommand } from './uplink.js';

// A fake `ip`: answers the `-j ... show` queries from a small model of the interfaces and records
// every command, so the tests check what would be run, in order, without touching the system.
interface FakeDev {
  ifname: string;
  address?: string;
  mtu?: number;
  master?: string;
  link_type?: string;
  linkinfo?: { info_kind: string };
  addr_info?: Array<Record<string, unknown>>;
}

function fakeIp(devs: FakeDev[], routes: Array<Record<string, unknown>>, opts: { failOn?: (args: string[]) => boolean; routes6?: Array<Record<string, unknown>> } = {}) {
  const calls: string[] = [];
  const ip: IpCommand = async (args) => {
    const cmd = args.join(' ');
    calls.push(cmd);
    if (opts.failOn?.(args)) throw new Error(`RTNETLINK answers: Operation not permitted\n`);
    const show = cmd.match(/^-j -d (addr|link) show dev (\S+)$/);
    if (show) {
      const d = devs.find((x) => x.ifname === show[2]);
      if (!d) throw new Error(`Device "${show[2]}" does not exist.`);
      return JSON.stringify([{ ...d, addr_info: show[1] === 'addr' ? (d.addr_info ?? []) : undefined }]);
    }
    if (cmd === '-j route show') return JSON.stringify(routes);
    if (cmd === '-j -6 route show') return JSON.stringify(opts.routes6 ?? []);
    if (args.includes('-j')) throw new Error(`fake ip: unexpected query ${cmd}`);
    return '';
  };
  return { ip, calls, mutations: () => calls.filter((c) => !c.startsWith('-j')) };
}

const eth0: FakeDev = {
  ifname: 'eth0',
  address: '02:42:ac:1c:00:02',
  mtu: 1500,
  link_type: 'ether',
  linkinfo: { info_kind: 'veth' },
  addr_info: [
    { family: 'inet', local: '172.28.0.2', prefixlen: 16, broadcast: '172.28.255.255', scope: 'global', label: 'eth0' },
    { family: 'inet6', local: 'fe80::42:acff:fe1c:2', prefixlen: 64, scope: 'link' },
  ],
};
const dockerRoutes = [
  { dst: 'default', gateway: '172.28.0.1', dev: 'eth0', flags: [] },
  { dst: '172.28.0.0/16', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '172.28.0.2', flags: [] },
];
const opts = { uplink: 'eth0', tap: 'nstap0', bridge: 'nsbr0' };

describe('setupUplink', () => {
  it('moves the address and the default route to a new bridge and attaches the uplink and a new TAP', async () => {
    const f = fakeIp([eth0], dockerRoutes);
    await setupUplink(f.ip, opts);
    expect(f.mutations()).toEqual([
      'link add name nsbr0 mtu 1500 type bridge forward_delay 0 stp_state 0',
      'link set dev nsbr0 address 02:42:ac:1c:00:02',
      'route del default via 172.28.0.1 dev eth0',
      'addr del 172.28.0.2/16 dev eth0',
      'link set dev eth0 master nsbr0',
      'link set dev eth0 up',
      'link set dev nsbr0 up',
      'addr add 172.28.0.2/16 broadcast 172.28.255.255 dev nsbr0',
      'route replace default via 172.28.0.1 dev nsbr0',
      'tuntap add dev nstap0 mode tap',
      'link set dev nstap0 master nsbr0',
      'link set dev nstap0 up',
    ]);
  });

  it('teardown puts everything back, once', async () => {
    const f = fakeIp([eth0], dockerRoutes);
    const teardown = await setupUplink(f.ip, opts);
    const before = f.mutations().length;
    await teardown();
    expect(f.mutations().slice(before)).toEqual([
      'link del dev nstap0',
      'link set dev eth0 nomaster',
      'link del dev nsbr0',
      'addr add 172.28.0.2/16 broadcast 172.28.255.255 dev eth0',
      'route replace default via 172.28.0.1 dev eth0',
    ]);
    const after = f.calls.length;
    await teardown();
    expect(f.calls.length).toBe(after);
  });

  it('attaches an existing TAP and only detaches it on teardown', async () => {
    const f = fakeIp([eth0, { ifname: 'nstap0', link_type: 'ether', linkinfo: { info_kind: 'tun' } }], dockerRoutes);
    const teardown = await setupUplink(f.ip, opts);
    expect(f.mutations()).not.toContain('tuntap add dev nstap0 mode tap');
    expect(f.mutations()).toContain('link set dev nstap0 master nsbr0');
    const before = f.mutations().length;
    await teardown();
    expect(f.mutations().slice(before)[0]).toBe('link set dev nstap0 nomaster');
    expect(f.mutations()).not.toContain('link del dev nstap0');
  });

  it('keeps metrics, protocols and source of static routes, and moves global IPv6 addresses', async () => {
    const dev: FakeDev = {
      ...eth0,
      addr_info: [...(eth0.addr_info ?? []), { family: 'inet6', local: 'fd00:28::2', prefixlen: 64, scope: 'global' }],
    };
    const routes = [
      { dst: 'default', gateway: '172.28.0.1', dev: 'eth0', protocol: 'dhcp', metric: 100, prefsrc: '172.28.0.2' },
      { dst: '10.9.0.0/16', gateway: '172.28.0.254', dev: 'eth0', protocol: 'static' },
      { dst: '192.168.7.0/24', dev: 'other0', protocol: 'kernel' },
      ...dockerRoutes.slice(1),
    ];
    const routes6 = [
      { dst: 'fd00:28::/64', dev: 'eth0', protocol: 'kernel', metric: 256 },
      { dst: 'fe80::/64', dev: 'eth0', protocol: 'kernel', metric: 256 },
      { dst: 'default', gateway: 'fd00:28::1', dev: 'eth0', metric: 1024 },
    ];
    const f = fakeIp([dev], routes, { routes6 });
    await setupUplink(f.ip, opts);
    const m = f.mutations();
    expect(m).toContain('route del default via 172.28.0.1 dev eth0 metric 100 proto dhcp');
    expect(m).toContain('route replace default via 172.28.0.1 dev nsbr0 metric 100 proto dhcp src 172.28.0.2');
    expect(m).toContain('route replace 10.9.0.0/16 via 172.28.0.254 dev nsbr0 proto static');
    expect(m).toContain('-6 addr add fd00:28::2/64 nodad dev nsbr0');
    expect(m).toContain('-6 route replace default via fd00:28::1 dev nsbr0 metric 1024');
    expect(m.filter((c) => c.includes('fe80') || c.includes('192.168.7.0'))).toEqual([]);
    // The routes go back on the bridge only after its addresses (the gateway must be on-link).
    expect(m.indexOf('addr add 172.28.0.2/16 broadcast 172.28.255.255 dev nsbr0')).toBeLessThan(
      m.indexOf('route replace default via 172.28.0.1 dev nsbr0 metric 100 proto dhcp src 172.28.0.2'),
    );
  });

  it('names the interface when the uplink does not exist', async () => {
    const f = fakeIp([], []);
    await expect(setupUplink(f.ip, opts)).rejects.toThrow(/uplink eth0 not found/);
    expect(f.mutations()).toEqual([]);
  });

  it('refuses an uplink already on a bridge, a bridge that exists, a busy TAP and bad names', async () => {
    await expect(setupUplink(fakeIp([{ ...eth0, master: 'br9' }], []).ip, opts)).rejects.toThrow(/uplink eth0 is already attached to br9/);
    await expect(setupUplink(fakeIp([eth0, { ifname: 'nsbr0' }], []).ip, opts)).rejects.toThrow(/bridge nsbr0 already exists/);
    await expect(setupUplink(fakeIp([eth0, { ifname: 'nstap0', master: 'docker0' }], []).ip, opts)).rejects.toThrow(
      /tap nstap0 is already attached to docker0/,
    );
    await expect(setupUplink(fakeIp([{ ...eth0, linkinfo: { info_kind: 'bridge' } }], []).ip, opts)).rejects.toThrow(/uplink eth0 is itself a bridge/);
    await expect(setupUplink(fakeIp([eth0], []).ip, { ...opts, bridge: 'a-very-long-bridge-name' })).rejects.toThrow(/bridge name/);
    await expect(setupUplink(fakeIp([eth0], []).ip, { ...opts, tap: 'eth0' })).rejects.toThrow(/three different/);
  });

  it('rolls back what it did when a step fails, and says which interface failed', async () => {
    const f = fakeIp([eth0], dockerRoutes, { failOn: (a) => a.join(' ') === 'link set dev eth0 master nsbr0' });
    await expect(setupUplink(f.ip, opts)).rejects.toThrow(/uplink eth0: cannot attach it to bridge nsbr0: RTNETLINK answers: Operation not permitted/);
    const m = f.mutations();
    expect(m.slice(m.indexOf('link set dev eth0 master nsbr0') + 1)).toEqual([
      'link del dev nsbr0',
      'addr add 172.28.0.2/16 broadcast 172.28.255.255 dev eth0',
      'route replace default via 172.28.0.1 dev eth0',
    ]);
  });

  it('reports a rollback that fails too, and a teardown that is incomplete', async () => {
    const failing = fakeIp([eth0], dockerRoutes, {
      failOn: (a) => ['tuntap add dev nstap0 mode tap', 'link del dev nsbr0'].includes(a.join(' ')),
    });
    await expect(setupUplink(failing.ip, opts)).rejects.toThrow(/tap nstap0: cannot create it.*rollback failed: .*bridge nsbr0: delete/);

    let broken = false;
    const f = fakeIp([eth0], dockerRoutes, { failOn: (a) => broken && a.join(' ') === 'link set dev eth0 nomaster' });
    const teardown = await setupUplink(f.ip, opts);
    broken = true;
    await expect(teardown()).rejects.toThrow(/uplink eth0 teardown incomplete: uplink eth0: detach from nsbr0/);
    // It still tried the rest.
    expect(f.mutations()).toContain('route replace default via 172.28.0.1 dev eth0');
  });
});
