// `npm run bench -- tcp [--seconds S] [--conns N] [--json]`: TCP on the gpos against the Linux
// kernel, measured by the same clients in the same run (root; lab namespaces only). One lab
// namespace holds a bridge with the host address 10.77.0.1, nanoshare's TAP on it, and a veth to
// a peer namespace where a tiny Node server (HTTP /status, discard on 9, chargen on 19) runs on
// the kernel's TCP at 10.77.0.40. From the lab namespace, for each target:
//   HTTP: N keep-alive connections each sending GET /status back to back for S seconds (req/s),
//   upload: one connection writing to discard (port 9) for S seconds, rate = bytes / time to close,
//   download: one connection reading chargen (port 19) for S seconds.
// Both targets run on the same 2-core machine as the clients; say so when quoting figures.
// Also printed: the CPU time nanoshare's process used over its measures. To see where it goes,
// NANOSHARE_BENCH_CPU_PROF=DIR starts the machine with `node --cpu-prof --cpu-prof-dir=DIR`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { Netns, labUnavailableReason, stopChild, waitFor } from '../test/lab.js';
import { table } from './table.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'nanoshare');
const BRIDGE = 'nstcpbr0';
const TAP = 'nstcptap0';
const GPOS = '10.77.0.11';
const KERNEL = '10.77.0.40';

