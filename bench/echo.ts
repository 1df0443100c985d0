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
import { median } from './floor.js';
import { table } from './table.js';

const FRAMES = Number(process.env.BENCH_ECHO_FRAMES ?? 200_000);
const BATCH = 32;
const PAYLOAD = 64;

interface EchoRig {
  m: ReturnType<typeof buildMachine>;
  link: MemoryLink;
  clock: ManualClock;
  /** UDP datagrams to the gpos's echo port, from BATCH source ports. */
  batch: Uint8Array[];
}

/** The machine on an in-memory link, its ARP entry for the host learnt, and BATCH echo requests. */
function echoRig(): EchoRig {
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
  link.drain();
  const batch = Array.from({ length: BATCH }, (_, i) => udpFrame(gpos, host, hostIp, gposIp, 20000 + i, 7, new Uint8Array(PAYLOAD)));
  return { m, link, clock, batch };
}

function machineEcho(): { frames: number; ns: number; heapMb: number; replies: number } {
  const { m, link, clock, batch } = echoRig();
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

const COLD_ECHOES = 300;
const IDLE_MS = 2;

/**
 * One datagram at a time: its echo's time in the process (in through the NIC to the reply on the
 * link), back to back and after the process slept IDLE_MS (a probe every 2 ms, as the floor bench's
 * low rate). The same code either way, so the difference is what the path costs cold: its code
 * and objects no longer in the caches when a request comes alone. Medians, in microseconds.
 */
async function machineColdEcho(): Promise<{ hotUs: number; coldUs: number }> {
  const { m, link, clock, batch } = echoRig();
  const one = [batch[0]!];
  const echo = (): number => {
    const t0 = performance.now();
    link.inject(one);
    clock.advance(0);
    const n = link.drain().length;
    const us = (performance.now() - t0) * 1000;
    if (n !== 1) throw new Error(`bench echo: ${n} replies to one datagram`);
    return us;
  };
  for (let i = 0; i < 20_000; i++) echo(); // warm up the JIT
  const hot: number[] = [];
  const cold: number[] = [];
  for (let i = 0; i < COLD_ECHOES; i++) hot.push(echo());
  for (let i = 0; i < COLD_ECHOES; i++) {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    cold.push(echo());
  }
  m.stop();
  return { hotUs: median(hot), coldUs: median(cold) };
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
  const one = await machineColdEcho();
  const coldRows = [
    ['one datagram at a time (the same path, medians of ' + COLD_ECHOES + ')', 'us in the process'],
    ['back to back (its code and objects in the caches)', one.hotUs.toFixed(1)],
    [`after ${IDLE_MS} ms asleep (a request that comes alone)`, one.coldUs.toFixed(1)],
  ];
  process.stdout.write(['nanoshare bench echo', table(rows), '', table(coldRows), ''].join('\n') + '\n');
  return mine.replies === mine.frames ? 0 : 1;
}
