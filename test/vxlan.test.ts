// System test of the VXLAN link (issue 11), all inside lab namespaces this test creates:
//   host A: a Linux bridge (10.77.0.1/24) with a kernel vxlan device (VNI 42, dstport 4789) on it,
//           and an underlay bridge 10.99.0.1/24 with a veth to each of B and C;
//   host B: `nanoshare run --link vxlan://10.99.0.1,10.99.0.3?vni=42&local=10.99.0.2:4789`
//           (guests 10.77.0.10 and .11);
//   host C: a second machine on the same VNI (guests 10.77.0.20 and .21).
// A client on A's bridge pings (ICMP echo, test/icmp-probe.mjs) every guest through the overlay (so the kernel's bytes and ours
// agree both ways); C's rtos sends telemetry to B's gpos UDP echo, and B's echo counter and C's
// UDP receive counter show that a guest of one machine reached a guest of the other and back.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns, probe, skipLab, waitFor } from './lab.js';
import { BIN, startMachine, terminate, type Running } from './machine-process.js';

const skip = skipLab(['bridge']);

interface Stats {
  link: { name: string; rxWrongVni: number; fdbLearned: number; txUnicast: number; txFlooded: number };
  guests: Array<{ name: string; net: { udpRx: number }; echo?: { datagrams: number } }>;
}

function stats(ns: Netns, ctl: string): Stats {
  return JSON.parse(ns.exec([process.execPath, BIN, 'stats', '--json', '--control', ctl])) as Stats;
}

function machineConfig(names: [string, string], ips: [string, string], macs: [string, string]): string {
  return JSON.stringify({
    statsInterval: 0,
    guests: [
      { name: names[0], os: 'rtos', mac: macs[0], ipv4: `${ips[0]}/24` },
      { name: names[1], os: 'gpos', mac: macs[1], ipv4: `${ips[1]}/24` },
    ],
  });
}

