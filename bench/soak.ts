// `npm run soak [-- --seconds N]` (or SOAK_SECONDS=N; 60 by default): the machine under a hostile
// LAN for a while (issue 7), in a lab namespace of its own. From the host side, all at once and
// each bounded in count and time: a ping flood at the gpos (our raw-socket probe, 32 in flight),
// and from a second TAP on the lab bridge (test/inject-child.mjs, the project's own TAP link,
// 4000 frames/s) a UDP flood at the gpos's echo, a broadcast ARP storm from many senders, and the
// spoofed frames of issue 7 (port 0, sources claiming a guest, ARP lies). Meanwhile a slow ping of
// the rtos (10/s, 1 s to answer) must get >= 99 % answers. The same traffic runs first as a
// warm-up (5-10 s, not counted), so the heap and the JIT are at their working size; the RSS is
// read after a full GC in the machine (started with --expose-gc; `gc` on its control socket)
// before and after the soak, and must grow < 10 MB; the machine's CPU (/proc/PID/stat) must be
// back within 10 points of what it was before. Prints a table of the figures; exits 1 when an
// assertion fails, 2 on a bad argument. Needs root, /dev/net/tun and `ip`.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, PROBE_SCRIPT, labUnavailableReason, waitFor } from '../test/lab.js';
import { arp, BROADCAST, icmpEcho4, Injector, udp4 } from '../test/injector.js';
import { request } from '../src/host/control.js';

const BIN = join(process.cwd(), 'bin', 'nanoshare');
const HOST = '10.77.0.1';
const RTOS = { ip: '10.77.0.10', mac: '02:4e:53:00:00:0a' };
const GPOS = { ip: '10.77.0.11', mac: '02:4e:53:00:00:0b' };
const EVIL = '02:00:00:00:5a:01';
/** Slow ping of the rtos: one echo request every this many ms, each given a second for its reply. */
const SLOW_PING_MS = 100;
/** Frames the injector writes per millisecond (all kinds together), ~4000 a second. */
const INJECT_PER_MS = 4;
const MIN_RTOS_RATIO = 0.99;
const MAX_RSS_GROWTH_KB = 10 * 1024;
const MAX_CPU_AFTER_POINTS = 10;

type Kind = 'udp flood (gpos echo)' | 'broadcast ARP storm' | 'spoofed (issue 7 frames)';

/** One injector cycle: 8 UDP datagrams, 4 broadcast ARP requests, 2 spoofed frames, interleaved. */
function cycle(): Array<{ kind: Kind; frame: Uint8Array }> {
  const out: Array<{ kind: Kind; frame: Uint8Array }> = [];
  const spoofed = [
    udp4({ ethDst: GPOS.mac, ethSrc: EVIL, src: '10.77.0.99', dst: GPOS.ip, srcPort: 0, dstPort: 7, payload: [1, 2, 3, 4] }),
    udp4({ ethDst: GPOS.mac, ethSrc: EVIL, src: RTOS.ip, dst: GPOS.ip, srcPort: 7, dstPort: 7, payload: [5, 6, 7, 8] }),
    arp({ ethDst: BROADCAST, ethSrc: EVIL, op: 1, sha: '02:00:00:00:5a:02', spa: HOST, tha: '00:00:00:00:00:00', tpa: RTOS.ip }),
    arp({ ethDst: GPOS.mac, ethSrc: EVIL, op: 2, sha: EVIL, spa: RTOS.ip, tha: GPOS.mac, tpa: GPOS.ip }),
    arp({ ethDst: BROADCAST, ethSrc: RTOS.mac, op: 1, sha: RTOS.mac, spa: HOST, tha: '00:00:00:00:00:00', tpa: GPOS.ip }),
    icmpEcho4({ ethDst: RTOS.mac, ethSrc: GPOS.mac, src: GPOS.ip, dst: RTOS.ip, id: 1, seq: 1, payload: [0, 0, 0, 0] }),
  ];
  for (let i = 0; i < 48; i++) {
    // Different source ports (so the echo's per-source limiter sees many sources) and ARP senders.
    out.push({ kind: 'udp flood (gpos echo)', frame: udp4({ ethDst: GPOS.mac, ethSrc: EVIL, src: `10.77.0.${100 + (i % 8)}`, dst: GPOS.ip, srcPort: 20000 + i, dstPort: 7, payload: new Array<number>(64).fill(i) }) });
    if (i % 2 === 0) {
      const mac = `02:00:00:00:5b:${(i + 16).toString(16).padStart(2, '0')}`;
      out.push({ kind: 'broadcast ARP storm', frame: arp({ ethDst: BROADCAST, ethSrc: mac, op: 1, sha: mac, spa: `10.77.0.${150 + i}`, tha: '00:00:00:00:00:00', tpa: `10.77.0.${200 + (i % 40)}` }) });
    }
    if (i % 4 === 0) out.push({ kind: 'spoofed (issue 7 frames)', frame: spoofed[(i / 4) % spoofed.length]! });
  }
  return out;
}

