// `nanoshare top`: a live view of a running machine over its control socket, redrawn every
// second: per guest its processor share, frames in and out per second, drops, the rtos control
// task's lateness and faults; the switch's and the NIC's rates; drops by reason. Keys switch
// views (g guests, d drops, s switch, Tab the next) and quit (q, Ctrl-C). For people who would
// rather look than read; `nanoshare stats` is the one-shot text.
import { parseArgs } from 'node:util';
import type { MachineStats } from '../board/machine.js';
import { request, defaultControlPath } from '../host/control.js';
import { ConfigError } from '../board/config.js';
import { tapFromFlag } from './args.js';

export const TOP_USAGE = `Usage: nanoshare top [--tap NAME | --control PATH] [--interval S]

A live view of a running machine, redrawn every second: per guest the processor share, frames
in/out per second, drops, the rtos control task's lateness (p99, max) and faults; the switch's
and the NIC's rates; drops by reason.

Keys: g guests, d drops by reason, s switch and NIC, Tab next view, q (or Ctrl-C) quit.

  --tap NAME       the machine that runs on TAP NAME (default nstap0)
  --control PATH   the control socket (default $NANOSHARE_CONTROL or /run/nanoshare/<tap>.sock)
  --interval S     seconds between refreshes (default 1)
`;

export type TopView = 'guests' | 'drops' | 'switch';
const VIEWS: readonly TopView[] = ['guests', 'drops', 'switch'];

/** A snapshot and when it was taken (the machine's own uptime, so rates are in machine time). */
interface Sample {
  stats: MachineStats;
}

const num = (o: object, k: string): number => {
  const v = (o as Record<string, unknown>)[k];
  return typeof v === 'number' ? v : 0;
};

