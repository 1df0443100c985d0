// `npm run bench -- cpu`: one processor, two OSes, measured. In a lab namespace of its own, it
// runs the machine and measures the rtos's ping RTT and its control task's release lateness
// (a) idle, (b) while the gpos is flood-pinged from the host, (c) while the gpos transmits at
// full rate; then the TX byte shares under `weighted` 3:1 with both guests saturating a
// 100 Mbit/s line. The peer, measured in the same run and phase: Linux's own stack, a
// namespace behind a veth pair, pinged the same way.
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { Netns, stopChild, waitFor, labUnavailableReason } from '../test/lab.js';
import { table } from './table.js';

const BIN = join(process.cwd(), 'bin', 'nanoshare');
const RTOS = '10.77.0.10';
const GPOS = '10.77.0.11';
const PEER = '10.78.0.2';
const PHASE_S = Number(process.env.BENCH_PHASE_S ?? 5);
const PING_INTERVAL_S = 0.01;

interface Machine {
  child: ChildProcess;
  control: string;
  stderr: string[];
}

interface PingResult {
  sent: number;
  received: number;
  rtts: number[];
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

async function startMachine(ns: Netns, dir: string, args: string[]): Promise<Machine> {
  const control = join(dir, `ctl-${Date.now()}.sock`);
  // As `npm start` and the bin's shebang run it.
  const child = ns.spawn(['node', '--single-threaded-gc', BIN, 'run', '--control', control, '--stats-interval', '0', ...args]);
  const stderr: string[] = [];
  let ready = false;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr.push(d);
    if (d.includes('"msg":"ready"')) ready = true;
  });
  await waitFor('the machine to be ready', () => ready || child.exitCode !== null, 20_000);
  if (!ready) throw new Error(`nanoshare exited early: ${stderr.join('')}`);
  return { child, control, stderr };
}

function request(ns: Netns, m: Machine, what: 'stats' | 'reset-lateness'): Record<string, unknown> {
  const out = what === 'stats' ? ns.exec(['node', BIN, 'stats', '--json', '--control', m.control]) : ns.exec(['node', '-e', `const s=require('net').createConnection(${JSON.stringify(m.control)});s.on('connect',()=>s.write('reset-lateness\\n'));s.pipe(process.stdout)`]);
  return JSON.parse(out) as Record<string, unknown>;
}

