// `nanoshare top` in a pseudo-terminal (python3's pty module), reading the screen it draws: a
// machine on the in-memory link serves its counters over a real control socket while the test
// sends it traffic, and the test presses the keys a user would (d, s, q).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryLink } from '../src/link/memory.js';
import { ManualClock } from '../src/machine/clock.js';
import { buildMachine } from '../src/board/machine.js';
import { defaultConfig } from '../src/board/config.js';
import { serveControl } from '../src/host/control.js';
import { IpProtocol, parseIpv4, parseMac } from '../src/wire/index.js';
import { icmpBytes, ipv4Frame } from '../src/net/testing.js';
import { requireNet, waitFor, which, withTmpDir } from './lab.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'nanoshare');
const HOST_MAC = parseMac('02:00:00:00:00:01')!;
const HOST_IP = parseIpv4('10.77.0.1')!;
const GPOS = { mac: parseMac('02:4e:53:00:00:0b')!, ip: parseIpv4('10.77.0.11')! };

const ping = (dstMac: number, seqNo: number): Uint8Array =>
  ipv4Frame(dstMac, HOST_MAC, HOST_IP, GPOS.ip, IpProtocol.Icmp, icmpBytes({ kind: 'echo-request', ident: 1, seqNo, data: new Uint8Array(8) }));

/** The last screen drawn: the text after the last clear-screen, escape codes removed. */
function screen(out: string): string {
  const last = out.lastIndexOf('\x1b[2J');
  // eslint-disable-next-line no-control-regex
  return (last < 0 ? out : out.slice(last)).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

const noPython = which('python3') ? undefined : 'needs python3 (its pty module gives top a terminal)';
if (noPython && requireNet) throw new Error(`NANOSHARE_REQUIRE_NET=1 but ${noPython}`);

describe.skipIf(noPython !== undefined)('nanoshare top in a pseudo-terminal', () => {
  it('draws the guests with their rates, switches views on d and s, and quits on q', async () => {
    await withTmpDir('obs-top', async (dir) => {
      const clock = new ManualClock(1_000_000);
      const link = new MemoryLink('mem0');
      const machine = buildMachine({ ...defaultConfig(), addressProbe: false }, link, clock);
      machine.start();
      const ctl = join(dir, 'ctl.sock');
      const server = await serveControl(ctl, { stats: () => machine.stats(), resetLateness: () => {} });
      // Traffic in machine time that follows real time: 10 pings to the gpos and one frame for
      // nobody's MAC every 100 ms.
      let seq = 0;
      const traffic = setInterval(() => {
        link.inject([...Array.from({ length: 10 }, () => ping(GPOS.mac, ++seq)), ping(parseMac('02:4e:53:00:00:99')!, ++seq)]);
        clock.advance(100_000);
        link.drain();
      }, 100);
      const child = spawn('python3', ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', process.execPath, BIN, 'top', '--control', ctl], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, TERM: 'xterm', COLUMNS: '120', LINES: '40' },
      });
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        // The guests view, with a measured rate for the gpos once two samples are in.
        const guests = await waitFor('the guests view with rates', () => {
          const s = screen(out);
          const row = s.split('\n').find((l) => l.startsWith('gpos'));
          return s.includes('[guests]') && row && /^gpos\s+secondary\s+running\s+[0-9.]+\s+[1-9][0-9]*\s+[1-9][0-9]*/.test(row) ? s : undefined;
        }, 10_000);
        expect(guests).toMatch(/^guest\s+role\s+state\s+cpu%\s+rx\/s\s+tx\/s\s+drops\s+late p99 us\s+late max us\s+faults\s+reboots$/m);
        expect(guests).toMatch(/^rtos\s+primary\s+running\s+/m);
        const gposRx = Number(/^gpos\s+secondary\s+running\s+[0-9.]+\s+([0-9]+)/m.exec(guests)![1]);
        expect(gposRx).toBeGreaterThan(50); // ~100 pings per machine second
        expect(gposRx).toBeLessThan(200);

        child.stdin.write('d');
        const dropsView = await waitFor('the drops view', () => (screen(out).includes('[drops]') ? screen(out) : undefined), 5000);
        const unknown = /^switch\s+rxUnknownUnicast\s+([0-9]+)/m.exec(dropsView);
        expect(unknown, dropsView).not.toBeNull();
        expect(Number(unknown![1])).toBeGreaterThan(0);

        child.stdin.write('s');
        const sw = await waitFor('the switch view', () => (screen(out).includes('[switch]') ? screen(out) : undefined), 5000);
        expect(sw).toMatch(/^switch rx\s+[1-9][0-9]*/m);
        expect(sw).toMatch(/^ {2}broadcast\s+[0-9]+/m);

        child.stdin.write('q');
        expect(await exited).toBe(0);
        expect(out).toContain('\x1b[?1049l'); // the terminal's own screen restored
      } finally {
        clearInterval(traffic);
        if (child.exitCode === null) child.kill('SIGKILL');
        server.close();
        machine.stop();
      }
    });
  });

  it('without a machine says so in one line and exits 1', async () => {
    const child = spawn(process.execPath, [BIN, 'top', '--control', '/nonexistent/obs-top.sock'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^nanoshare top: control socket \/nonexistent\/obs-top.sock: no machine is running there/);
  });
});
