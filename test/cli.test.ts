// The `nanoshare` command's user-facing errors: every bad input exits 2 with ONE line on stderr
// that names the offending field or flag, and never a stack trace. Runs without privileges:
// every case below fails in argument/config validation, before any TAP is opened. The one case
// that does reach the TAP (an unprivileged user) runs inside a namespace of its own, as root.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, labUnavailableReason, requireNet, which } from './lab.js';
import { serveControl } from '../src/host/control.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'nanoshare');
const FIX = join(ROOT, 'test', 'fixtures', 'config');

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function nanoshare(args: readonly string[]): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The contract of a user error: the exit code, exactly one line on stderr, no stack trace. */
function expectOneLineError(r: Result, code: number, ...mentions: Array<string | RegExp>): string {
  const ctx = `stderr was: ${JSON.stringify(r.stderr)}`;
  expect(r.signal, ctx).toBeNull();
  expect(r.status, ctx).toBe(code);
  expect(r.stderr.endsWith('\n'), ctx).toBe(true);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, ctx).toHaveLength(1);
  const line = lines[0]!;
  expect(r.stderr, ctx).not.toContain('    at ');
  expect(line, ctx).toMatch(/^nanoshare( stats| reboot)?: /);
  for (const m of mentions) {
    if (typeof m === 'string') expect(line, ctx).toContain(m);
    else expect(line, ctx).toMatch(m);
  }
  return line;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'bundle', 'nanoshare.cjs'))) throw new Error('dist/bundle/ is missing: run `npm run build` first');
});