/** Ping `ip` from the namespace at 100 per second for the phase; parse every RTT. */
function pingAsync(ns: Netns, ip: string, seconds: number): Promise<PingResult> {
  const count = Math.round(seconds / PING_INTERVAL_S);
  const child = ns.spawn(['ping', '-n', '-c', String(count), '-i', String(PING_INTERVAL_S), '-W', '1', ip]);
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (out += d));
  return new Promise((resolve) => {
    child.on('exit', () => {
      const rtts = [...out.matchAll(/time=([0-9.]+) ms/g)].map((m) => Number(m[1]));
      const sum = /([0-9]+) packets transmitted, ([0-9]+) received/.exec(out);
      resolve({ sent: sum ? Number(sum[1]) : count, received: sum ? Number(sum[2]) : rtts.length, rtts });
    });
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Domain {
  name: string;
  cpu: { busyUs: number; quanta: number; preemptions: number; framesHandled: number };
  port: { txBytes: number; txFrames: number; rxFrames: number; rxQueueFull: number };
}
interface Snapshot {
  uptimeUs: number;
  domains: Domain[];
  guests: Array<{ name: string; control?: { lateness: { p50Us: number; p99Us: number; maxUs: number; count: number } } }>;
}

interface Row {
  phase: string;
  rtos: PingResult;
  peer: PingResult;
  lateness: { p50Us: number; p99Us: number; maxUs: number; count: number };
  gposCpuPct: number;
  rtosCpuPct: number;
  gposFrames: number;
  gposTxMbps: number;
  rssMb: number;
}

async function phase(ns: Netns, peerNs: Netns, m: Machine, name: string, load?: () => ChildProcess | undefined): Promise<Row> {
  const loader = load?.();
  await new Promise((r) => setTimeout(r, 300)); // let the load reach steady state
  const before = request(ns, m, 'stats') as unknown as Snapshot;
  request(ns, m, 'reset-lateness');
  const [rtos, peer] = await Promise.all([pingAsync(ns, RTOS, PHASE_S), pingAsync(ns, PEER, PHASE_S)]);
  const after = request(ns, m, 'stats') as unknown as Snapshot;
  if (loader) await stopChild(loader, 1000);
  const dt = after.uptimeUs - before.uptimeUs;
  const dom = (s: Snapshot, n: string): Domain => s.domains.find((d) => d.name === n)!;
  const cpu = (n: string): number => (100 * (dom(after, n).cpu.busyUs - dom(before, n).cpu.busyUs)) / dt;
  void peerNs;
  return {
    phase: name,
    rtos,
    peer,
    lateness: after.guests.find((g) => g.name === 'rtos')!.control!.lateness,
    gposCpuPct: cpu('gpos'),
    rtosCpuPct: cpu('rtos'),
    gposFrames: dom(after, 'gpos').cpu.framesHandled - dom(before, 'gpos').cpu.framesHandled,
    gposTxMbps: ((dom(after, 'gpos').port.txBytes - dom(before, 'gpos').port.txBytes) * 8) / dt,
    rssMb: rssMb(m.child.pid!),
  };
}


const f = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

export async function benchCpu(): Promise<number> {
  const why = labUnavailableReason(['ping']);
  if (why) {
    process.stderr.write(`bench cpu: cannot run: ${why}\n`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nanoshare-bench-'));
  const ns = Netns.create('bench');
  const peerNs = Netns.create('bpeer');
  const machines: Machine[] = [];
  try {
    // The peer: Linux's stack in a namespace behind a veth pair, on the same processor.
    execFileSync('ip', ['link', 'add', 'nsbv0', 'netns', ns.name, 'type', 'veth', 'peer', 'name', 'nsbv1', 'netns', peerNs.name]);
    ns.exec(['ip', 'addr', 'add', '10.78.0.1/24', 'dev', 'nsbv0']);
    ns.exec(['ip', 'link', 'set', 'nsbv0', 'up']);
    peerNs.exec(['ip', 'addr', 'add', `${PEER}/24`, 'dev', 'nsbv1']);
    peerNs.exec(['ip', 'link', 'set', 'nsbv1', 'up']);
    // A sink for the gpos's traffic generator, so the host does not answer port unreachable.
    const sink = ns.spawn(['node', '-e', "require('dgram').createSocket('udp4').on('message',()=>{}).bind(9,'10.77.0.1')"]);
    void sink;

    const rows: Row[] = [];
    let m = await startMachine(ns, dir, []);
    machines.push(m);
    const bootRss = rssMb(m.child.pid!);
    await pingAsync(ns, RTOS, 0.3); // resolve ARP both ways before measuring
    await pingAsync(ns, PEER, 0.3);
    rows.push(await phase(ns, peerNs, m, '(a) idle'));
    rows.push(await phase(ns, peerNs, m, '(b) gpos flood-pinged (ping -f -l 32)', () => ns.spawn(['ping', '-q', '-f', '-l', '32', '-w', String(PHASE_S + 2), GPOS])));
    await stopChild(m.child);
    m = await startMachine(ns, dir, ['--gpos-load', '10.77.0.1:9']);
    machines.push(m);
    await pingAsync(ns, RTOS, 0.3);
    rows.push(await phase(ns, peerNs, m, '(c) gpos transmits at full rate'));
    await stopChild(m.child);

    // Weighted 3:1, both saturating a 100 Mbit/s line.
    const cfgPath = join(dir, 'weighted.json');
    writeFileSync(
      cfgPath,
      JSON.stringify({
        txPolicy: 'weighted',
        lineRate: '100M',
        guests: [
          { name: 'rtos', mac: '02:4e:53:00:00:0a', ipv4: '10.77.0.10/24', weight: 3, load: { dst: '10.77.0.1:9' } },
          { name: 'gpos', mac: '02:4e:53:00:00:0b', ipv4: '10.77.0.11/24', weight: 1, load: { dst: '10.77.0.1:9' } },
        ],
      }),
    );
    m = await startMachine(ns, dir, ['--config', cfgPath]);
    machines.push(m);
    await pingAsync(ns, RTOS, 0.3);
    await pingAsync(ns, GPOS, 0.3);
    const w0 = request(ns, m, 'stats') as unknown as Snapshot;
    await new Promise((r) => setTimeout(r, PHASE_S * 1000));
    const w1 = request(ns, m, 'stats') as unknown as Snapshot;
    const bytes = (s: Snapshot, n: string): number => s.domains.find((d) => d.name === n)!.port.txBytes;
    const rB = bytes(w1, 'rtos') - bytes(w0, 'rtos');
    const gB = bytes(w1, 'gpos') - bytes(w0, 'gpos');
    const wdt = (w1.uptimeUs - w0.uptimeUs) / 1e6;
    await stopChild(m.child);

    const idle = rows[0]!;
    const out: string[] = [];
    out.push(`nanoshare bench cpu: ${PHASE_S} s per phase, ping every ${PING_INTERVAL_S * 1000} ms; peer = Linux's stack in a namespace behind a veth pair, same run`);
    out.push(`RSS after boot: ${f(bootRss, 1)} MB`);
    out.push('');
    out.push(
      table([
        ['phase', 'rtos ping loss', 'rtos RTT p50/p99 ms', 'peer RTT p50/p99 ms', 'rtos task lateness p50/p99/max us', 'cpu% rtos/gpos', 'gpos frames in', 'gpos tx Mbit/s', 'RSS MB'],
        ...rows.map((r) => [
          r.phase,
          `${r.rtos.sent - r.rtos.received}/${r.rtos.sent}`,
          `${f(pct(r.rtos.rtts, 0.5))}/${f(pct(r.rtos.rtts, 0.99))}`,
          `${f(pct(r.peer.rtts, 0.5))}/${f(pct(r.peer.rtts, 0.99))}`,
          `${f(r.lateness.p50Us, 0)}/${f(r.lateness.p99Us, 0)}/${f(r.lateness.maxUs, 0)}`,
          `${f(r.rtosCpuPct, 1)}/${f(r.gposCpuPct, 1)}`,
          String(r.gposFrames),
          f(r.gposTxMbps, 1),
          f(r.rssMb, 1),
        ]),
      ]),
    );
    out.push('');
    const share = rB / (rB + gB);
    out.push(
      table([
        ['weighted 3:1, both saturated, line 100 Mbit/s', 'rtos', 'gpos', 'rtos share', 'target'],
        ['TX bytes over ' + f(wdt, 1) + ' s', String(rB), String(gB), `${f(share * 100, 1)} %`, '75 % +/- 3'],
        ['TX Mbit/s', f((rB * 8) / wdt / 1e6, 1), f((gB * 8) / wdt / 1e6, 1), '', ''],
      ]),
    );
    out.push('');
    const checks: Array<[string, boolean]> = [];
    for (const r of rows.slice(1)) {
      checks.push([`${r.phase}: rtos loses no ping`, r.rtos.received === r.rtos.sent]);
      checks.push([`${r.phase}: rtos p99 RTT within 2x idle (${f(pct(r.rtos.rtts, 0.99))} vs ${f(pct(idle.rtos.rtts, 0.99))} ms)`, pct(r.rtos.rtts, 0.99) <= 2 * pct(idle.rtos.rtts, 0.99)]);
      checks.push([`${r.phase}: rtos task lateness p99 under 500 us (${f(r.lateness.p99Us, 0)})`, r.lateness.p99Us < 500]);
      checks.push([`${r.phase}: gpos keeps being served (${r.gposFrames} frames in, ${f(r.gposTxMbps, 1)} Mbit/s out)`, r.gposFrames > 0 || r.gposTxMbps > 0]);
    }
    checks.push([`weighted 3:1: rtos share ${f(share * 100, 1)} % within 75 +/- 3`, Math.abs(share - 0.75) <= 0.03]);
    for (const [what, ok] of checks) out.push(`${ok ? 'met    ' : 'MISSED '} ${what}`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  } finally {
    for (const m of machines) await stopChild(m.child);
    await ns.delete();
    await peerNs.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}
