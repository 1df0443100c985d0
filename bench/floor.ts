// `npm run bench -- floor [--json] [--rounds N] [--flood-seconds S] ...`: how far nanoshare is
// from the floor of any user-space TAP appliance (issue 8). In one lab namespace with one
// bridge, side by side and interleaved round by round (A B C D A B C D ...), medians quoted:
//   A nanoshare (rtos and gpos rows; a second boot with --capture for the capture-on rate),
//   C a minimal C responder (bench/floor/responder.c, compiled here with `cc`: one read and one
//     write per frame on its own TAP, ARP and ICMP echo for one address),
//   D the Linux kernel behind a veth pair (its own namespace on the same bridge).
// The instrument is the same for every row: test/icmp-probe.mjs (raw-socket ICMP, timestamps
// in-process, a fixed window in flight for the flood), run in the lab namespace. Figures per row:
// RTT p50/p99 at a low rate (every 2 ms) and a user's rate (every 200 ms), echo rate under a
// pipelined flood, time from exec to the first reply, RSS after boot and after the floods; for
// nanoshare also the rtos control task's lateness per phase and the garbage collector's scavenges
// and pause time per million frames (from --trace-gc), and a soak: the gpos flooded for
// --flood-seconds (60 in the full run) with the rtos's lateness and RSS read after it.
// `--boot-only`: only exec to the first reply and RSS after boot, nanoshare booted --rounds times
// (10 unless given) in the same lab and the same way; seconds instead of minutes. It also gives
// the process's CPU and run-queue time up to the reply (a loaded machine shows as wait) and, boot
// by boot, Node's own start (`node -e 0`) spawned the same way: the floor under any Node program.
// nanoshare is spawned without NODE_EXTRA_CA_CERTS (BOOT_ENV says why; the tables say so).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, labUnavailableReason, stopChild, waitFor, which } from '../test/lab.js';
import { table } from './table.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'nanoshare');
const PROBE = join(ROOT, 'test', 'icmp-probe.mjs');
const RESPONDER_C = join(ROOT, 'bench', 'floor', 'responder.c');

const BRIDGE = 'nsfbr0';
const HOST = '10.77.0.1';
const HOST_MAC = '02:4e:53:00:00:01';
const RTOS = { ip: '10.77.0.10', mac: '02:4e:53:00:00:0a' };
const GPOS = { ip: '10.77.0.11', mac: '02:4e:53:00:00:0b' };
const FLOOR = { ip: '10.77.0.20', mac: '02:4e:53:00:00:14', tap: 'nsftapc' };
const KERNEL = { ip: '10.77.0.40' };
const NS_TAP = 'nsftap0';

export interface FloorOptions {
  json: boolean;
  rounds: number;
  /** Probes per target at the low rate (every 2 ms). */
  lowCount: number;
  /** Probes per target at the user's rate (every 200 ms). */
  userCount: number;
  /** Seconds of each rate flood. */
  rateSeconds: number;
  /** Seconds of the soak flood of the gpos (RSS, lateness and GC after it). */
  floodSeconds: number;
  window: number;
  /** Boot nanoshare `rounds` times and report exec to first reply and RSS after boot only. */
  bootOnly: boolean;
}

const DEFAULTS: FloorOptions = { bootOnly: false, json: false, rounds: 3, lowCount: 500, userCount: 20, rateSeconds: 3, floodSeconds: 60, window: 32 };

/** `--json`, `--boot-only`, `--rounds N`, `--low-count N`, `--user-count N`, `--rate-seconds S`, `--flood-seconds S`, `--window N`. */
export function parseFloorArgs(argv: readonly string[]): FloorOptions {
  const o = parseBenchFlags('floor', argv, DEFAULTS, {
    '--rounds': 'rounds', '--low-count': 'lowCount', '--user-count': 'userCount',
    '--rate-seconds': 'rateSeconds', '--flood-seconds': 'floodSeconds', '--window': 'window',
  }, { '--boot-only': 'bootOnly' });
  if (o.bootOnly && !argv.some((a) => a === '--rounds' || a.startsWith('--rounds='))) o.rounds = 10;
  return o;
}