function parseSeconds(argv: readonly string[]): number {
  let raw = process.env.SOAK_SECONDS ?? '60';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seconds') raw = argv[++i] ?? '';
    else if (a.startsWith('--seconds=')) raw = a.slice('--seconds='.length);
    else throw new SoakInputError(`unknown argument ${JSON.stringify(a)} (usage: npm run soak -- [--seconds N])`);
  }
  const s = Number(raw);
  if (!Number.isInteger(s) || s < 5 || s > 3600) throw new SoakInputError(`--seconds: ${JSON.stringify(raw)} is not a whole number of seconds from 5 to 3600`);
  return s;
}

class SoakInputError extends Error {}

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat, after the command name). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

const mib = (kb: number): string => (kb / 1024).toFixed(1);
/** The samples at 1/4, 2/4, 3/4 and the end of the series. */
const quarters = (xs: readonly number[]): number[] => (xs.length === 0 ? [] : [1, 2, 3, 4].map((q) => xs[Math.max(0, Math.ceil((xs.length * q) / 4) - 1)]!));
/** The warm-up before the figures: a sixth of the soak, 5 to 10 s. */
const warmupSeconds = (seconds: number): number => Math.min(10, Math.max(5, Math.round(seconds / 6)));

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The machine's CPU use over `ms`, in % of one core. */
async function cpuPct(pid: number, ms: number): Promise<number> {
  const t0 = cpuTicks(pid);
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return (100 * ((cpuTicks(pid) - t0) / CLK_TCK)) / ((Date.now() - w0) / 1000);
}

function collect(child: ChildProcess): Promise<string> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', () => resolve(out)));
}

