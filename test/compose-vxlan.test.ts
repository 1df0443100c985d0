// examples/compose-vxlan.yaml checked without Docker: it is YAML a Compose file can be (read by
// PyYAML), each machine's command is a valid `nanoshare run` command line (the same parser as the
// CLI), the two VXLAN links point at each other's address on the Docker network with the same
// VNI, nothing asks for privileges a UDP socket does not need, and the four guests are distinct
// hosts on the overlay. (scripts/docker-smoke.sh is where Docker itself runs.)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFromArgs } from '../src/cli/args.js';
import { formatIpv4, formatMac } from '../src/wire/address.js';
import { requireNet } from './lab.js';

const FILE = fileURLToPath(new URL('../examples/compose-vxlan.yaml', import.meta.url));

interface Service {
  command: string[];
  networks: Record<string, { ipv4_address: string }>;
  cap_add?: string[];
  devices?: string[];
  privileged?: boolean;
  image: string;
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { ipam: { config: Array<{ subnet: string }> }; driver_opts?: Record<string, string> }>;
}

function load(): Compose | string {
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', FILE], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `python3 with PyYAML is needed to read YAML (apt-get install python3-yaml): ${r.error?.message ?? r.stderr.trim()}`;
  return JSON.parse(r.stdout) as Compose;
}

const loaded = load();
const why = typeof loaded === 'string' ? loaded : undefined;
if (why && requireNet) throw new Error(why);

describe.skipIf(why !== undefined)(`examples/compose-vxlan.yaml${why ? ` (skipped: ${why})` : ''}`, () => {
  const compose = loaded as Compose;

  it('two machines, each on the one network at an address of its own, no NET_ADMIN, TUN or privileges', () => {
    const names = Object.keys(compose.services);
    expect(names).toHaveLength(2);
    const nets = Object.keys(compose.networks);
    expect(nets).toHaveLength(1);
    for (const s of Object.values(compose.services)) {
      expect(Object.keys(s.networks)).toEqual(nets);
      expect(s.cap_add).toBeUndefined();
      expect(s.devices).toBeUndefined();
      expect(s.privileged).toBeUndefined();
      expect(s.image).toBe('nanoshare');
    }
    // VXLAN's 50 bytes of encapsulation fit: the network carries 1550-byte packets.
    expect(Number(compose.networks[nets[0]!]!.driver_opts?.['com.docker.network.driver.mtu'])).toBeGreaterThanOrEqual(1550);
  });

  it('each command is a valid `nanoshare run` line whose VXLAN link names the other machine as remote and itself as local, same VNI', () => {
    const services = Object.values(compose.services);
    const cfgs = services.map((s) => {
      const c = configFromArgs(s.command);
      if (c === 'help' || c.link.kind !== 'vxlan') throw new Error(`not a vxlan run: ${s.command.join(' ')}`);
      return { cfg: c, link: c.link, addr: Object.values(s.networks)[0]!.ipv4_address };
    });
    const [a, b] = cfgs as [(typeof cfgs)[0], (typeof cfgs)[0]];
    expect(a.link.vni).toBe(b.link.vni);
    expect(a.link.remotes).toEqual([{ addr: b.addr, port: 4789 }]);
    expect(b.link.remotes).toEqual([{ addr: a.addr, port: 4789 }]);
    expect(a.link.local).toEqual({ addr: a.addr, port: 4789 });
    expect(b.link.local).toEqual({ addr: b.addr, port: 4789 });
    // Four distinct hosts on the overlay: no MAC or address twice across the two machines.
    const guests = cfgs.flatMap((c) => c.cfg.guests);
    expect(new Set(guests.map((g) => formatMac(g.mac))).size).toBe(4);
    expect(new Set(guests.map((g) => g.ipv4.addr)).size).toBe(4);
    // The telemetry of the first machine's rtos goes to a guest of the second, which runs UDP echo.
    const telemetry = a.cfg.guests.find((g) => g.os === 'rtos')!.control?.telemetry;
    expect(telemetry).toBeDefined();
    const target = b.cfg.guests.find((g) => g.ipv4.addr === telemetry!.dst);
    expect(target, `telemetry to ${formatIpv4(telemetry!.dst)}`).toBeDefined();
    expect(target!.echo).toBe(true);
    expect(telemetry!.port).toBe(7);
  });
});
