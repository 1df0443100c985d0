// `nanoshare stats`: ask a running machine for its counters over the control socket and print
// them (a short table, or the whole snapshot with --json). summarize() is also the periodic
// stats log line.
import { parseArgs } from 'node:util';
import type { MachineStats } from '../board/machine.js';
import { request, defaultControlPath } from '../host/control.js';
import { ConfigError } from '../board/config.js';
import { tapFromFlag } from './args.js';
import { PORT_DROPS } from '../nanokernel/port.js';

export interface StatsSummary {
  uptimeS: number;
  kernelUs: number;
  switch: MachineStats['switch'];
  nic: { rx: number; tx: number; rxRingFull: number };
  /** The TAP deleted under the machine and opened again (a TAP link only). */
  link?: { lost: number; reattached: number };
  domains: Array<{
    name: string;
    role: string;
    cpuPct: number;
    busyUs: number;
    quanta: number;
    preemptions: number;
    interrupts: number;
    frames: number;
    rx: number;
    tx: number;
    drops: number;
    /** Units that threw, and reboots (after faults or on request). */
    faults: number;
    reboots: number;
    state: string;
    latenessUs?: { p50: number; p99: number; max: number; count: number };
    /** The protocols the guest's OS runs. */
    protocols?: readonly string[];
    /** The IPv4 address (RFC 5227 boot probe): tentative, taken, or in use by `conflictMac`; and claims defended since. */
    ipv4?: { state: string; conflictMac?: string; conflicts: number; defences: number };
    /** The DHCP lease of a guest configured "ipv4": "dhcp". */
    dhcp?: { state: string; address: string | null; server: string | null; leaseTimeS: number | null; t1RemainingS: number | null; t2RemainingS: number | null; expiresInS: number | null };
    /** TCP connections open now and HTTP requests served (gpos). */
    tcp?: { connections: number; established: number; resetsTx: number; retransmits: number; httpRequests: number };
  }>;
}

export function summarize(s: MachineStats): StatsSummary {
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    uptimeS: round(s.uptimeUs / 1e6),
    kernelUs: Math.round(s.processor.kernelUs),
    switch: s.switch,
    nic: { rx: s.nic.rxFrames ?? 0, tx: s.nic.txFrames ?? 0, rxRingFull: s.nic.rxRingFull ?? 0 },
    link: s.link.linkLost === undefined ? undefined : { lost: s.link.linkLost, reattached: s.link.linkReattached ?? 0 },
    domains: s.domains.map((d) => {
      const g = s.guests.find((x) => x.name === d.name);
      const p = d.port;
      const late = g?.control?.lateness;
      return {
        name: d.name,
        role: d.role,
        cpuPct: s.uptimeUs > 0 ? round((100 * d.cpu.busyUs) / s.uptimeUs) : 0,
        busyUs: Math.round(d.cpu.busyUs),
        quanta: d.cpu.quanta,
        preemptions: d.cpu.preemptions,
        interrupts: d.cpu.interrupts,
        frames: d.cpu.framesHandled,
        rx: p.rxFrames ?? 0,
        tx: p.txFrames ?? 0,
        drops: [...PORT_DROPS].reduce((n, r) => n + ((p as Record<string, number | undefined>)[r] ?? 0), 0),
        faults: d.cpu.faults ?? 0,
        reboots: d.cpu.reboots ?? 0,
        state: d.state ?? 'running',
        latenessUs: late && { p50: round(late.p50Us), p99: round(late.p99Us), max: round(late.maxUs), count: late.count },
        protocols: g?.protocols,
        ipv4: g && !g.dhcp ? { state: g.ipv4State, conflictMac: g.ipv4Conflict?.mac, conflicts: g.net.arpConflicts, defences: g.net.arpDefences } : undefined,
        dhcp: g?.dhcp && {
          state: g.dhcp.state,
          address: g.dhcp.address,
          server: g.dhcp.server,
          leaseTimeS: g.dhcp.leaseTimeS,
          t1RemainingS: g.dhcp.t1RemainingS,
          t2RemainingS: g.dhcp.t2RemainingS,
          expiresInS: g.dhcp.expiresInS,
        },
        tcp: g?.tcp && {
          connections: g.tcp.connections,
          established: g.tcp.established,
          resetsTx: g.tcp.resetsTx,
          retransmits: g.tcp.retransmits,
          httpRequests: g.http?.requests ?? 0,
        },
      };
    }),
  };
}

