// The `nanoshare run` process of a system test: started inside a lab namespace, awaited until its
// `ready` log line, stopped with SIGTERM. Shared by the system tests so each reads the same way.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor, type Netns } from './lab.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'nanoshare');

export interface Running {
  child: ChildProcess;
  /** Everything written on stderr so far. */
  stderr: () => string;
  ready: ReadyLine;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ReadyLine {
  msg: 'ready';
  pid: number;
  tap?: string;
  link?: string;
  vni?: number;
  hostIp?: string;
  bridge?: string;
  capture?: string;
  control?: string;
  guests: Array<{ name: string; os: string; mac: string; ipv4: string }>;
}

/** Start `nanoshare run` in `ns`; `stdout: 'pipe'` keeps its stdout (for `--capture -`). */
export async function startMachine(ns: Netns, args: readonly string[], opts: { stdout?: 'pipe' | 'ignore' } = {}): Promise<Running> {
  const child = ns.spawn([process.execPath, BIN, 'run', '--stats-interval', '0', ...args], { cwd: ROOT, stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = await waitFor(
    'the "ready" log line',
    () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nanoshare exited (${child.exitCode ?? child.signalCode}) before ready:\n${err}`);
      for (const line of err.split('\n')) {
        if (!line.includes('"msg":"ready"')) continue;
        return JSON.parse(line) as ReadyLine;
      }
      return undefined;
    },
    15_000,
  );
  return { child, stderr: () => err, ready, exited };
}

export async function terminate(m: Running, timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  m.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nanoshare did not exit within ${timeoutMs} ms of SIGTERM:\n${m.stderr()}`)), timeoutMs);
  });
  try {
    return await Promise.race([m.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