/** `--json`, the `booleans` and positive numeric flags (`--flag N` or `--flag=N`) over `defaults`; BenchArgError names a bad one. */
export function parseBenchFlags<T extends { json: boolean }>(bench: string, argv: readonly string[], defaults: T, numeric: Record<string, keyof T>, booleans: Record<string, keyof T> = {}): T {
  const o: T = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') {
      o.json = true;
      continue;
    }
    const on = booleans[a];
    if (on) {
      (o as Record<keyof T, unknown>)[on] = true;
      continue;
    }
    const [flag, inline] = a.split('=', 2) as [string, string | undefined];
    const key = numeric[flag];
    if (!key) throw new BenchArgError(`bench ${bench}: unknown flag ${JSON.stringify(a)} (known: ${['--json', ...Object.keys(booleans), ...Object.keys(numeric)].join(', ')})`);
    const v = Number(inline ?? argv[++i]);
    if (!Number.isFinite(v) || v <= 0) throw new BenchArgError(`bench ${bench}: ${flag}: expected a positive number, got ${JSON.stringify(inline ?? argv[i])}`);
    (o as Record<keyof T, unknown>)[key] = v;
  }
  return o;
}

export class BenchArgError extends Error {}

// ---------------------------------------------------------------------------------------------
// The instrument: one long-running test/icmp-probe.mjs in the lab namespace, JSON over stdio.

export interface RttResult { sent: number; received: number; rttsMs: number[] }
interface FloodResult { sent: number; received: number; lost: number; seconds: number; rate: number }
interface FirstResult { atNs: number | null; probes: number }

export class Probe {
  private readonly child: ChildProcess;
  private buf = '';
  private tag = 0;
  private readonly waiting = new Map<number, (r: Record<string, unknown>) => void>();

  constructor(ns: Netns) {
    this.child = ns.spawn([process.execPath, PROBE, 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const r = JSON.parse(this.buf.slice(0, nl)) as Record<string, unknown>;
        this.buf = this.buf.slice(nl + 1);
        this.waiting.get(r.tag as number)?.(r);
        this.waiting.delete(r.tag as number);
      }
    });
  }

  private call<T>(cmd: Record<string, unknown>): Promise<T> {
    const tag = ++this.tag;
    return new Promise((resolve, reject) => {
      this.waiting.set(tag, (r) => (r.error ? reject(new Error(String(r.error))) : resolve(r as T)));
      this.child.stdin!.write(JSON.stringify({ ...cmd, tag }) + '\n');
    });
  }

  rtt(ip: string, count: number, intervalMs: number): Promise<RttResult> {
    return this.call({ op: 'rtt', ip, count, intervalMs, timeoutMs: 1000 });
  }
  flood(ip: string, seconds: number, window: number): Promise<FloodResult> {
    return this.call({ op: 'flood', ip, seconds, window });
  }
  first(ip: string, timeoutMs = 20_000): Promise<FirstResult> {
    return this.call({ op: 'first', ip, timeoutMs });
  }
  close(): void {
    this.child.stdin!.end();
  }
}

// ---------------------------------------------------------------------------------------------
// What runs under test.

interface Lateness { p50Us: number; p99Us: number; maxUs: number; count: number }
interface Stats {
  nic: { rxFrames: number; txFrames: number };
  guests: Array<{ name: string; control?: { lateness: Lateness } }>;
}

interface Gc { count: number; pauseMs: number }

/** A nanoshare process in the lab namespace, its --trace-gc lines counted as they come. */
class Nanoshare {
  readonly child: ChildProcess;
  readonly control: string;
  readonly gc: Gc = { count: 0, pauseMs: 0 };
  private stderr = '';
  private out = '';
  ready = false;

  constructor(ns: Netns, dir: string, extra: string[], traceGc = true) {
    this.control = join(dir, `ctl-${process.pid}-${Date.now()}.sock`);
    // As the bin's shebang and `npm start` run it, plus --trace-gc (its lines go to stdout) for
    // the GC figures; the boots that are only timed (--boot-only, and one per round of the full
    // run) go without (--trace-gc is one of the V8 flags that make V8 refuse the bundle's code
    // cache: bin/load-bundle.cjs). No boot probe:
    // RFC 5227's 4 to 7 s of waiting is the protocol's, not the machine's cost, and
    // exec-to-first-reply measures the machine.
    this.child = ns.spawn([process.execPath, '--single-threaded-gc', ...(traceGc ? ['--trace-gc'] : []), BIN, 'run', '--tap', NS_TAP, '--bridge', BRIDGE,
      '--control', this.control, '--stats-interval', '0', '--log-level', 'warn', '--address-probe', 'off',
      // The MACs the probing side's static neighbours name (unset, they would be derived).
      '--rtos-mac', RTOS.mac, '--gpos-mac', GPOS.mac, ...extra], { env: BOOT_ENV });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.out += d;
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        const m = /: (?:Scavenge|Minor Mark-Sweep|Mark-Compact|Mark-sweep)[^,]*, ([0-9.]+) \/ [0-9.]+ ms/.exec(line);
        if (m) {
          this.gc.count++;
          this.gc.pauseMs += Number(m[1]);
        }
      }
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => (this.stderr += d));
  }

  private request(what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = createConnection(this.control);
      let out = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(what + '\n'));
      s.on('data', (d: string) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
  }

  async stats(): Promise<Stats> {
    return JSON.parse(await this.request('stats')) as Stats;
  }

  async resetLateness(): Promise<void> {
    await this.request('reset-lateness');
  }

  async waitControl(): Promise<void> {
    await waitFor('the control socket', () => {
      if (this.child.exitCode !== null) throw new Error(`nanoshare exited: ${this.stderr}`);
      return existsSync(this.control) && statSync(this.control).isSocket();
    }, 20_000, 20);
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

/**
 * The environment nanoshare is spawned with, and Node's own start measured beside it: the bench's
 * own without NODE_EXTRA_CA_CERTS. Node 20 reads that CA file at startup, before any of our code
 * (80 ms on the VM these figures come from, whose environment sets it); nanoshare makes no TLS
 * connection and a user's machine normally has no such variable. Said under each table, with
 * Node's own start in both environments (nodeStartMs), so a reader sees what it costs.
 */
export const BOOT_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'NODE_EXTRA_CA_CERTS'));