export async function soak(seconds: number): Promise<number> {
  const why = labUnavailableReason();
  if (why) {
    process.stderr.write(`soak: cannot run: ${why}\n`);
    return 1;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'nanoshare-soak-'));
  const ns = Netns.create('soak');
  const onSignal = (): void => void ns.delete().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    const ctl = join(tmp, 'ctl.sock');
    ns.exec(['ip', 'link', 'add', 'nsbr0', 'type', 'bridge']);
    ns.exec(['ip', 'addr', 'add', `${HOST}/24`, 'dev', 'nsbr0']);
    ns.exec(['ip', 'link', 'set', 'nsbr0', 'up']);
    const machine = ns.spawn([process.execPath, '--single-threaded-gc', '--expose-gc', BIN, 'run', '--bridge', 'nsbr0', '--control', ctl, '--stats-interval', '0',
      // The injected frames name the guests by MAC: configure the ones they use (unset, MACs are derived per machine).
      '--rtos-mac', RTOS.mac, '--gpos-mac', GPOS.mac], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    machine.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const ready = await waitFor('the machine\'s "ready" line', () => {
      if (machine.exitCode !== null) throw new Error(`nanoshare exited ${machine.exitCode}:\n${log}`);
      const line = log.split('\n').find((l) => l.includes('"msg":"ready"'));
      return line ? (JSON.parse(line) as { pid: number }) : undefined;
    }, 20_000);
    const pid = ready.pid;
    const rssBoot = rssKb(pid);
    const inj = await Injector.start(ns, 'nsinj0', 'nsbr0');
    ns.exec([process.execPath, PROBE_SCRIPT, 'rtt', RTOS.ip, '5', '100', '1000']);
    ns.exec([process.execPath, PROBE_SCRIPT, 'rtt', GPOS.ip, '5', '100', '1000']);
    const cpuBefore = await cpuPct(pid, 2000);
    const frames = cycle();

    /** The ping flood at the gpos and the injector's mix, both for `s` seconds (and the slow ping of the rtos, when asked). */
    const phase = async (s: number, slowPing: boolean) => {
      const pings = Math.floor((s * 1000) / SLOW_PING_MS);
      const slow = slowPing ? collect(ns.spawn([process.execPath, PROBE_SCRIPT, 'rtt', RTOS.ip, String(pings), String(SLOW_PING_MS), '1000'], { stdio: ['ignore', 'pipe', 'ignore'] })) : Promise.resolve('{"sent":0,"received":0,"rttsMs":[]}');
      const flood = collect(ns.spawn([process.execPath, PROBE_SCRIPT, 'flood', GPOS.ip, String(s), '32'], { stdio: ['ignore', 'pipe', 'ignore'] }));
      const count = s * 1000 * INJECT_PER_MS;
      const injected = await inj.repeat(count, INJECT_PER_MS, ...frames.map((f) => f.frame));
      const [slowText, floodText] = await Promise.all([slow, flood]);
      return {
        count,
        injected,
        rtos: JSON.parse(slowText) as { sent: number; received: number; rttsMs: number[] },
        pingFlood: JSON.parse(floodText) as { sent: number; received: number; rate: number },
      };
    };

    // Warm-up under the same traffic, so the heap and the JIT reach their working size under load
    // (V8 grows its young generation under allocation pressure: that is not a leak); then the
    // figure before, the soak itself with the RSS sampled every second, and the figures after.
    /** RSS after a full garbage collection in the machine, and its JS heap and ArrayBuffers (MiB). */
    const memory = async () => {
      const r = JSON.parse(await request(ctl, 'gc')) as { ok?: boolean; error?: string };
      if (!r.ok) throw new Error(`gc over the control socket: ${r.error ?? 'no answer'}`);
      await new Promise((res) => setTimeout(res, 500));
      const m = (JSON.parse(await request(ctl, 'stats')) as { memory: { heapUsed: number; arrayBuffers: number } }).memory;
      return { rssKb: rssKb(pid), heapKb: m.heapUsed / 1024, arrayBuffersKb: m.arrayBuffers / 1024 };
    };
    const warm = await phase(warmupSeconds(seconds), false);
    const memBefore = await memory();
    const rssBefore = memBefore.rssKb;
    const rssSeries: number[] = [];
    const sampler = setInterval(() => rssSeries.push(rssKb(pid)), 1000);
    const { count, injected, rtos, pingFlood } = await phase(seconds, true);
    clearInterval(sampler);

    // After: let the queues drain, then the figures after.
    await new Promise((r) => setTimeout(r, 2000));
    const rssNoGc = rssKb(pid);
    const memAfter = await memory();
    const rssAfter = memAfter.rssKb;
    const cpuAfter = await cpuPct(pid, 2000);
    const stats = JSON.parse(ns.exec([process.execPath, BIN, 'stats', '--json', '--control', ctl])) as {
      switch: Record<string, number>;
      domains: Array<{ name: string; state: string; cpu: { faults: number } }>;
      guests: Array<{ name: string; net: { rxDropped: Record<string, number> } }>;
    };
    const alive = machine.exitCode === null && stats.domains.every((d) => d.state === 'running' && d.cpu.faults === 0);

    const perKind = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const k = frames[i % frames.length]!.kind;
      perKind.set(k, (perKind.get(k) ?? 0) + 1);
    }
    const ratio = rtos.sent > 0 ? rtos.received / rtos.sent : 0;
    const growthKb = rssAfter - rssBefore;
    const sorted = [...rtos.rttsMs].sort((a, b) => a - b);
    const p99 = sorted.length > 0 ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! : NaN;
    const gposDrops = stats.guests.find((g) => g.name === 'gpos')!.net.rxDropped;
    const checks: Array<[string, boolean]> = [
      [`rtos answer ratio >= ${MIN_RTOS_RATIO * 100} %`, ratio >= MIN_RTOS_RATIO],
      [`RSS growth < ${MAX_RSS_GROWTH_KB / 1024} MB`, growthKb < MAX_RSS_GROWTH_KB],
      [`CPU after <= CPU before + ${MAX_CPU_AFTER_POINTS} points`, cpuAfter <= cpuBefore + MAX_CPU_AFTER_POINTS],
      ['machine alive, no guest fault', alive],
    ];
    const rows: Array<[string, string]> = [
      ['soak duration (after a warm-up of)', `${seconds} s (${warmupSeconds(seconds)} s: ${warm.count} injected, ${warm.pingFlood.sent} flood pings)`],
      ['ping flood at the gpos (sent / answered)', `${pingFlood.sent} / ${pingFlood.received} (${Math.round(pingFlood.rate)}/s)`],
      ...[...perKind].map(([k, n]): [string, string] => [`injected: ${k}`, String(n)]),
      ['injected: written / refused by the TAP', `${injected.written} / ${injected.refused}`],
      ['rtos slow ping (answered / sent)', `${rtos.received} / ${rtos.sent} = ${(100 * ratio).toFixed(2)} %`],
      ['rtos slow ping rtt p99 / max', `${p99.toFixed(2)} / ${Math.max(...sorted, 0).toFixed(2)} ms`],
      ['RSS at boot', `${mib(rssBoot)} MiB`],
      ['RSS during the soak, each quarter (no forced GC)', quarters(rssSeries).map(mib).join(' / ') + ` MiB; ${mib(rssNoGc)} after`],
      ['RSS after a full GC: before / after (growth)', `${mib(rssBefore)} / ${mib(rssAfter)} MiB (${mib(growthKb)} MiB)`],
      ['JS heap used / ArrayBuffers, before / after', `${mib(memBefore.heapKb)} / ${mib(memBefore.arrayBuffersKb)} -> ${mib(memAfter.heapKb)} / ${mib(memAfter.arrayBuffersKb)} MiB`],
      ['CPU before / after (% of a core)', `${cpuBefore.toFixed(1)} / ${cpuAfter.toFixed(1)}`],
      ['switch rxSpoofedMac / rxSpoofedIp', `${stats.switch.rxSpoofedMac} / ${stats.switch.rxSpoofedIp}`],
      ['gpos udp-port-zero / arp-sha-mismatch', `${gposDrops['udp-port-zero']} / ${gposDrops['arp-sha-mismatch']}`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\nsoak (${seconds} s, lab namespace ${ns.name}; figures on a shared machine are noisy)\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v}\n`);
    for (const [what, ok] of checks) process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}\n`);
    const code = checks.every(([, ok]) => ok) ? 0 : 1;
    if (code !== 0) process.stderr.write(`soak: failed; machine log:\n${log.split('\n').slice(-20).join('\n')}\n`);
    return code;
  } finally {
    process.removeListener('SIGINT', onSignal);
    await ns.delete();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  let seconds: number;
  try {
    seconds = parseSeconds(process.argv.slice(2));
  } catch (e) {
    if (e instanceof SoakInputError) {
      process.stderr.write(`soak: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return soak(seconds);
}

main().then((c) => (process.exitCode = c), (e: Error) => {
  process.stderr.write(`soak: ${e.message}\n`);
  process.exitCode = 1;
});
