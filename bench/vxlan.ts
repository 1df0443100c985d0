// `npm run bench -- vxlan [--json] [--rounds N] [--low-count N] [--user-count N] [--rate-seconds S] [--window N]`:
// what the VXLAN link costs against the TAP link, measured in one run with the same instrument and
// method as `bench floor` (test/icmp-probe.mjs in the probing namespace; RTT p50/p99 at a probe
// every 2 ms and every 200 ms, echo rate under a flood with a fixed window in flight, the
// responder's CPU time per reply; rounds interleaved, medians quoted). All in lab namespaces:
//   A ("host A", the prober): bridge br0 10.77.0.1/24 with a kernel vxlan device vx0 on it (VNI 42,
//     dstport 4789, learning), and the underlay bridge ul0 10.99.0.1/24 with a veth to B and to C;
//     the TAP machine runs here, its TAP on br0 (guests 10.77.0.10 and .11);
//   B: the VXLAN machine, `--link vxlan://10.99.0.1?vni=42&local=10.99.0.2:4789` (guests .20 and .21);
//   C: the peer, Linux's own stack behind a kernel vxlan (10.77.0.40 on vx0, underlay 10.99.0.3):
//     what the overlay itself costs without nanoshare.
// Bounded: the defaults take about a minute and a half on a quiet 2-core VM.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Netns, labUnavailableReason, stopChild } from '../test/lab.js';
import { BenchArgError, Probe, cpuUs, median, parseBenchFlags, rssMb, rttFigures, table } from './floor.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'nanoshare');

export interface VxlanBenchOptions {
  json: boolean;
  rounds: number;
  lowCount: number;
  userCount: number;
  rateSeconds: number;
  window: number;
}

const DEFAULTS: VxlanBenchOptions = { json: false, rounds: 2, lowCount: 300, userCount: 10, rateSeconds: 3, window: 32 };

const VNI = 42;
const UNDERLAY = { a: '10.99.0.1', b: '10.99.0.2', c: '10.99.0.3' };
const TAP_MACHINE = { rtos: '10.77.0.10', gpos: '10.77.0.11' };
const VXLAN_MACHINE = { rtos: '10.77.0.20', gpos: '10.77.0.21', macs: ['02:4e:53:00:01:0a', '02:4e:53:00:01:0b'] };
const KERNEL_IP = '10.77.0.40';

type RowName = 'tapRtos' | 'tapGpos' | 'vxlanRtos' | 'vxlanGpos' | 'kernel';
const ROWS: readonly RowName[] = ['tapRtos', 'tapGpos', 'vxlanRtos', 'vxlanGpos', 'kernel'];
const LABEL: Record<RowName, string> = {
  tapRtos: 'nanoshare rtos, TAP link (on A\'s bridge)',
  tapGpos: 'nanoshare gpos, TAP link (on A\'s bridge)',
  vxlanRtos: 'nanoshare rtos, VXLAN link (host B)',
  vxlanGpos: 'nanoshare gpos, VXLAN link (host B)',
  kernel: 'peer: Linux behind a kernel vxlan (host C)',
};

interface Row {
  bootMs: number;
  low: { p50: number; p99: number; loss: number };
  user: { p50: number; p99: number; loss: number };
  floodRate: number;
  cpuUsPerReply: number;
  rssMb: number;
}

const nanRow = (): Row => ({ bootMs: NaN, low: { p50: NaN, p99: NaN, loss: 0 }, user: { p50: NaN, p99: NaN, loss: 0 }, floodRate: NaN, cpuUsPerReply: NaN, rssMb: NaN });

interface Lab {
  a: Netns;
  b: Netns;
  c: Netns;
  probe: Probe;
  dir: string;
  o: VxlanBenchOptions;
}