/** Node's own floor, spawned as nanoshare is (in the lab namespace, same flag): exec to exit of `node -e 0`, in ms. */
export async function nodeStartMs(ns: Netns, env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = hrNs();
  const child = ns.spawn([process.execPath, '--single-threaded-gc', '-e', '0'], { env, stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('exit', (c) => resolve(c));
    child.once('error', reject);
  });
  if (code !== 0) throw new Error(`node -e 0 in the lab namespace exited with ${code}`);
  return (hrNs() - t0) / 1e6;
}

/** Node's start with the bench's own environment too, when it sets NODE_EXTRA_CA_CERTS (else undefined). */
const EXTRA_CA_ENV: NodeJS.ProcessEnv | undefined = process.env.NODE_EXTRA_CA_CERTS ? process.env : undefined;

/** The line under a table that says how nanoshare was spawned, with Node's own start (medians, ms). */
function environmentNote(nodeMs: readonly number[], nodeExtraCaMs: readonly number[]): string {
  const bare = `Node's own start there (node -e 0, spawned the same way): ${f(median(nodeMs), 1)} ms`;
  if (!EXTRA_CA_ENV) return `nanoshare spawned with the bench's environment. ${bare}.`;
  return `nanoshare spawned without this environment's NODE_EXTRA_CA_CERTS (Node 20 reads that CA file at startup; nanoshare makes no TLS connection). ${bare}; ${f(median(nodeExtraCaMs), 1)} ms with NODE_EXTRA_CA_CERTS=${EXTRA_CA_ENV.NODE_EXTRA_CA_CERTS}.`;
}

/** Time on a CPU and time waiting for one (the run queue), in ms, of process `pid` so far (/proc/PID/schedstat, ns). */
export function schedMs(pid: number | undefined): { cpuMs: number; waitMs: number } {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpuMs: cpu! / 1e6, waitMs: wait! / 1e6 };
  } catch {
    return { cpuMs: NaN, waitMs: NaN };
  }
}

export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+([0-9]+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) of process `pid` so far, in µs, from /proc (clock ticks of 1/100 s on Linux). */
export function cpuUs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // Fields after the command name (which may hold spaces): state is field 3; utime, stime are 14, 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e4;
  } catch {
    return NaN;
  }
}

/** A flood, with the responder's CPU time per answered request (robust to a loaded machine, unlike rates). */
async function floodWithCpu(probe: Probe, ip: string, o: FloorOptions, pid: number | undefined): Promise<{ rate: number; cpuUsPerReply: number }> {
  const c0 = cpuUs(pid);
  const r = await probe.flood(ip, o.rateSeconds, o.window);
  return { rate: r.rate, cpuUsPerReply: (cpuUs(pid) - c0) / r.received };
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length === 0 ? NaN : percentile(v, 0.5);
}

// ---------------------------------------------------------------------------------------------
// One round's figures per row.

type RowName = 'rtos' | 'gpos' | 'floor' | 'kernel';
interface RoundRow {
  bootMs: number;
  rssBootMb: number;
  low: { p50: number; p99: number; loss: number };
  user: { p50: number; p99: number; loss: number };
  floodRate: number;
  floodCaptureRate: number;
  /** The responder's CPU time per reply during the flood (capture off). */
  cpuUsPerReply: number;
  rssFloodMb: number;
  gc?: { count: number; pauseMs: number; frames: number };
}
interface PhaseLateness { phase: string; lateness: Lateness }

const nanRow = (): RoundRow => ({
  bootMs: NaN, rssBootMb: NaN, low: { p50: NaN, p99: NaN, loss: NaN }, user: { p50: NaN, p99: NaN, loss: NaN },
  floodRate: NaN, floodCaptureRate: NaN, cpuUsPerReply: NaN, rssFloodMb: NaN,
});

