// `npm run bench -- echo`: per-frame cost of the whole machine, no privileges needed. UDP echo
// datagrams go in on the in-memory link, through the NIC, the nanokernel's demux, the gpos's
// driver, stack and echo service, and back out through the arbiter. The peer, in the same run:
// Node's own UDP echo over the kernel's loopback (dgram), the same payload, 32 in flight.
import { createSocket } from 'node:dgram';
import { MemoryLink } from '../src/link/memory.js';
import { ManualClock } from '../src/machine/clock.js';
import { buildMachine } from '../src/board/machine.js';
import { defaultConfig } from '../src/board/config.js';
import { parseIpv4, parseMac, ArpOperation, ArpRepr, MAC_BROADCAST } from '../src/wire/index.js';
import { arpFrame, udpFrame } from '../src/net/testing.js';
import { table } from './table.js';

const FRAMES = Number(process.env.BENCH_ECHO_FRAMES ?? 200_000);
const BATCH = 32;
const PAYLOAD = 64;

function machineEcho(): { frames: number; ns: number; heapMb: number; replies: number } {
  const clock = new ManualClock();
  const link = new MemoryLink('mem0', 1500, 1024);
  const cfg = defaultConfig();
  cfg.addressProbe = false; // addresses taken at once: this is not about the boot probe
  // One client at full speed on a virtual clock that does not move: measure the path, not the
  // echo's per-source reflector limit (which would answer 64 and refuse the rest).
  for (const g of cfg.guests) g.echoRate = 0;
  const m = buildMachine(cfg, link, clock);
  m.start();
  const host = parseMac('02:00:00:00:00:01')!;
  const hostIp = parseIpv4('10.77.0.1')!;
  const gpos = parseMac('02:4e:53:00:00:0b')!;
  const gposIp = parseIpv4('10.77.0.11')!;
  link.inject([arpFrame(MAC_BROADCAST, host, new ArpRepr(ArpOperation.Request, host, hostIp, 0, gposIp))]);
  clock.advance(0);
  const batch = Array.from({ length: BATCH }, (_, i) => udpFrame(gpos, host, hostIp, gposIp, 20000 + i, 7, new Uint8Array(PAYLOAD)));
  let replies = 0;
  const run = (n: number): void => {
    for (let i = 0; i < n; i += BATCH) {
      link.inject(batch);
      clock.advance(0);
      replies += link.drain().length;
    }
  };
  run(20_000); // warm up the JIT
  replies = 0;
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  run(FRAMES);
  const ns = Number(process.hrtime.bigint() - t0);
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  m.stop();
  return { frames: FRAMES, ns, heapMb, replies };
}

function dgramEcho(count: number): Promise<{ frames: number; ns: number; replies: number }> {
  return new Promise((resolve) => {
    const server = createSocket('udp4');
    const client = createSocket('udp4');
    const payload = Buffer.alloc(PAYLOAD);
    server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
    let sent = 0;
    let got = 0;
    let t0 = 0n;
    client.on('message', () => {
      got++;
      if (sent < count) {
        sent++;
        client.send(payload, (server.address()).port, '127.0.0.1');
      } else if (got === count) {
        const ns = Number(process.hrtime.bigint() - t0);
        client.close();
        server.close();
        resolve({ frames: count, ns, replies: got });
      }
    });
    server.bind(0, '127.0.0.1', () => {
      client.bind(0, '127.0.0.1', () => {
        t0 = process.hrtime.bigint();
        for (let i = 0; i < BATCH; i++, sent++) client.send(payload, server.address().port, '127.0.0.1');
      });
    });
  });
}

export async function benchEcho(): Promise<number> {
  const mine = machineEcho();
  const peer = await dgramEcho(Math.min(FRAMES, 100_000));
  const rows = [
    ['UDP echo, 64-byte payload, 32 in flight', 'datagrams', 'replies', 'us/datagram', 'datagrams/s', 'heap growth MB'],
    ['nanoshare: NIC -> nanokernel -> gpos -> back (in-memory link)', String(mine.frames), String(mine.replies), (mine.ns / mine.frames / 1000).toFixed(2), Math.round((mine.frames * 1e9) / mine.ns).toString(), mine.heapMb.toFixed(1)],
    ['peer: Node dgram echo over the kernel loopback', String(peer.frames), String(peer.replies), (peer.ns / peer.frames / 1000).toFixed(2), Math.round((peer.frames * 1e9) / peer.ns).toString(), '-'],
  ];
  process.stdout.write(['nanoshare bench echo', table(rows), ''].join('\n') + '\n');
  return mine.replies === mine.frames ? 0 : 1;
}
