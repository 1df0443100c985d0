// The lab rule, in one place: every system test that touches a TAP, veth or address does it
// inside a network namespace it creates here (unique name), and deletes it afterwards with
// every process it started (by PID). Tests that need this skip with a stated reason on a
// user's laptop; with NANOSHARE_REQUIRE_NET=1 (CI) a missing prerequisite is a failure.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

/** Why system tests cannot run here, or undefined when they can. */
export function labUnavailableReason(tools: readonly string[] = []): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (network namespaces and TAP devices)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'needs /dev/net/tun';
  }
  for (const tool of ['ip', ...tools]) {
    if (!which(tool)) return `needs the \`${tool}\` command (apt-get install ${aptPackageOf(tool)})`;
  }
  // The ICMP probe (test/icmp-probe.mjs) is raw-socket's native module, built by npm ci
  // (package.json allowScripts lets its install script run).
  try {
    createRequire(import.meta.url)('raw-socket');
  } catch (e) {
    return `needs the raw-socket module built (npm rebuild raw-socket): ${(e as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

/** True when a missing prerequisite must fail the run instead of skipping (CI). */
export const requireNet = process.env.NANOSHARE_REQUIRE_NET === '1';

/**
 * Decide whether a system suite runs. Returns true to skip (with the reason printed once);
 * throws when NANOSHARE_REQUIRE_NET=1 and the lab is unavailable, so CI goes red.
 */
export function skipLab(tools: readonly string[] = []): boolean {
  const reason = labUnavailableReason(tools);
  if (!reason) return false;
  if (requireNet) throw new Error(`NANOSHARE_REQUIRE_NET=1 but the lab is unavailable: ${reason}`);
  process.stderr.write(`skipping system test: ${reason}\n`);
  return true;
}

export function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = `${dir}/${tool}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

function aptPackageOf(tool: string): string {
  return ({ ip: 'iproute2', ping: 'iputils-ping', tcpdump: 'tcpdump', nc: 'netcat-openbsd', tshark: 'tshark' } as Record<string, string>)[tool] ?? tool;
}

/** A network namespace of our own, with the processes we started in it. */
export class Netns {
  readonly name: string;
  private readonly children = new Set<ChildProcess>();
  private deleted = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Create a fresh namespace named `nst-<tag>-<random>` with its loopback up. */
  static create(tag: string): Netns {
    const name = `nst-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`.slice(0, 60);
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Run a command inside the namespace to completion; returns stdout. Throws with stderr on failure. */
  exec(argv: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): string {
    try {
      return execFileSync('ip', ['netns', 'exec', this.name, ...argv], {
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? 20_000,
        input: opts.input,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`in netns ${this.name}: ${argv.join(' ')} failed: ${err.stderr || err.message}\n${err.stdout ?? ''}`);
    }
  }

  /** Run a command in the namespace and return its exit status and output without throwing. */
  run(argv: readonly string[], timeoutMs = 20_000): { status: number; stdout: string; stderr: string } {
    try {
      const stdout = execFileSync('ip', ['netns', 'exec', this.name, ...argv], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
      return { status: 0, stdout, stderr: '' };
    } catch (e) {
      const err = e as { status?: number; stdout?: string; stderr?: string };
      return { status: err.status ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  }

  /** Start a long-running process in the namespace; it is stopped (by PID) on `delete()`. */
  spawn(argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Stop what we started (SIGTERM, then SIGKILL after a grace period) and delete the namespace. */
  async delete(graceMs = 3000): Promise<void> {
    if (this.deleted) return;
    this.deleted = true;
    await Promise.all([...this.children].map((c) => stopChild(c, graceMs)));
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
}

/** Stop a child we started, by PID: SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Wait until `pred` returns a truthy value, polling every `stepMs`; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, pred: () => T | undefined | false, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** test/icmp-probe.mjs, from test/ (vitest) and from dist-bench/test/ (the compiled bench) alike. */
export const PROBE_SCRIPT = [new URL('./icmp-probe.mjs', import.meta.url), new URL('../../test/icmp-probe.mjs', import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('./icmp-probe.mjs', import.meta.url));

/** What one run of the ICMP echo probe saw. */
export interface ProbeResult {
  ip: string;
  sent: number;
  received: number;
  /** Round-trip times of the replies, in ms, taken in the probe's process around sendto/recvfrom. */
  rttsMs: number[];
}

/**
 * Ping from inside `ns` with our own raw-socket probe (test/icmp-probe.mjs), not iputils `ping`:
 * `count` echo requests every `intervalMs` with `payloadBytes` of payload (56, as ping's default),
 * replies awaited `timeoutMs` after the last one.
 */
export function probe(ns: Netns, ip: string, opts: { count?: number; intervalMs?: number; timeoutMs?: number; payloadBytes?: number } = {}): ProbeResult {
  const count = opts.count ?? 3;
  const intervalMs = opts.intervalMs ?? 200;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const out = ns.exec([process.execPath, PROBE_SCRIPT, 'rtt', ip, String(count), String(intervalMs), String(timeoutMs), String(opts.payloadBytes ?? 56)], {
    timeoutMs: count * intervalMs + timeoutMs + 10_000,
  });
  return JSON.parse(out) as ProbeResult;
}

/** Echo requests to `ip` every `intervalMs` in the background (at most `count`), until stopped; stopped with the namespace. */
export function probeInBackground(ns: Netns, ip: string, intervalMs: number, count = 100_000): ChildProcess {
  return ns.spawn([process.execPath, PROBE_SCRIPT, 'rtt', ip, String(count), String(intervalMs), '1000'], { stdio: ['ignore', 'ignore', 'ignore'] });
}

/** Run `fn` with a fresh temporary directory (named after `tag`), removed afterwards whatever happens. */
export function withTmpDir(tag: string, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), `nanoshare-${tag}-`));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