describe.skipIf(skip)('system: VXLAN link to a kernel vxlan on a Linux bridge, and to another machine', () => {
  it('a client on the bridge pings every guest of both machines; a guest of C reaches the UDP echo of a guest of B', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-scale-vxlan-'));
    const a = Netns.create('scale-vxa');
    const b = Netns.create('scale-vxb');
    const c = Netns.create('scale-vxc');
    const machines: Running[] = [];
    try {
      // Underlay: A's bridge ul0 (10.99.0.1) with a veth to B (10.99.0.2) and one to C (10.99.0.3).
      a.exec(['ip', 'link', 'add', 'ul0', 'type', 'bridge']);
      a.exec(['ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'ul0']);
      a.exec(['ip', 'link', 'set', 'ul0', 'up']);
      for (const [peer, ip] of [[b, '10.99.0.2'], [c, '10.99.0.3']] as const) {
        const here = `ul-${peer === b ? 'b' : 'c'}`;
        a.exec(['ip', 'link', 'add', here, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer.name]);
        a.exec(['ip', 'link', 'set', here, 'master', 'ul0', 'up']);
        peer.exec(['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        peer.exec(['ip', 'link', 'set', 'eth0', 'up']);
      }
      // Overlay on A: the kernel's vxlan (VNI 42, port 4789), flood list B and C, on bridge br0.
      a.exec(['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', '10.99.0.1', 'dstport', '4789', 'nolearning']);
      for (const ip of ['10.99.0.2', '10.99.0.3']) a.exec(['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', ip]);
      a.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge']);
      a.exec(['ip', 'link', 'set', 'vx0', 'master', 'br0', 'up']);
      a.exec(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
      a.exec(['ip', 'link', 'set', 'br0', 'up']);

      const cfgB = join(tmp, 'b.json');
      const cfgC = join(tmp, 'c.json');
      writeFileSync(cfgB, machineConfig(['rtos', 'gpos'], ['10.77.0.10', '10.77.0.11'], ['02:4e:53:00:00:0a', '02:4e:53:00:00:0b']));
      writeFileSync(cfgC, machineConfig(['rtos', 'gpos'], ['10.77.0.20', '10.77.0.21'], ['02:4e:53:00:01:0a', '02:4e:53:00:01:0b']));
      const ctlB = join(tmp, 'b.sock');
      const ctlC = join(tmp, 'c.sock');
      const mb = await startMachine(b, ['--config', cfgB, '--link', 'vxlan://10.99.0.1,10.99.0.3?vni=42&local=10.99.0.2:4789', '--control', ctlB]);
      machines.push(mb);
      expect(mb.ready).toMatchObject({ link: 'vxlan', vni: 42 });
      expect(mb.ready.tap).toBeUndefined();
      // C's rtos sends a telemetry datagram to B's gpos echo every 10 ms.
      const mc = await startMachine(c, ['--config', cfgC, '--link', 'vxlan://10.99.0.1,10.99.0.2?vni=42&local=10.99.0.3:4789', '--control', ctlC, '--telemetry', '10.77.0.11:7', '--control-period', '10000']);
      machines.push(mc);

      for (const ip of ['10.77.0.10', '10.77.0.11', '10.77.0.20', '10.77.0.21']) {
        const r = a.run(['ping', '-n', '-c3', '-i0.2', '-W2', ip], 15_000); 
        expect(r.status, `ping ${ip} from host A: ${r.stdout}${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(/3 packets transmitted, 3 received/);
      }
      // Host A's bridge learned all four guests behind its vxlan port.
      const fdb = a.exec(['bridge', 'fdb', 'show', 'dev', 'vx0']);
      for (const mac of ['02:4e:53:00:00:0a', '02:4e:53:00:00:0b', '02:4e:53:00:01:0a', '02:4e:53:00:01:0b']) expect(fdb).toMatch(new RegExp(`^${mac} master br0`, 'm'));

      // Guest to guest across machines: B's gpos echoes C's rtos telemetry, C's rtos receives it.
      const sb = await waitFor('B gpos echoing C rtos telemetry', () => {
        const s = stats(b, ctlB);
        const echoed = s.guests.find((g) => g.name === 'gpos')?.echo?.datagrams ?? 0;
        return echoed >= 3 ? s : undefined;
      }, 10_000, 200);
      expect(sb.guests.find((g) => g.name === 'gpos')!.echo!.datagrams).toBeGreaterThanOrEqual(3);
      const sc = stats(c, ctlC);
      expect(sc.guests.find((g) => g.name === 'rtos')!.net.udpRx).toBeGreaterThanOrEqual(1);
      // B learned where A's bridge and C's guests are, and answered them by unicast, not flooding.
      expect(sb.link).toMatchObject({ name: 'vxlan42', rxWrongVni: 0 });
      expect(sb.link.fdbLearned).toBeGreaterThanOrEqual(2);
      expect(sb.link.txUnicast).toBeGreaterThan(sb.link.txFlooded);

      // Another VNI from the same VTEP: B drops it and counts it, delivering nothing.
      a.exec(['ip', 'link', 'add', 'vx43', 'type', 'vxlan', 'id', '43', 'local', '10.99.0.1', 'dstport', '4789', 'remote', '10.99.0.2']);
      a.exec(['ip', 'addr', 'add', '10.78.0.1/24', 'dev', 'vx43']);
      a.exec(['ip', 'link', 'set', 'vx43', 'up']);
      expect(probe(a, '10.78.0.10', { count: 2, intervalMs: 200, timeoutMs: 1000 }).received).toBe(0);
      expect(stats(b, ctlB).link.rxWrongVni).toBeGreaterThanOrEqual(1);

      for (const m of machines.splice(0)) expect((await terminate(m)).code).toBe(0);
    } finally {
      for (const m of machines) await terminate(m).catch(() => undefined);
      await Promise.all([a.delete(), b.delete(), c.delete()]);
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});