describe('nanoshare --help', () => {
  it('`nanoshare --help` exits 0 and lists the commands', () => {
    const r = nanoshare(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('run');
    expect(r.stdout).toContain('stats');
  });

  it('`nanoshare run --help` exits 0 and lists the run flags', () => {
    const r = nanoshare(['run', '--help']);
    expect(r.status, r.stderr).toBe(0);
    for (const flag of ['--tap', '--bridge', '--host-ip', '--config', '--capture', '--log-level']) expect(r.stdout).toContain(flag);
    expect(r.stderr).toBe('');
  });
});

describe('nanoshare run: bad config file exits 2 with one line naming the field', () => {
  const cases: Array<[string, string, Array<string | RegExp>]> = [
    ['malformed MAC', 'bad-mac.json', ['guests[1].mac', 'malformed MAC', '"zz"']],
    ['malformed IPv4 address', 'bad-ipv4.json', ['guests[1].ipv4', '10.77.0.300/24']],
    ['malformed prefix', 'bad-prefix.json', ['guests[1].ipv4', '10.77.0.11/33']],
    ['duplicate MAC (case-insensitive)', 'dup-mac.json', ['guests[1].mac', /duplicate MAC/i, 'guests[0]']],
    ['duplicate IP', 'dup-ip.json', ['guests[1].ipv4', /duplicate/i, '10.77.0.10', 'guests[0]']],
    ['unknown top-level key', 'unknown-top-key.json', [/\bcolour: unknown key/]],
    ['unknown key inside a guest', 'unknown-guest-key.json', ['guests[1].macaddr', 'unknown key']],
    ['a file that is not JSON', 'not-json.json', ['--config', 'not-json.json', /not valid JSON/i]],
  ];
  for (const [what, file, mentions] of cases) {
    it(what, () => {
      expectOneLineError(nanoshare(['run', '--config', join(FIX, file), '--control', '/nonexistent/never.sock']), 2, ...mentions);
    });
  }

  it('a missing config file', () => {
    const missing = join(FIX, 'no-such-config.json');
    expectOneLineError(nanoshare(['run', '--config', missing]), 2, '--config', missing, /cannot read|ENOENT|no such file/i);
  });
});

describe('nanoshare run: bad flags exit 2 with one line naming the flag', () => {
  const cases: Array<[string, string[], Array<string | RegExp>]> = [
    ['unknown flag', ['--frobnicate'], ['--frobnicate']],
    ['bad --tx-policy', ['--tx-policy', 'fastest'], ['--tx-policy', '"fastest"']],
    ['bad --log-level', ['--log-level', 'loud'], ['--log-level', '"loud"']],
    ['a tap name too long', ['--tap', 'nstap0123456789abc'], ['--tap', 'nstap0123456789abc']],
    ['malformed --rtos-mac', ['--rtos-mac', 'zz'], ['--rtos-mac', 'malformed MAC']],
    ['malformed --host-ip', ['--host-ip', '10.77.0.1/99'], ['--host-ip']],
    ['malformed --gpos-ip', ['--gpos-ip', '10.77.0'], ['--gpos-ip']],
    ['duplicate MAC by flags', ['--rtos-mac', '02:4e:53:00:00:0a', '--gpos-mac', '02:4e:53:00:00:0a'], ['guests[1].mac', /duplicate MAC/i]],
  ];
  for (const [what, args, mentions] of cases) {
    it(what, () => {
      expectOneLineError(nanoshare(['run', ...args, '--control', '/nonexistent/never.sock']), 2, ...mentions);
    });
  }

  it('unknown command', () => {
    expectOneLineError(nanoshare(['jump']), 2, '"jump"');
  });
});

describe('nanoshare stats', () => {
  it('without a running machine exits 1 with one clear line', () => {
    expectOneLineError(nanoshare(['stats', '--control', '/nonexistent.sock']), 1, '/nonexistent.sock', /no machine|not running|cannot connect/i);
  });

  it('unknown flag exits 2 with one line', () => {
    expectOneLineError(nanoshare(['stats', '--frobnicate']), 2, '--frobnicate');
  });
});

describe('nanoshare reboot', () => {
  it('needs exactly one well-formed guest name (exit 2, one line)', () => {
    expectOneLineError(nanoshare(['reboot', '--control', '/nonexistent.sock']), 2, 'one guest NAME');
    expectOneLineError(nanoshare(['reboot', 'Bad!', '--control', '/nonexistent.sock']), 2, '"Bad!"');
  });

  it('without a running machine exits 1 with one clear line', () => {
    expectOneLineError(nanoshare(['reboot', 'gpos', '--control', '/nonexistent.sock']), 1, '/nonexistent.sock', /no machine/);
  });

  it('asks the machine over its control socket, and says so when there is no such guest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanoshare-kernel-reboot-'));
    const path = join(dir, 'control.sock');
    const asked: string[] = [];
    const server = await serveControl(path, { stats: () => ({}), resetLateness: () => {}, reboot: (name) => (asked.push(name), name === 'gpos') });
    const run = (args: string[]): Promise<Result> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
      });
    try {
      const ok = await run(['reboot', 'gpos', '--control', path]);
      expect([ok.status, ok.stdout]).toEqual([0, 'rebooted gpos\n']);
      expectOneLineError(await run(['reboot', 'nosuch', '--control', path]), 2, 'no guest named "nosuch"');
      expect(asked).toEqual(['gpos', 'nosuch']);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Running as an unprivileged user: the TAP cannot be created, and the user is told what to do.
// Switching user needs root; the namespace keeps any accident away from the host's interfaces.
const unprivReason = labUnavailableReason(['setpriv']);
describe('nanoshare run without privileges', () => {
  let ns: Netns | undefined;
  let tmp: string | undefined;
  afterAll(async () => {
    await ns?.delete();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it.skipIf(unprivReason !== undefined && !requireNet)(`exits 2 with one line naming --cap-add NET_ADMIN${unprivReason ? ` (lab unavailable: ${unprivReason})` : ''}`, () => {
    if (unprivReason) throw new Error(`NANOSHARE_REQUIRE_NET=1 but cannot run the unprivileged case: ${unprivReason}`);
    tmp = mkdtempSync(join(tmpdir(), 'nanoshare-cli-'));
    ns = Netns.create('cliuser');
    const setpriv = which('setpriv')!;
    const r = ns.run([setpriv, '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'run', '--control', join(tmp, 'ctl.sock'), '--stats-interval', '0']);
    expectOneLineError({ status: r.status, signal: null, stdout: r.stdout, stderr: r.stderr }, 2, '--cap-add NET_ADMIN', 'nstap0');
    // Nothing was left behind in the namespace.
    expect(ns.run(['ip', 'link', 'show', 'dev', 'nstap0']).status).not.toBe(0);
  });
});