function setUpLab(a: Netns, b: Netns, c: Netns): void {
  // Underlay: A's bridge ul0 with a veth to B and one to C.
  a.exec(['ip', 'link', 'add', 'ul0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  a.exec(['ip', 'addr', 'add', `${UNDERLAY.a}/24`, 'dev', 'ul0']);
  a.exec(['ip', 'link', 'set', 'ul0', 'up']);
  for (const [peer, ip, here] of [[b, UNDERLAY.b, 'ul-b'], [c, UNDERLAY.c, 'ul-c']] as const) {
    a.exec(['ip', 'link', 'add', here, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer.name]);
    a.exec(['ip', 'link', 'set', here, 'master', 'ul0', 'up']);
    peer.exec(['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    peer.exec(['ip', 'link', 'set', 'eth0', 'up']);
  }
  // Overlay on A: the kernel's vxlan on br0, flooding to B and C, learning which MAC is behind which.
  a.exec(['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', UNDERLAY.a, 'dstport', '4789']);
  for (const ip of [UNDERLAY.b, UNDERLAY.c]) a.exec(['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', ip]);
  a.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  a.exec(['ip', 'link', 'set', 'vx0', 'master', 'br0', 'up']);
  a.exec(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
  a.exec(['ip', 'link', 'set', 'br0', 'up']);
  // C: Linux's own stack on the same VNI.
  c.exec(['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', UNDERLAY.c, 'remote', UNDERLAY.a, 'dstport', '4789']);
  c.exec(['ip', 'addr', 'add', `${KERNEL_IP}/24`, 'dev', 'vx0']);
  c.exec(['ip', 'link', 'set', 'vx0', 'up']);
  // Static neighbours on the probing side, as bench floor does: exec-to-first-reply must not wait
  // for the kernel's 1 s ARP retry when the first probe beats the machine's boot.
  const kernelMac = (JSON.parse(c.exec(['ip', '-j', 'link', 'show', 'vx0'])) as Array<{ address: string }>)[0]!.address;
  for (const [ip, mac] of [
    [TAP_MACHINE.rtos, '02:4e:53:00:00:0a'], [TAP_MACHINE.gpos, '02:4e:53:00:00:0b'],
    [VXLAN_MACHINE.rtos, VXLAN_MACHINE.macs[0]!], [VXLAN_MACHINE.gpos, VXLAN_MACHINE.macs[1]!], [KERNEL_IP, kernelMac],
  ] as const) a.exec(['ip', 'neigh', 'replace', ip, 'lladdr', mac, 'dev', 'br0', 'nud', 'permanent']);
}

const hrNs = (): number => Number(process.hrtime.bigint());

/** Start a machine in `ns` and wait for its rtos's first echo reply; exec-to-reply in ms. */
async function boot(lab: Lab, ns: Netns, rtosIp: string, args: string[]): Promise<{ child: ChildProcess; bootMs: number }> {
  const first = lab.probe.first(rtosIp);
  const t0 = hrNs();
  // No boot probe (exec-to-first-reply measures the machine, as in bench floor); MACs as the
  // static neighbours name them.
  const child = ns.spawn([process.execPath, '--single-threaded-gc', BIN, 'run', '--stats-interval', '0', '--log-level', 'warn', '--address-probe', 'off', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const r = await first;
  if (r.atNs === null) {
    await stopChild(child);
    throw new Error(`the machine in ${ns.name} did not answer within 20 s`);
  }
  return { child, bootMs: (r.atNs - t0) / 1e6 };
}

/** RTT at both rates and a flood, for one address; CPU per reply of `pid` (the responder) when given. */
async function measure(lab: Lab, ip: string, row: Row, pid: number | undefined): Promise<void> {
  const { probe, o } = lab;
  await probe.rtt(ip, 3, 5); // ARP and the overlay's first flood are not part of the RTT
  row.low = rttFigures(await probe.rtt(ip, o.lowCount, 2));
  row.user = rttFigures(await probe.rtt(ip, o.userCount, 200));
  const c0 = cpuUs(pid);
  const fl = await probe.flood(ip, o.rateSeconds, o.window);
  row.floodRate = fl.rate;
  row.cpuUsPerReply = (cpuUs(pid) - c0) / fl.received;
  row.rssMb = rssMb(pid);
}

async function roundMachine(lab: Lab, ns: Netns, ips: { rtos: string; gpos: string }, args: string[], rtos: Row, gpos: Row): Promise<void> {
  const { child, bootMs } = await boot(lab, ns, ips.rtos, args);
  try {
    rtos.bootMs = gpos.bootMs = bootMs;
    await measure(lab, ips.rtos, rtos, child.pid);
    await measure(lab, ips.gpos, gpos, child.pid);
  } finally {
    await stopChild(child);
  }
}

async function round(lab: Lab): Promise<Record<RowName, Row>> {
  const rows = Object.fromEntries(ROWS.map((n) => [n, nanRow()])) as Record<RowName, Row>;
  await roundMachine(lab, lab.a, TAP_MACHINE, ['--tap', 'nsvxtap0', '--bridge', 'br0', '--control', join(lab.dir, 'tap.sock'), '--rtos-mac', '02:4e:53:00:00:0a', '--gpos-mac', '02:4e:53:00:00:0b'], rows.tapRtos, rows.tapGpos);
  await roundMachine(lab, lab.b, VXLAN_MACHINE, [
    '--link', `vxlan://${UNDERLAY.a}?vni=${VNI}&local=${UNDERLAY.b}:4789`, '--control', join(lab.dir, 'vxlan.sock'),
    '--rtos-ip', `${VXLAN_MACHINE.rtos}/24`, '--gpos-ip', `${VXLAN_MACHINE.gpos}/24`, '--rtos-mac', VXLAN_MACHINE.macs[0]!, '--gpos-mac', VXLAN_MACHINE.macs[1]!,
  ], rows.vxlanRtos, rows.vxlanGpos);
  await measure(lab, KERNEL_IP, rows.kernel, undefined);
  return rows;
}

export interface VxlanSummary {
  rows: Record<RowName, { bootMs: number; lowP50: number; lowP99: number; userP50: number; userP99: number; loss: number; floodRate: number; cpuUsPerReply: number; rssMb: number }>;
}

export function summarizeVxlan(rounds: ReadonlyArray<Record<RowName, Row>>): VxlanSummary {
  const rows = {} as VxlanSummary['rows'];
  for (const n of ROWS) {
    const med = (get: (r: Row) => number): number => median(rounds.map((r) => get(r[n])));
    rows[n] = {
      bootMs: med((r) => r.bootMs), lowP50: med((r) => r.low.p50), lowP99: med((r) => r.low.p99), userP50: med((r) => r.user.p50), userP99: med((r) => r.user.p99),
      loss: rounds.reduce((a, r) => a + r[n].low.loss + r[n].user.loss, 0), floodRate: med((r) => r.floodRate), cpuUsPerReply: med((r) => r.cpuUsPerReply), rssMb: med((r) => r.rssMb),
    };
  }
  return { rows };
}

const f = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const k = (x: number): string => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)} k/s` : '-');

export function reportVxlan(o: VxlanBenchOptions, s: VxlanSummary, load: { before: number[]; after: number[] }): string {
  const out: string[] = [];
  out.push(`nanoshare bench vxlan: ${o.rounds} rounds interleaved (TAP machine, VXLAN machine, kernel peer), medians; RTT from ${o.lowCount} probes every 2 ms and ${o.userCount} every 200 ms; floods ${o.rateSeconds} s with ${o.window} in flight; prober on host A's bridge`);
  out.push(`machine: ${cpus().length} cpus, load average ${load.before.map((x) => x.toFixed(2)).join(' ')} before, ${load.after.map((x) => x.toFixed(2)).join(' ')} after`);
  out.push('');
  out.push(table([
    ['responder', 'exec to 1st reply ms', 'RTT p50/p99 ms @2 ms', 'RTT p50/p99 ms @200 ms', 'flood echo/s', 'CPU us/reply', 'RSS MB', 'unanswered'],
    ...ROWS.map((n) => {
      const r = s.rows[n];
      return [LABEL[n], f(r.bootMs, 1), `${f(r.lowP50)}/${f(r.lowP99)}`, `${f(r.userP50)}/${f(r.userP99)}`, k(r.floodRate), f(r.cpuUsPerReply, 1), f(r.rssMb, 1), String(r.loss)];
    }),
  ]));
  out.push('');
  for (const g of ['Rtos', 'Gpos'] as const) {
    const t = s.rows[`tap${g}`];
    const v = s.rows[`vxlan${g}`];
    out.push(`${g.toLowerCase()}: VXLAN / TAP: RTT p50 @2 ms ${f(v.lowP50 / t.lowP50, 2)}x, flood echo rate ${f(v.floodRate / t.floodRate, 2)}x, CPU per reply ${f(v.cpuUsPerReply / t.cpuUsPerReply, 2)}x`);
  }
  return out.join('\n') + '\n';
}

export async function benchVxlan(argv: readonly string[] = []): Promise<number> {
  let o: VxlanBenchOptions;
  try {
    o = parseBenchFlags('vxlan', argv, DEFAULTS, { '--rounds': 'rounds', '--low-count': 'lowCount', '--user-count': 'userCount', '--rate-seconds': 'rateSeconds', '--window': 'window' });
  } catch (e) {
    if (!(e instanceof BenchArgError)) throw e;
    process.stderr.write(e.message + '\n');
    return 2;
  }
  const why = labUnavailableReason(['bridge']);
  if (why) {
    process.stderr.write(`bench vxlan: cannot run: ${why}\n`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nanoshare-replay-bench-vxlan-'));
  const a = Netns.create('replay-vxa');
  const b = Netns.create('replay-vxb');
  const c = Netns.create('replay-vxc');
  const probe = new Probe(a);
  const lab: Lab = { a, b, c, probe, dir, o };
  const before = loadavg();
  try {
    setUpLab(a, b, c);
    const rounds: Array<Record<RowName, Row>> = [];
    for (let i = 0; i < o.rounds; i++) {
      rounds.push(await round(lab));
      process.stderr.write(`bench vxlan: round ${i + 1}/${o.rounds} done\n`);
    }
    const summary = summarizeVxlan(rounds);
    const load = { before, after: loadavg() };
    if (o.json) {
      process.stdout.write(JSON.stringify({ options: o, cpus: cpus().length, load, summary, rounds }, null, 2) + '\n');
      process.stderr.write(reportVxlan(o, summary, load));
    } else process.stdout.write(reportVxlan(o, summary, load));
    return 0;
  } finally {
    probe.close();
    await Promise.all([a.delete(), b.delete(), c.delete()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