export function formatSummary(s: StatsSummary): string {
  const rows = [['guest', 'role', 'cpu%', 'quanta', 'preempt', 'irqs', 'rx', 'tx', 'drops', 'faults', 'reboots', 'late p50/p99/max us']];
  for (const d of s.domains) {
    rows.push([
      d.name, d.state === 'halted' ? `${d.role} (halted)` : d.role, d.cpuPct.toFixed(1), String(d.quanta), String(d.preemptions), String(d.interrupts), String(d.rx), String(d.tx), String(d.drops),
      String(d.faults), String(d.reboots),
      d.latenessUs ? `${d.latenessUs.p50}/${d.latenessUs.p99}/${d.latenessUs.max}` : '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
  const sw = s.switch;
  return [
    `uptime ${s.uptimeS} s, nanokernel ${s.kernelUs} us; nic rx ${s.nic.rx} tx ${s.nic.tx} (rx ring full ${s.nic.rxRingFull})` +
      (s.link ? `; link lost ${s.link.lost}, reattached ${s.link.reattached}` : ''),
    `switch: rx ${sw.rxFrames} (unicast ${sw.rxUnicast}, broadcast ${sw.rxBroadcast}, multicast ${sw.rxMulticast}), unknown unicast dropped ${sw.rxUnknownUnicast}; ` +
      `tx ${sw.txFrames}, local ${sw.txLocal}, spoofed mac/ip dropped ${sw.txSpoofedMac}/${sw.txSpoofedIp}`,
    table,
    ...s.domains.map((d) => {
      const t = d.tcp;
      const tcp = t ? `; tcp ${t.connections} open, ${t.established} established, ${t.retransmits} retransmits, ${t.resetsTx} resets sent; http ${t.httpRequests} requests` : '';
      const a = d.ipv4;
      const addr = !a ? '' : a.state === 'conflict' ? `; ipv4 NOT TAKEN: in use by ${a.conflictMac ?? '?'}` : `; ipv4 ${a.state}${a.conflicts > 0 ? `, ${a.conflicts} conflicts, ${a.defences} defences` : ''}`;
      return `${d.name}: ${(d.protocols ?? []).join(' ')}${addr}${tcp}${dhcpText(d.dhcp)}`;
    }),
  ].join('\n');
}

/** "; dhcp bound 10.77.0.150/24 from 10.77.0.1, lease 3600 s, T1 in 1790 s, T2 in 3140 s" */
function dhcpText(d: StatsSummary['domains'][number]['dhcp']): string {
  if (d === undefined) return '';
  if (d.address === null) return `; dhcp ${d.state}, no lease`;
  const s = (x: number | null): string => (x === null ? 'never' : `in ${Math.round(x)} s`);
  return `; dhcp ${d.state} ${d.address} from ${d.server}, lease ${d.leaseTimeS === null ? 'infinite' : `${d.leaseTimeS} s`}, T1 ${s(d.t1RemainingS)}, T2 ${s(d.t2RemainingS)}, expires ${s(d.expiresInS)}`;
}

export const STATS_USAGE = `Usage: nanoshare stats [--json] [--tap NAME | --control PATH]

Prints the counters of a running machine (per guest: processor time, quanta, preemptions,
interrupts, frames, drops, faults and reboots; the rtos control task's lateness), read from its
control socket.

  --json           the whole snapshot as JSON
  --tap NAME       the machine that runs on TAP NAME (default nstap0)
  --control PATH   the control socket (default $NANOSHARE_CONTROL or /run/nanoshare/<tap>.sock)
`;

export async function statsCommand(argv: readonly string[]): Promise<number> {
  let values: { json?: boolean; tap?: string; control?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { json: { type: 'boolean' }, tap: { type: 'string' }, control: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(STATS_USAGE);
    return 0;
  }
  const path = values.control ?? defaultControlPath(tapFromFlag(values.tap));
  let text: string;
  try {
    text = await request(path, 'stats');
  } catch (e) {
    process.stderr.write(`nanoshare stats: ${(e as Error).message}\n`);
    return 1;
  }
  let snap: MachineStats;
  try {
    snap = JSON.parse(text) as MachineStats;
  } catch {
    process.stderr.write(`nanoshare stats: the machine at ${path} answered something that is not JSON\n`);
    return 1;
  }
  process.stdout.write(values.json ? JSON.stringify(snap, null, 2) + '\n' : formatSummary(summarize(snap)) + '\n');
  return 0;
}