interface Options {
  seconds: number;
  conns: number;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Options | string {
  const o: Options = { seconds: 5, conns: 8, json: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    if (flag === '--json') {
      o.json = true;
      continue;
    }
    if (flag !== '--seconds' && flag !== '--conns') return `bench tcp: unknown flag ${JSON.stringify(argv[i])} (known: --seconds, --conns, --json)`;
    const v = Number(inline ?? argv[++i]);
    if (!Number.isFinite(v) || v <= 0) return `bench tcp: ${flag}: expected a positive number, got ${JSON.stringify(inline ?? argv[i])}`;
    if (flag === '--seconds') o.seconds = v;
    else o.conns = Math.floor(v);
  }
  return o;
}

/** The kernel's peer: HTTP /status (a JSON body about the size of the gpos's), discard, chargen. */
const PEER_SERVER = `
const http = require('node:http'), net = require('node:net');
const body = JSON.stringify({ name: 'kernel', pad: 'x'.repeat(600) }) + '\\n';
http.createServer((req, res) => {
  if (req.url === '/status') { res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }); res.end(body); }
  else { res.writeHead(404, { 'Content-Length': 0 }); res.end(); }
}).listen(80, '${KERNEL}');
net.createServer((s) => { s.on('data', () => {}); s.on('end', () => s.end()); s.on('error', () => {}); }).listen(9, '${KERNEL}');
const block = Buffer.alloc(64 * 1024, 'chargen ');
net.createServer((s) => {
  s.on('error', () => {});
  const pump = () => { while (!s.destroyed && s.write(block)); };
  s.on('drain', pump); s.on('end', () => s.end()); pump();
}).listen(19, '${KERNEL}', () => console.log('listening'));
`;

/** The client, run in the lab namespace: one mode against one address, JSON result on stdout. */
const CLIENT = `
const net = require('node:net');
const [mode, ip, seconds, conns] = process.argv.slice(1);
const ms = Number(seconds) * 1000;
const done = (r) => { console.log(JSON.stringify(r)); process.exit(0); };
const fail = (e) => { console.error(String(e)); process.exit(3); };
if (mode === 'http') {
  const req = Buffer.from('GET /status HTTP/1.1\\r\\nHost: bench\\r\\n\\r\\n');
  let n = 0, errors = 0, open = Number(conns);
  const t0 = Date.now();
  for (let i = 0; i < Number(conns); i++) {
    const s = net.connect(80, ip);
    s.setNoDelay(true);
    let buf = Buffer.alloc(0);
    s.on('connect', () => s.write(req));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\\r\\n\\r\\n');
        if (end < 0) return;
        const m = /content-length: *(\\d+)/i.exec(buf.subarray(0, end).toString());
        const total = end + 4 + (m ? Number(m[1]) : 0);
        if (buf.length < total) return;
        if (!buf.subarray(0, 12).toString().startsWith('HTTP/1.1 200')) errors++;
        buf = buf.subarray(total);
        n++;
        if (Date.now() - t0 >= ms) { s.end(); return; }
        s.write(req);
      }
    });
    s.on('error', () => { errors++; });
    s.on('close', () => { if (--open === 0) done({ requests: n, errors, seconds: (Date.now() - t0) / 1000 }); });
  }
} else if (mode === 'upload') {
  const s = net.connect(9, ip);
  const chunk = Buffer.alloc(256 * 1024, 'u');
  let bytes = 0, t0 = 0;
  const pump = () => {
    while (Date.now() - t0 < ms) { bytes += chunk.length; if (!s.write(chunk)) return; }
    s.end();
  };
  s.on('connect', () => { t0 = Date.now(); pump(); });
  s.on('drain', pump);
  s.on('data', () => {});
  s.on('error', fail);
  s.on('close', () => done({ bytes, seconds: (Date.now() - t0) / 1000 }));
} else if (mode === 'download') {
  const s = net.connect(19, ip);
  let bytes = 0, t0 = 0;
  s.on('connect', () => { t0 = Date.now(); setTimeout(() => { const secs = (Date.now() - t0) / 1000; s.destroy(); done({ bytes, seconds: secs }); }, ms); });
  s.on('data', (d) => { bytes += d.length; });
  s.on('error', fail);
} else fail('mode?');
`;

interface Row {
  httpRps: number;
  httpErrors: number;
  uploadMbps: number;
  downloadMbps: number;
}

function client(ns: Netns, mode: 'http' | 'upload' | 'download', ip: string, o: Options): { requests?: number; errors?: number; bytes?: number; seconds: number } {
  const out = ns.exec([process.execPath, '-e', CLIENT, mode, ip, String(o.seconds), String(o.conns)], { timeoutMs: (o.seconds + 60) * 1000 });
  return JSON.parse(out.trim()) as { requests?: number; errors?: number; bytes?: number; seconds: number };
}

/** User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function measure(ns: Netns, ip: string, o: Options): Row {
  const h = client(ns, 'http', ip, o);
  const up = client(ns, 'upload', ip, o);
  const down = client(ns, 'download', ip, o);
  return {
    httpRps: h.requests! / h.seconds,
    httpErrors: h.errors!,
    uploadMbps: (up.bytes! * 8) / up.seconds / 1e6,
    downloadMbps: (down.bytes! * 8) / down.seconds / 1e6,
  };
}

export async function benchTcp(argv: readonly string[] = []): Promise<number> {
  const o = parseArgs(argv);
  if (typeof o === 'string') {
    process.stderr.write(o + '\n');
    return 2;
  }
  const why = labUnavailableReason(['nc']);
  if (why) {
    process.stderr.write(`bench tcp: cannot run: ${why}\n`);
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nanoshare-benchtcp-'));
  const ns = Netns.create('tcpbench');
  const peer = Netns.create('tcpbenchpeer');
  const load0 = loadavg();
  try {
    ns.exec(['ip', 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    ns.exec(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', BRIDGE]);
    ns.exec(['ip', 'link', 'set', BRIDGE, 'up']);
    execFileSync('ip', ['link', 'add', 'nstcpv0', 'netns', ns.name, 'type', 'veth', 'peer', 'name', 'nstcpv1', 'netns', peer.name]);
    ns.exec(['ip', 'link', 'set', 'nstcpv0', 'master', BRIDGE, 'up']);
    peer.exec(['ip', 'addr', 'add', `${KERNEL}/24`, 'dev', 'nstcpv1']);
    peer.exec(['ip', 'link', 'set', 'nstcpv1', 'up']);
    const server = peer.spawn([process.execPath, '-e', PEER_SERVER]);
    let serverOut = '';
    server.stdout!.on('data', (d: Buffer) => (serverOut += d.toString()));
    const machine = ns.spawn([process.execPath, '--single-threaded-gc', ...(process.env.NANOSHARE_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NANOSHARE_BENCH_CPU_PROF}`] : []), BIN, 'run', '--tap', TAP, '--bridge', BRIDGE, '--control', join(dir, 'ctl.sock'), '--stats-interval', '0', '--log-level', 'warn']);
    let machineErr = '';
    machine.stderr!.on('data', (d: Buffer) => (machineErr += d.toString()));
    await waitFor('the kernel peer', () => serverOut.includes('listening'), 10_000);
    await waitFor('the gpos on TCP', () => {
      if (machine.exitCode !== null) throw new Error(`nanoshare exited: ${machineErr}`);
      return ns.run(['nc', '-z', '-w', '1', GPOS, '9'], 3000).status === 0;
    }, 20_000, 200);
    const kernel = measure(ns, KERNEL, o);
    const cpu0 = cpuSeconds(machine.pid!);
    const t0 = Date.now();
    const gpos = measure(ns, GPOS, o);
    const cpu = { seconds: cpuSeconds(machine.pid!) - cpu0, of: (Date.now() - t0) / 1000 };
    await stopChild(machine);
    await stopChild(server);
    const load = { before: load0, after: loadavg() };
    if (o.json) {
      process.stdout.write(JSON.stringify({ options: o, cpus: cpus().length, load, gpos, kernel, nanoshareCpu: cpu }, null, 2) + '\n');
      return 0;
    }
    const f = (x: number, d = 0): string => x.toFixed(d);
    const ratio = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)}%` : '-');
    const rows = [
      ['measure', 'nanoshare gpos', 'Linux kernel (veth)', 'gpos / kernel'],
      [`HTTP GET /status, ${o.conns} keep-alive conns, req/s`, f(gpos.httpRps), f(kernel.httpRps), ratio(gpos.httpRps, kernel.httpRps)],
      ['bulk TCP to the target (discard), Mbit/s', f(gpos.uploadMbps, 1), f(kernel.uploadMbps, 1), ratio(gpos.uploadMbps, kernel.uploadMbps)],
      ['bulk TCP from the target (chargen), Mbit/s', f(gpos.downloadMbps, 1), f(kernel.downloadMbps, 1), ratio(gpos.downloadMbps, kernel.downloadMbps)],
    ];
    process.stdout.write(
      [
        `nanoshare bench tcp (${o.seconds} s per measure, ${cpus().length} CPUs, load ${load0.map((x) => x.toFixed(2)).join(' ')} before)`,
        table(rows),
        `HTTP errors: gpos ${gpos.httpErrors}, kernel ${kernel.httpErrors}`,
        `nanoshare's CPU time over its three measures: ${cpu.seconds.toFixed(1)} s of ${cpu.of.toFixed(1)} s (the processor is one thread: near 100 % it is the limit)`,
        '',
      ].join('\n'),
    );
    return gpos.httpErrors === 0 && gpos.httpRps > 0 && gpos.uploadMbps > 0 && gpos.downloadMbps > 0 ? 0 : 1;
  } finally {
    await ns.delete();
    await peer.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}