export function rttFigures(r: RttResult): { p50: number; p99: number; loss: number } {
  return { p50: percentile(r.rttsMs, 0.5), p99: percentile(r.rttsMs, 0.99), loss: r.sent - r.received };
}

const hrNs = (): number => Number(process.hrtime.bigint());

interface Lab {
  ns: Netns;
  peer: Netns;
  probe: Probe;
  dir: string;
  responder: string;
  o: FloorOptions;
}

/** Boot nanoshare and wait for the rtos's first reply; exec-to-reply in ms, and its CPU and run-queue time read just after. */
async function bootNanoshare(lab: Lab, extra: string[], traceGc = true): Promise<{ m: Nanoshare; bootMs: number; sched: { cpuMs: number; waitMs: number } }> {
  const first = lab.probe.first(RTOS.ip);
  const t0 = hrNs();
  const m = new Nanoshare(lab.ns, lab.dir, extra, traceGc);
  const r = await first;
  const sched = schedMs(m.child.pid);
  if (r.atNs === null) throw new Error('nanoshare did not answer within 20 s');
  const bootMs = (r.atNs - t0) / 1e6;
  await m.waitControl();
  return { m, bootMs, sched };
}

async function roundNanoshare(lab: Lab, rows: Record<RowName, RoundRow>, late: PhaseLateness[]): Promise<void> {
  const { probe, o } = lab;
  // Exec to first reply and RSS after boot from a boot as the bin and `npm start` run it: the
  // boot measured below runs with --trace-gc (its GC figures), with which V8 refuses the bundle's
  // code cache, so it would time a slower start than any user's.
  {
    const plain = await bootNanoshare(lab, [], false);
    rows.rtos.bootMs = rows.gpos.bootMs = plain.bootMs;
    rows.rtos.rssBootMb = rows.gpos.rssBootMb = rssMb(plain.m.child.pid);
    await plain.m.stop();
  }
  const { m } = await bootNanoshare(lab, []);
  try {
    await probe.rtt(GPOS.ip, 3, 5); // the gpos's first ARP exchange is not part of its RTT
    const phase = async (name: string, fn: () => Promise<void>): Promise<void> => {
      await m.resetLateness();
      await fn();
      const s = await m.stats();
      late.push({ phase: name, lateness: s.guests.find((g) => g.name === 'rtos')!.control!.lateness });
    };
    for (const [row, t] of [['rtos', RTOS], ['gpos', GPOS]] as const) {
      await phase(`${row} probed every 2 ms`, async () => void (rows[row].low = rttFigures(await probe.rtt(t.ip, o.lowCount, 2))));
    }
    for (const [row, t] of [['rtos', RTOS], ['gpos', GPOS]] as const) {
      await phase(`${row} probed every 200 ms`, async () => void (rows[row].user = rttFigures(await probe.rtt(t.ip, o.userCount, 200))));
    }
    for (const [row, t] of [['gpos', GPOS], ['rtos', RTOS]] as const) {
      await phase(`${row} flooded (window ${o.window})`, async () => {
        const s0 = await m.stats();
        const g0 = { ...m.gc };
        const fl = await floodWithCpu(probe, t.ip, o, m.child.pid);
        rows[row].floodRate = fl.rate;
        rows[row].cpuUsPerReply = fl.cpuUsPerReply;
        const s1 = await m.stats();
        rows[row].gc = { count: m.gc.count - g0.count, pauseMs: m.gc.pauseMs - g0.pauseMs, frames: s1.nic.rxFrames - s0.nic.rxFrames };
      });
    }
    rows.rtos.rssFloodMb = rows.gpos.rssFloodMb = rssMb(m.child.pid);
  } finally {
    await m.stop();
  }
}

async function roundCapture(lab: Lab, rows: Record<RowName, RoundRow>): Promise<void> {
  const { m } = await bootNanoshare(lab, ['--capture', join(lab.dir, 'floor.pcap')]);
  try {
    await lab.probe.rtt(GPOS.ip, 3, 5);
    rows.gpos.floodCaptureRate = (await lab.probe.flood(GPOS.ip, lab.o.rateSeconds, lab.o.window)).rate;
    rows.rtos.floodCaptureRate = (await lab.probe.flood(RTOS.ip, lab.o.rateSeconds, lab.o.window)).rate;
  } finally {
    await m.stop();
    rmSync(join(lab.dir, 'floor.pcap'), { force: true });
  }
}

