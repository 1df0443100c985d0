// The `nanoshare run` process of a system test: started inside a lab namespace, awaited until its
// `ready` log line, stopped with a signal. Shared by the system tests so each reads the same way.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor, type Netns } from './lab.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'nanoshare');

/** The default guests, as `nanoshare run` boots them (their MACs are derived per machine: see guestsOf). */
export const GUESTS = [
  { name: 'rtos', ip: '10.77.0.10' },
  { name: 'gpos', ip: '10.77.0.11' },
] as const;

/**
 * The default guests with the configured MACs a test names with FIXED_MACS: for tests about
 * something else (captures, injection, IPv6 addresses from the MAC) that want MACs known ahead.
 */
export const FIXED_GUESTS = [
  { name: 'rtos', mac: '02:4e:53:00:00:0a', ip: '10.77.0.10' },
  { name: 'gpos', mac: '02:4e:53:00:00:0b', ip: '10.77.0.11' },
] as const;
export const FIXED_MACS = ['--rtos-mac', FIXED_GUESTS[0].mac, '--gpos-mac', FIXED_GUESTS[1].mac] as const;

export interface GuestId {
  name: string;
  ip: string;
  mac: string;
}

/** The default guests with the MACs this machine derived for them (from its ready line). */
export function guestsOf(m: Running): GuestId[] {
  return GUESTS.map((g) => {
    const r = m.ready.guests.find((x) => x.name === g.name);
    if (!r) throw new Error(`no guest ${g.name} in the ready line`);
    return { ...g, mac: r.mac };
  });
}

/**
 * The boot probe (RFC 5227) as the system tests run it unless a test names --address-probe: every
 * wait 100 ms, so a boot costs ~0.3 s of probing, not the RFC's 4 to 7 s (test/probe-lab.test.ts
 * runs the RFC's timing).
 */
export const QUICK_PROBE = ['--address-probe', '100'] as const;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started machine, ready or not. */
export interface Spawned {
  child: ChildProcess;
  /** Everything written on stderr so far. */
  stderr: () => string;
  exited: Promise<Exit>;
}

export interface Running extends Spawned {
  ready: ReadyLine;
}

export interface ReadyLine {
  msg: 'ready';
  pid: number;
  tap?: string;
  link?: string;
  vni?: number;
  hostIp?: string;
  bridge?: string;
  uplink?: string;
  capture?: string;
  control?: string;
  guests: Array<{ name: string; os: string; mac: string; macDerived?: boolean; ipv4: string; ipv4State?: string }>;
}

/**
 * Start `nanoshare run ARGS` in the namespace; `before` goes ahead of node (e.g. `env PATH=...`);
 * `stdout: 'pipe'` keeps its stdout (for `--capture -`).
 */
export function spawnMachine(ns: Netns, args: readonly string[], before: readonly string[] = [], opts: { stdout?: 'pipe' | 'ignore' } = {}): Spawned {
  // Replay (pcap:) takes its addresses at once by default; a probe there would be the test's choice.
  const probe = args.includes('--address-probe') || args.some((a) => a.startsWith('pcap:')) ? [] : QUICK_PROBE;
  const child = ns.spawn([...before, process.execPath, BIN, 'run', '--stats-interval', '0', ...probe, ...args], { cwd: ROOT, stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => err, exited };
}

/** Wait for the `ready` log line; fails with the log if the machine exits first. */
export async function waitReady(m: Spawned, timeoutMs = 15_000): Promise<Running> {
  const ready = await waitFor(
    'the "ready" log line',
    () => {
      if (m.child.exitCode !== null || m.child.signalCode !== null) throw new Error(`nanoshare exited (${m.child.exitCode ?? m.child.signalCode}) before ready:\n${m.stderr()}`);
      for (const line of m.stderr().split('\n')) {
        if (line.includes('"msg":"ready"')) return JSON.parse(line) as ReadyLine;
      }
      return undefined;
    },
    timeoutMs,
  );
  return { ...m, ready };
}

export async function startMachine(ns: Netns, args: readonly string[], opts: { stdout?: 'pipe' | 'ignore' } = {}): Promise<Running> {
  return waitReady(spawnMachine(ns, args, [], opts));
}

/** Resolve with the exit, or fail with the machine's log after `timeoutMs`. */
export async function waitExit(m: Spawned, timeoutMs = 10_000): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nanoshare did not exit within ${timeoutMs} ms:\n${m.stderr()}`)), timeoutMs);
  });
  try {
    return await Promise.race([m.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function terminate(m: Spawned, timeoutMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
  m.child.kill(signal);
  return waitExit(m, timeoutMs);
}

/** Independent of pcap-parser (which ignores a truncated last record): the file is exactly a header plus whole records. */
export function pcapByteAccounting(file: string): { records: number; bytes: number; trailing: number } {
  const b = readFileSync(file);
  if (b.length < 24) throw new Error(`${file}: ${b.length} bytes, shorter than a pcap header`);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const rd = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  let off = 24;
  let records = 0;
  while (off + 16 <= b.length) {
    const incl = rd(off + 8);
    if (off + 16 + incl > b.length) break;
    off += 16 + incl;
    records++;
  }
  return { records, bytes: b.length, trailing: b.length - off };
}