/** Per second, between two samples (0 on the first). */
function rate(cur: number, prev: number | undefined, dtS: number): string {
  if (prev === undefined || dtS <= 0) return '-';
  return ((cur - prev) / dtS).toFixed(0);
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

/** Drop counters (the switch's names) of an object of counters, nonzero first. */
function drops(o: object): Array<[string, number]> {
  return Object.entries(o).filter(([k, v]) => typeof v === 'number' && /^(rx|tx)[A-Z]/.test(k) && /Full|Halted|Flushed|Spoofed|Malformed|Runt|Unknown|NoSubscriber/.test(k)) as Array<[string, number]>;
}

/** The screen for one view, as lines (no escape codes). */
export function renderTop(cur: Sample, prev: Sample | undefined, view: TopView, source: string): string[] {
  const s = cur.stats;
  const p = prev?.stats;
  const dtS = p ? (s.uptimeUs - p.uptimeUs) / 1e6 : 0;
  const header = [
    `nanoshare top  ${source}  uptime ${(s.uptimeUs / 1e6).toFixed(0)} s  policy ${s.txPolicy}`,
    `view: ${VIEWS.map((v) => (v === view ? `[${v}]` : v)).join(' ')}   keys: g guests  d drops  s switch  Tab next  q quit`,
    '',
  ];
  if (view === 'guests') {
    const rows = [['guest', 'role', 'state', 'cpu%', 'rx/s', 'tx/s', 'drops', 'late p99 us', 'late max us', 'faults', 'reboots']];
    for (const d of s.domains) {
      const pd = p?.domains.find((x) => x.name === d.name);
      const cpu = pd && dtS > 0 ? ((100 * (d.cpu.busyUs - pd.cpu.busyUs)) / (dtS * 1e6)).toFixed(1) : ((100 * d.cpu.busyUs) / Math.max(1, s.uptimeUs)).toFixed(1);
      const late = s.guests.find((g) => g.name === d.name)?.control?.lateness;
      rows.push([
        d.name, d.role, d.state, cpu,
        rate(d.port.rxFrames, pd?.port.rxFrames, dtS), rate(d.port.txFrames, pd?.port.txFrames, dtS),
        String(drops(d.port).reduce((n, [, v]) => n + v, 0)),
        late ? late.p99Us.toFixed(0) : '-', late ? late.maxUs.toFixed(0) : '-',
        String(d.cpu.faults), String(d.cpu.reboots),
      ]);
    }
    return [...header, ...table(rows)];
  }
  if (view === 'drops') {
    const rows = [['where', 'reason', 'total', 'per s']];
    for (const [reason, v] of drops(s.switch)) rows.push(['switch', reason, String(v), rate(v, p ? num(p.switch, reason) : undefined, dtS)]);
    for (const d of s.domains) {
      const pd = p?.domains.find((x) => x.name === d.name);
      for (const [reason, v] of drops(d.port)) if (v > 0) rows.push([d.name, reason, String(v), rate(v, pd ? num(pd.port, reason) : undefined, dtS)]);
    }
    for (const k of ['rxRingFull', 'rxRunts', 'rxOversize', 'txRingFull', 'txLinkDropped']) rows.push(['nic', k, String(num(s.nic, k)), rate(num(s.nic, k), p ? num(p.nic, k) : undefined, dtS)]);
    return [...header, ...table(rows)];
  }
  const sw = s.switch;
  const rows = [
    ['counter', 'total', 'per s'],
    ['switch rx', String(sw.rxFrames), rate(sw.rxFrames, p?.switch.rxFrames, dtS)],
    ['  unicast', String(sw.rxUnicast), rate(sw.rxUnicast, p?.switch.rxUnicast, dtS)],
    ['  broadcast', String(sw.rxBroadcast), rate(sw.rxBroadcast, p?.switch.rxBroadcast, dtS)],
    ['  multicast', String(sw.rxMulticast), rate(sw.rxMulticast, p?.switch.rxMulticast, dtS)],
    ['switch tx', String(sw.txFrames), rate(sw.txFrames, p?.switch.txFrames, dtS)],
    ['switch local', String(sw.txLocal), rate(sw.txLocal, p?.switch.txLocal, dtS)],
    ['switch drops', String(drops(sw).reduce((n, [, v]) => n + v, 0)), p ? rate(drops(sw).reduce((n, [, v]) => n + v, 0), drops(p.switch).reduce((n, [, v]) => n + v, 0), dtS) : '-'],
    ['nic rx bytes', String(s.nic.rxBytes), rate(s.nic.rxBytes, p?.nic.rxBytes, dtS)],
    ['nic tx bytes', String(s.nic.txBytes), rate(s.nic.txBytes, p?.nic.txBytes, dtS)],
    ['nanokernel us', String(Math.round(s.processor.kernelUs)), rate(s.processor.kernelUs, p?.processor.kernelUs, dtS)],
  ];
  return [...header, ...table(rows)];
}

export async function topCommand(argv: readonly string[]): Promise<number> {
  let values: { tap?: string; control?: string; interval?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { tap: { type: 'string' }, control: { type: 'string' }, interval: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(TOP_USAGE);
    return 0;
  }
  const intervalS = values.interval === undefined ? 1 : Number(values.interval);
  if (!(intervalS >= 0.1 && intervalS <= 3600)) throw new ConfigError(`--interval: expected seconds from 0.1 to 3600, got ${JSON.stringify(values.interval)}`);
  const path = values.control ?? defaultControlPath(tapFromFlag(values.tap));

  const fetchStats = async (): Promise<MachineStats> => JSON.parse(await request(path, 'stats')) as MachineStats;
  let cur: Sample;
  try {
    cur = { stats: await fetchStats() };
  } catch (e) {
    process.stderr.write(`nanoshare top: ${(e as Error).message}\n`);
    return 1;
  }

  const out = process.stdout;
  const tty = out.isTTY === true;
  let prev: Sample | undefined;
  let view: TopView = 'guests';
  let problem: string | undefined;
  const draw = (): void => {
    const lines = renderTop(cur, prev, view, path);
    if (problem) lines.push('', `! ${problem}`);
    out.write((tty ? '\x1b[H\x1b[2J' : '') + lines.join('\n') + '\n');
  };

  return await new Promise<number>((resolve) => {
    const stdin = process.stdin;
    let timer: NodeJS.Timeout | undefined;
    const quit = (code: number): void => {
      if (timer) clearTimeout(timer);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      if (tty) out.write('\x1b[?25h\x1b[?1049l');
      resolve(code);
    };
    if (tty) out.write('\x1b[?1049h\x1b[?25l');
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', (k: string) => {
      for (const ch of k) {
        if (ch === 'q' || ch === '\x03') return quit(0);
        if (ch === 'g') view = 'guests';
        else if (ch === 'd') view = 'drops';
        else if (ch === 's') view = 'switch';
        else if (ch === '\t') view = VIEWS[(VIEWS.indexOf(view) + 1) % VIEWS.length]!;
        else continue;
        draw();
      }
    });
    stdin.on('end', () => quit(0));
    process.once('SIGTERM', () => quit(0));
    const tick = async (): Promise<void> => {
      try {
        const next = { stats: await fetchStats() };
        prev = cur;
        cur = next;
        problem = undefined;
      } catch (e) {
        problem = `${(e as Error).message} (retrying)`;
      }
      draw();
      timer = setTimeout(() => void tick(), intervalS * 1000);
    };
    draw();
    timer = setTimeout(() => void tick(), intervalS * 1000);
  });
}