async function roundFloor(lab: Lab, row: RoundRow): Promise<void> {
  const first = lab.probe.first(FLOOR.ip);
  const t0 = hrNs();
  const child = lab.ns.spawn([lab.responder, FLOOR.tap, FLOOR.ip, FLOOR.mac, BRIDGE]);
  try {
    const r = await first;
    if (r.atNs === null) throw new Error('the C responder did not answer within 20 s');
    row.bootMs = (r.atNs - t0) / 1e6;
    row.rssBootMb = rssMb(child.pid);
    row.low = rttFigures(await lab.probe.rtt(FLOOR.ip, lab.o.lowCount, 2));
    row.user = rttFigures(await lab.probe.rtt(FLOOR.ip, lab.o.userCount, 200));
    const fl = await floodWithCpu(lab.probe, FLOOR.ip, lab.o, child.pid);
    row.floodRate = fl.rate;
    row.cpuUsPerReply = fl.cpuUsPerReply;
    row.rssFloodMb = rssMb(child.pid);
  } finally {
    await stopChild(child);
  }
}

async function roundKernel(lab: Lab, row: RoundRow): Promise<void> {
  row.low = rttFigures(await lab.probe.rtt(KERNEL.ip, lab.o.lowCount, 2));
  row.user = rttFigures(await lab.probe.rtt(KERNEL.ip, lab.o.userCount, 200));
  row.floodRate = (await lab.probe.flood(KERNEL.ip, lab.o.rateSeconds, lab.o.window)).rate;
}

export interface Soak {
  seconds: number;
  rate: number;
  lateness: Lateness;
  rssMb: number;
  gc: { count: number; pauseMs: number; frames: number };
}

/** The gpos flooded for --flood-seconds: the rtos's lateness over it, RSS and GC after it. */
async function soak(lab: Lab): Promise<Soak> {
  const { m } = await bootNanoshare(lab, []);
  try {
    await lab.probe.rtt(GPOS.ip, 3, 5);
    await m.resetLateness();
    const s0 = await m.stats();
    const g0 = { ...m.gc };
    const f = await lab.probe.flood(GPOS.ip, lab.o.floodSeconds, lab.o.window);
    const s1 = await m.stats();
    return {
      seconds: f.seconds,
      rate: f.rate,
      lateness: s1.guests.find((g) => g.name === 'rtos')!.control!.lateness,
      rssMb: rssMb(m.child.pid),
      gc: { count: m.gc.count - g0.count, pauseMs: m.gc.pauseMs - g0.pauseMs, frames: s1.nic.rxFrames - s0.nic.rxFrames },
    };
  } finally {
    await m.stop();
  }
}

