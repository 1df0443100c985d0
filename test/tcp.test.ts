// TCP, HTTP and TCP echo on the whole machine, on the in-memory link and a virtual clock. The
// test plays the host 10.77.0.1 with our own stack (TCP installed) on the other end of the
// cable; a FaultLink between the machine and the cable drops, reorders and duplicates frames.
import { describe, expect, it } from 'vitest';
import { FaultLink, type FaultOptions } from '../src/link/fault.js';
import { MemoryLink } from '../src/link/memory.js';
import { ManualClock } from '../src/machine/clock.js';
import { buildMachine, type Machine } from '../src/board/machine.js';
import { defaultConfig } from '../src/board/config.js';
import { NetStack, TCP_SOCKETS, tcpProtocol, type TcpConnection, type TcpLayer } from '../src/net/index.js';
import { EtherType, EthernetFrame, IpProtocol, Ipv4Packet, isWireError, parseIpv4, parseMac } from '../src/wire/index.js';

const HOST_MAC = parseMac('02:00:00:00:00:01')!;
const HOST_IP = parseIpv4('10.77.0.1')!;
const RTOS_IP = parseIpv4('10.77.0.10')!;
const GPOS_IP = parseIpv4('10.77.0.11')!;

interface Bench {
  clock: ManualClock;
  machine: Machine;
  host: NetStack;
  tcp: TcpLayer;
  fault: FaultLink;
  fromMachine: Uint8Array[];
  run(us: number): void;
}

function boot(faults: Partial<FaultOptions> = {}, lineRateBps?: number): Bench {
  const clock = new ManualClock(1_000_000);
  const machineSide = new MemoryLink('mem0');
  const hostSide = new MemoryLink('host0');
  MemoryLink.pair(machineSide, hostSide);
  const fault = new FaultLink(machineSide, { seed: 7, ...faults }, () => clock.now());
  const cfg = defaultConfig();
  cfg.addressProbe = false; // addresses taken at once: this is not about the boot probe
  if (lineRateBps !== undefined) cfg.lineRateBps = lineRateBps;
  const machine = buildMachine(cfg, fault, clock);
  const host = new NetStack({ mac: HOST_MAC, ipv4: { addr: HOST_IP, prefixLen: 24 } }, { transmit: (f) => hostSide.send(f) }, () => clock.now());
  host.install(tcpProtocol());
  const fromMachine: Uint8Array[] = [];
  // The host handles a frame after the sender's unit has finished, as a real peer would.
  hostSide.attach({
    onFrames: (batch) => {
      for (const f of batch) {
        fromMachine.push(f);
        clock.defer(() => host.processFrame(f));
      }
    },
    onError: () => {},
  });
  // The host's timers and the fault link's held frames, on the same virtual clock.
  const tick = (): void => {
    fault.poll(true);
    const at = host.pollAt();
    if (at !== undefined && at <= clock.now()) host.poll();
    clock.at(clock.now() + 200, tick);
  };
  clock.at(clock.now() + 200, tick);
  machine.start();
  clock.advance(0);
  return { clock, machine, host, tcp: host.sockets.require(TCP_SOCKETS), fault, fromMachine, run: (us) => clock.advance(us) };
}

/** Connect, send `request`, collect the reply until the server closes or `us` passes. */
function exchange(b: Bench, dst: number, port: number, request: Uint8Array, us = 2_000_000, closeAfterSend = false): { data: Uint8Array; closed: string | undefined; conn: TcpConnection } {
  const chunks: Uint8Array[] = [];
  let closed: string | undefined;
  let off = 0;
  const pump = (c: TcpConnection): void => {
    while (off < request.length) {
      const n = c.send(request.subarray(off));
      if (n === 0) return;
      off += n;
    }
    if (closeAfterSend) c.close();
  };
  const conn = b.tcp.connect(dst, port, {
    onConnect: pump,
    onWritable: pump,
    onData: (_c, d) => void chunks.push(d.slice()),
    onEnd: (c) => c.close(),
    onClose: (_c, why) => (closed = why),
  });
  b.run(us);
  const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((o, c) => (data.set(c, o), o + c.length), 0);
  return { data, closed, conn };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Split a byte stream of HTTP responses (Content-Length framed). */
function responses(s: string): Array<{ status: number; headers: string; body: string }> {
  const out: Array<{ status: number; headers: string; body: string }> = [];
  let rest = s;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`truncated response: ${JSON.stringify(rest.slice(0, 80))}`);
    const headers = rest.slice(0, end);
    const len = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
    const head = /^HEAD /.test(headers) ? 0 : len;
    out.push({ status: Number(headers.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + head) });
    rest = rest.slice(end + 4 + head);
  }
  return out;
}