function setUpLab(ns: Netns, peer: Netns): void {
  // The bridge's MAC set, not taken from its ports: a bridge otherwise takes the lowest MAC of
  // its ports, so each TAP that comes or goes (every boot of every row) may change it, and a
  // change flushes the host's ARP cache on the bridge; the next row's first reply then waited for
  // Linux to ask again after 1 s (the C responder's exec to first reply read 1005 ms in two rounds of three).
  ns.exec(['ip', 'link', 'add', BRIDGE, 'address', HOST_MAC, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  ns.exec(['ip', 'addr', 'add', `${HOST}/24`, 'dev', BRIDGE]);
  ns.exec(['ip', 'link', 'set', BRIDGE, 'up']);
  // The kernel row: Linux's own stack in a namespace of its own, behind a veth on the bridge.
  execFileSync('ip', ['link', 'add', 'nsfv0', 'netns', ns.name, 'type', 'veth', 'peer', 'name', 'nsfv1', 'netns', peer.name]);
  ns.exec(['ip', 'link', 'set', 'nsfv0', 'master', BRIDGE, 'up']);
  peer.exec(['ip', 'addr', 'add', `${KERNEL.ip}/24`, 'dev', 'nsfv1']);
  peer.exec(['ip', 'link', 'set', 'nsfv1', 'up']);
  const peerMac = (JSON.parse(peer.exec(['ip', '-j', 'link', 'show', 'nsfv1'])) as Array<{ address: string }>)[0]!.address;
  // Static neighbours on the probing side: exec-to-first-reply must not wait for the kernel's
  // 1 s ARP retry when the first probe beats the responder's TAP. (The responders still resolve
  // the host by ARP themselves.)
  for (const [ip, mac] of [[RTOS.ip, RTOS.mac], [GPOS.ip, GPOS.mac], [FLOOR.ip, FLOOR.mac], [KERNEL.ip, peerMac]] as const) {
    ns.exec(['ip', 'neigh', 'replace', ip, 'lladdr', mac, 'dev', BRIDGE, 'nud', 'permanent']);
  }
}

// ---------------------------------------------------------------------------------------------
// Report.

export { table };

const f = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
const k = (x: number): string => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)} k/s` : '-');

export interface Summary {
  rows: Record<RowName, {
    bootMs: number; rssBootMb: number; lowP50: number; lowP99: number; userP50: number; userP99: number;
    lowLoss: number; userLoss: number; floodRate: number; floodCaptureRate: number; cpuUsPerReply: number; rssFloodMb: number;
    gcPerMFrames: number; gcPauseMsPerMFrames: number;
  }>;
  lateness: Array<{ phase: string; p50Us: number; p99Us: number; maxUs: number }>;
}

function summarize(rounds: Array<Record<RowName, RoundRow>>, late: PhaseLateness[][]): Summary {
  const names: RowName[] = ['rtos', 'gpos', 'floor', 'kernel'];
  const med = (n: RowName, get: (r: RoundRow) => number): number => median(rounds.map((r) => get(r[n])));
  const rows = {} as Summary['rows'];
  for (const n of names) {
    rows[n] = {
      bootMs: med(n, (r) => r.bootMs), rssBootMb: med(n, (r) => r.rssBootMb),
      lowP50: med(n, (r) => r.low.p50), lowP99: med(n, (r) => r.low.p99), userP50: med(n, (r) => r.user.p50), userP99: med(n, (r) => r.user.p99),
      lowLoss: rounds.reduce((a, r) => a + r[n].low.loss, 0), userLoss: rounds.reduce((a, r) => a + r[n].user.loss, 0),
      floodRate: med(n, (r) => r.floodRate), floodCaptureRate: med(n, (r) => r.floodCaptureRate), cpuUsPerReply: med(n, (r) => r.cpuUsPerReply), rssFloodMb: med(n, (r) => r.rssFloodMb),
      gcPerMFrames: med(n, (r) => (r.gc ? (r.gc.count * 1e6) / r.gc.frames : NaN)),
      gcPauseMsPerMFrames: med(n, (r) => (r.gc ? (r.gc.pauseMs * 1e6) / r.gc.frames : NaN)),
    };
  }
  const phases = late[0]?.map((p) => p.phase) ?? [];
  const lateness = phases.map((phase, i) => ({
    phase,
    p50Us: median(late.map((l) => l[i]!.lateness.p50Us)),
    p99Us: median(late.map((l) => l[i]!.lateness.p99Us)),
    maxUs: median(late.map((l) => l[i]!.lateness.maxUs)),
  }));
  return { rows, lateness };
}

export function report(o: FloorOptions, s: Summary, sk: Soak, load: { before: number[]; after: number[] }, node: { ms: number[]; extraCaMs: number[] } = { ms: [], extraCaMs: [] }): string {
  const label: Record<RowName, string> = {
    rtos: 'nanoshare rtos', gpos: 'nanoshare gpos', floor: 'C responder (one read, one write per frame)', kernel: 'Linux kernel behind a veth',
  };
  const out: string[] = [];
  out.push(`nanoshare bench floor: ${o.rounds} rounds interleaved, medians; RTT from ${o.lowCount} probes every 2 ms and ${o.userCount} every 200 ms; floods ${o.rateSeconds} s with ${o.window} in flight; soak ${o.floodSeconds} s`);
  out.push(`machine: ${cpus().length} cpus, load average ${load.before.map((x) => x.toFixed(2)).join(' ')} before, ${load.after.map((x) => x.toFixed(2)).join(' ')} after`);
  out.push('');
  out.push(table([
    ['responder', 'exec to 1st reply ms', 'RTT p50/p99 ms @2 ms', 'RTT p50/p99 ms @200 ms', 'flood echo/s', 'flood, capture on', 'CPU us/reply', 'RSS boot/flood MB', 'GC per M frames (n / ms)'],
    ...(['rtos', 'gpos', 'floor', 'kernel'] as const).map((n) => {
      const r = s.rows[n];
      return [label[n], f(r.bootMs, 1), `${f(r.lowP50)}/${f(r.lowP99)}`, `${f(r.userP50)}/${f(r.userP99)}`, k(r.floodRate), k(r.floodCaptureRate), f(r.cpuUsPerReply, 1),
        `${f(r.rssBootMb, 1)}/${f(r.rssFloodMb, 1)}`, Number.isFinite(r.gcPerMFrames) ? `${f(r.gcPerMFrames, 0)} / ${f(r.gcPauseMsPerMFrames, 0)}` : '-'];
    }),
  ]));
  out.push(environmentNote(node.ms, node.extraCaMs));
  out.push('');
  out.push(table([
    ['rtos control task lateness (us)', 'p50', 'p99', 'max'],
    ...s.lateness.map((l) => [l.phase, f(l.p50Us, 0), f(l.p99Us, 0), f(l.maxUs, 0)]),
    [`soak: gpos flooded ${f(sk.seconds, 0)} s (${k(sk.rate)})`, f(sk.lateness.p50Us, 0), f(sk.lateness.p99Us, 0), f(sk.lateness.maxUs, 0)],
  ]));
  out.push(`soak: RSS after ${f(sk.rssMb, 1)} MB; GC ${sk.gc.count} collections, ${f(sk.gc.pauseMs, 1)} ms paused over ${sk.gc.frames} frames (${f((sk.gc.count * 1e6) / sk.gc.frames, 0)} / ${f((sk.gc.pauseMs * 1e6) / sk.gc.frames, 0)} ms per M frames)`);
  out.push('');
  const fl = s.rows.floor;
  const checks: Array<[string, boolean]> = [];
  for (const n of ['rtos', 'gpos'] as const) {
    const r = s.rows[n];
    checks.push([`${n}: RTT p50 @2 ms within 1.2x the floor (${f(r.lowP50 / fl.lowP50, 2)}x)`, r.lowP50 <= 1.2 * fl.lowP50]);
    checks.push([`${n}: RTT p99 @2 ms within 1.5x the floor (${f(r.lowP99 / fl.lowP99, 2)}x)`, r.lowP99 <= 1.5 * fl.lowP99]);
    checks.push([`${n}: RTT p50 @200 ms within 1.2x the floor (${f(r.userP50 / fl.userP50, 2)}x)`, r.userP50 <= 1.2 * fl.userP50]);
    checks.push([`${n}: RTT p99 @200 ms within 1.5x the floor (${f(r.userP99 / fl.userP99, 2)}x)`, r.userP99 <= 1.5 * fl.userP99]);
    checks.push([`${n}: flood echo rate >= 0.8x the floor (${f(r.floodRate / fl.floodRate, 2)}x)`, r.floodRate >= 0.8 * fl.floodRate]);
    checks.push([`${n}: flood echo rate with capture >= 0.6x the floor (${f(r.floodCaptureRate / fl.floodRate, 2)}x)`, r.floodCaptureRate >= 0.6 * fl.floodRate]);
  }
  checks.push([`rtos lateness p99 <= 100 us with the gpos flooded ${f(sk.seconds, 0)} s (${f(sk.lateness.p99Us, 0)})`, sk.lateness.p99Us <= 100]);
  checks.push([`rtos lateness max <= 1 ms with the gpos flooded ${f(sk.seconds, 0)} s (${f(sk.lateness.maxUs, 0)})`, sk.lateness.maxUs <= 1000]);
  checks.push([`exec to first reply < 150 ms (${f(s.rows.rtos.bootMs, 1)})`, s.rows.rtos.bootMs < 150]);
  checks.push([`RSS after boot < 64 MB (${f(s.rows.rtos.rssBootMb, 1)})`, s.rows.rtos.rssBootMb < 64]);
  checks.push([`RSS after the ${f(sk.seconds, 0)} s flood < 80 MB (${f(sk.rssMb, 1)})`, sk.rssMb < 80]);
  for (const [what, ok] of checks) out.push(`${ok ? 'met    ' : 'MISSED '} ${what}`);
  const loss = (['rtos', 'gpos', 'floor', 'kernel'] as const).map((n) => `${n} ${s.rows[n].lowLoss + s.rows[n].userLoss}`).join(', ');
  out.push(`probes unanswered (all rounds): ${loss}`);
  return out.join('\n') + '\n';
}

/** `--boot-only`: nanoshare booted o.rounds times as the full run boots it; exec to first reply and RSS after boot. */
async function bootOnly(lab: Lab, before: number[]): Promise<number> {
  const boots: Array<{ bootMs: number; rssBootMb: number; cpuMs: number; waitMs: number }> = [];
  const nodeMs: number[] = [];
  const nodeExtraCaMs: number[] = [];
  // Interleaved: a boot, then Node's own start (in both environments when the bench's sets NODE_EXTRA_CA_CERTS).
  for (let i = 0; i < lab.o.rounds; i++) {
    const { m, bootMs, sched } = await bootNanoshare(lab, [], false);
    boots.push({ bootMs, rssBootMb: rssMb(m.child.pid), ...sched });
    await m.stop();
    nodeMs.push(await nodeStartMs(lab.ns, BOOT_ENV));
    if (EXTRA_CA_ENV) nodeExtraCaMs.push(await nodeStartMs(lab.ns, EXTRA_CA_ENV));
  }
  const load = { before, after: loadavg() };
  const bootMs = boots.map((b) => b.bootMs);
  const rss = boots.map((b) => b.rssBootMb);
  const range = (xs: readonly number[]): string => `${f(median(xs), 1)} (${f(Math.min(...xs), 1)}-${f(Math.max(...xs), 1)})`;
  const out: string[] = [];
  out.push(`nanoshare bench floor --boot-only: ${boots.length} boots, one after the other, medians (min-max)`);
  out.push(`machine: ${cpus().length} cpus, load average ${load.before.map((x) => x.toFixed(2)).join(' ')} before, ${load.after.map((x) => x.toFixed(2)).join(' ')} after`);
  out.push('');
  out.push(table([
    ['responder', 'exec to 1st reply ms', 'of which on a CPU / waiting for one ms', 'RSS after boot MB'],
    ['nanoshare rtos', range(bootMs), `${range(boots.map((b) => b.cpuMs))} / ${range(boots.map((b) => b.waitMs))}`, range(rss)],
    ['node -e 0 (exec to exit)', range(nodeMs), '-', '-'],
  ]));
  out.push(environmentNote(nodeMs, nodeExtraCaMs));
  out.push('nanoshare run as the bin and `npm start` run it (node --single-threaded-gc); the full run times its boot the same way (one such boot per round), and adds --trace-gc (which makes V8 refuse the bundle\'s code cache) only to the boots it floods, for the GC figures.');
  out.push('CPU and run-queue times: /proc/PID/schedstat of the nanoshare process (not its `ip` children), read when the reply reaches the bench; on a loaded machine the wait grows, the CPU time much less.');
  out.push('');
  out.push(`${median(bootMs) < 150 ? 'met    ' : 'MISSED '} exec to first reply < 150 ms (${f(median(bootMs), 1)})`);
  out.push(`${median(rss) < 64 ? 'met    ' : 'MISSED '} RSS after boot < 64 MB (${f(median(rss), 1)})`);
  const text = out.join('\n') + '\n';
  if (lab.o.json) {
    process.stdout.write(JSON.stringify({ options: lab.o, cpus: cpus().length, load, boots, nodeStartMs: nodeMs, nodeStartExtraCaMs: nodeExtraCaMs }, null, 2) + '\n');
    process.stderr.write(text);
  } else process.stdout.write(text);
  return 0;
}

export async function benchFloor(argv: readonly string[] = []): Promise<number> {
  let o: FloorOptions;
  try {
    o = parseFloorArgs(argv);
  } catch (e) {
    if (!(e instanceof BenchArgError)) throw e;
    process.stderr.write(e.message + '\n');
    return 2;
  }
  const why = labUnavailableReason(['cc']);
  if (why) {
    process.stderr.write(`bench floor: cannot run: ${why}\n`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nanoshare-floor-'));
  const responder = join(dir, 'responder');
  execFileSync(which('cc')!, ['-O2', '-Wall', '-o', responder, RESPONDER_C]);
  const ns = Netns.create('floor');
  const peer = Netns.create('floorpeer');
  const probe = new Probe(ns);
  const lab: Lab = { ns, peer, probe, dir, responder, o };
  const before = loadavg();
  try {
    setUpLab(ns, peer);
    if (o.bootOnly) return await bootOnly(lab, before);
    const rounds: Array<Record<RowName, RoundRow>> = [];
    const late: PhaseLateness[][] = [];
    const node = { ms: [] as number[], extraCaMs: [] as number[] };
    for (let i = 0; i < o.rounds; i++) {
      const rows: Record<RowName, RoundRow> = { rtos: nanRow(), gpos: nanRow(), floor: nanRow(), kernel: nanRow() };
      const l: PhaseLateness[] = [];
      await roundNanoshare(lab, rows, l);
      await roundCapture(lab, rows);
      await roundFloor(lab, rows.floor);
      await roundKernel(lab, rows.kernel);
      node.ms.push(await nodeStartMs(ns, BOOT_ENV));
      if (EXTRA_CA_ENV) node.extraCaMs.push(await nodeStartMs(ns, EXTRA_CA_ENV));
      rounds.push(rows);
      late.push(l);
      process.stderr.write(`bench floor: round ${i + 1}/${o.rounds} done\n`);
    }
    const sk = await soak(lab);
    const summary = summarize(rounds, late);
    const load = { before, after: loadavg() };
    // With --json the table still goes to stderr, so one run gives both.
    if (o.json) {
      process.stdout.write(JSON.stringify({ options: o, cpus: cpus().length, load, summary, soak: sk, rounds, lateness: late, nodeStartMs: node.ms, nodeStartExtraCaMs: node.extraCaMs }, null, 2) + '\n');
      process.stderr.write(report(o, summary, sk, load, node));
    } else process.stdout.write(report(o, summary, sk, load, node));
    return 0;
  } finally {
    probe.close();
    await ns.delete();
    await peer.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}