describe('TCP on the gpos (in-memory link, virtual clock)', () => {
  it('serves / and /status over HTTP/1.1 with keep-alive and pipelining', () => {
    const b = boot();
    b.run(1_500_000);
    const req = 'GET / HTTP/1.1\r\nHost: g\r\n\r\nGET /status HTTP/1.1\r\nHost: g\r\n\r\nGET /nope HTTP/1.1\r\nHost: g\r\n\r\nDELETE / HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n';
    const { data, closed } = exchange(b, GPOS_IP, 80, text(req));
    const rs = responses(str(data));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 404, 405]);
    expect(rs[0]!.headers).toMatch(/content-type: text\/html/i);
    expect(rs[0]!.body).toContain('<h1>nanoshare gpos</h1>');
    const status = JSON.parse(rs[1]!.body) as { name: string; os: string; mac: string; ipv4: string; uptimeS: number; protocols: string[]; counters: { tcp: { passiveOpens: number } } };
    expect(status).toMatchObject({ name: 'gpos', os: 'gpos', mac: '02:4e:53:00:00:0b', ipv4: '10.77.0.11/24' });
    expect(status.protocols).toContain('tcp');
    expect(status.uptimeS).toBeGreaterThanOrEqual(1.5);
    expect(status.uptimeS).toBeLessThan(4);
    expect(status.counters.tcp.passiveOpens).toBe(1);
    expect(rs[3]!.headers).toMatch(/allow: GET, HEAD/i);
    expect(rs[3]!.headers).toMatch(/connection: close/i);
    expect(closed).toBe('closed');
    const g = b.machine.guests.get('gpos')!;
    expect(g.http!.counters.requests).toBe(4);
    expect(g.http!.counters.responses).toEqual({ 200: 2, 404: 1, 405: 1 });
  });

  it('answers a malformed request with 400 and an oversized header with 431, then closes', () => {
    const b = boot();
    const bad = exchange(b, GPOS_IP, 80, text('GET /\r\n\r\n'));
    expect(responses(str(bad.data)).map((r) => r.status)).toEqual([400]);
    expect(bad.closed).toBe('closed');
    const big = exchange(b, GPOS_IP, 80, text(`GET / HTTP/1.1\r\nHost: g\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`));
    expect(responses(str(big.data)).map((r) => r.status)).toEqual([431]);
    expect(big.closed).toBe('closed');
  });

  it('echoes 200 KB on TCP port 7 intact', () => {
    const b = boot();
    const payload = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff);
    const { data } = exchange(b, GPOS_IP, 7, payload, 3_000_000, true);
    expect(data.length).toBe(payload.length);
    expect(data.every((x, i) => x === payload[i])).toBe(true);
    expect(b.machine.guests.get('gpos')!.tcpEcho!.counters.bytes).toBe(200_000);
  });

  it('discard (9) takes bulk data and closes with the client; chargen (19) streams the RFC 864 pattern', () => {
    const b = boot({}, 100e6); // a line rate, so a source that never stops still lets virtual time pass
    const up = exchange(b, GPOS_IP, 9, new Uint8Array(500_000), 3_000_000, true);
    expect(up.closed).toBe('closed');
    expect(b.machine.guests.get('gpos')!.discard!.counters.bytes).toBe(500_000);
    const chunks: Uint8Array[] = [];
    const c = b.tcp.connect(GPOS_IP, 19, { onData: (_c, d) => void chunks.push(d.slice()) });
    b.run(500_000);
    c.close();
    b.run(500_000);
    const got = chunks.reduce((n, x) => n + x.length, 0);
    expect(got).toBeGreaterThan(100_000);
    const line = (first: number): string => Array.from({ length: 72 }, (_, k) => String.fromCharCode(32 + ((first + k) % 95))).join('') + '\r\n';
    expect(str(chunks[0]!.subarray(0, 74))).toBe(line(0));
    expect(line(0)[71]).toBe('g');
    expect(str(chunks[0]!.subarray(74, 148))).toBe(line(1));
  });

  it('a SYN to a closed gpos port gets a RST; the rtos runs no TCP and answers protocol unreachable', () => {
    const b = boot();
    const closedPort = exchange(b, GPOS_IP, 81, new Uint8Array(0), 100_000);
    expect(closedPort.closed).toBe('reset');
    const rtos = exchange(b, RTOS_IP, 80, new Uint8Array(0), 100_000);
    expect(rtos.closed).toBeUndefined(); // no RST from the rtos: our SYN is still retrying
    const fromRtos = b.fromMachine
      .map((f) => EthernetFrame.checked(f))
      .filter((e): e is EthernetFrame => !isWireError(e) && e.etherType() === EtherType.Ipv4)
      .map((e) => Ipv4Packet.checked(e.payload()))
      .filter((p): p is Ipv4Packet => !isWireError(p) && p.srcAddr() === RTOS_IP);
    expect(fromRtos.map((p) => p.protocol())).toContain(IpProtocol.Icmp);
    expect(fromRtos.map((p) => p.protocol())).not.toContain(IpProtocol.Tcp);
    const rtosGuest = b.machine.guests.get('rtos')!;
    expect(rtosGuest.net.protocols).not.toContain('tcp');
    expect(rtosGuest.tcp).toBeUndefined();
    expect(b.machine.guests.get('gpos')!.net.protocols).toContain('tcp');
  });

  it('survives 3% loss, reordering and duplication both ways: echo intact, HTTP answers, retransmissions counted', () => {
    const b = boot({ drop: 0.03, reorder: 0.05, duplicate: 0.02, seed: 42 });
    const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 13 + 5) & 0xff);
    const echo = exchange(b, GPOS_IP, 7, payload, 60_000_000, true);
    expect(echo.data.length).toBe(payload.length);
    expect(echo.data.every((x, i) => x === payload[i])).toBe(true);
    for (let i = 0; i < 5; i++) {
      const r = exchange(b, GPOS_IP, 80, text('GET /status HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n'), 30_000_000);
      expect(responses(str(r.data)).map((x) => x.status)).toEqual([200]);
    }
    expect(b.fault.faults.dropped).toBeGreaterThan(10);
    expect(b.fault.faults.reordered).toBeGreaterThan(10);
    expect(b.fault.faults.duplicated).toBeGreaterThan(5);
    const t = b.machine.guests.get('gpos')!.tcp!.counters;
    expect(t.retransmits + b.tcp.counters.retransmits).toBeGreaterThan(0);
    expect(t.outOfOrder + b.tcp.counters.outOfOrder).toBeGreaterThan(0);
  });
});
