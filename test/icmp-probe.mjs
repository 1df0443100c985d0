#!/usr/bin/env node
// Our ICMP echo instrument, used by the system tests and `npm run bench -- floor` alike, in place
// of iputils `ping`: the same code measures every responder (nanoshare, the C floor, the kernel),
// timestamps are taken in this process around the sendto/recvfrom (no parsing of another tool's
// text), and a fresh machine needs only `npm ci` (raw-socket is a devDependency), not a ping binary.
// A raw socket lives in the network namespace of the process that opens it, so this runs INSIDE
// the lab namespace (`ip netns exec NS node test/icmp-probe.mjs ...`). Needs root (CAP_NET_RAW).
//
//   node test/icmp-probe.mjs rtt IP [COUNT] [INTERVAL_MS] [TIMEOUT_MS] [PAYLOAD_BYTES]   one JSON line: {sent, received, rttsMs}
//   node test/icmp-probe.mjs flood IP SECONDS [WINDOW]                  one JSON line: {sent, received, seconds, rate, lost}
//   node test/icmp-probe.mjs first IP [TIMEOUT_MS]                       one JSON line: {atNs} of the first reply
//   node test/icmp-probe.mjs serve     JSON commands on stdin ({"op":"rtt","ip":..,...}), one JSON line back each
//
// An echo request is 8 bytes of ICMP header and 56 of payload (ping's default, 84-byte IP packet)
// unless PAYLOAD_BYTES says otherwise (4000: the kernel fragments it, as `ping -s 4000` would).
// Each operation uses an identifier of its own, so replies to an earlier operation are ignored.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const raw = createRequire(import.meta.url)('raw-socket');

const ECHO_REQUEST = 8;
const ECHO_REPLY = 0;
const ICMP_HEADER_LEN = 8;
const DEFAULT_PAYLOAD_LEN = 56;

const nowNs = () => Number(process.hrtime.bigint());

let nextId = (process.pid * 7919) & 0xffff;
const freshId = () => (nextId = (nextId + 1) & 0xffff);

/**
 * One raw ICMP socket; replies are routed to the operation whose identifier they carry. raw-socket
 * is used below its queueing layer: a send is one synchronous sendto (no wait for a writable
 * event per request, which would cap a flood at one request per event-loop turn) and each
 * readable event drains the socket until EAGAIN, so the probe is never the bottleneck.
 */
class Prober {
  constructor(payloadLen = DEFAULT_PAYLOAD_LEN) {
    this.sock = raw.createSocket({ protocol: raw.Protocol.ICMP });
    this.handlers = new Map(); // id -> (seq, atNs, fromIp) => void
    this.tx = Buffer.alloc(ICMP_HEADER_LEN + payloadLen);
    this.rx = Buffer.alloc(65536);
    for (let i = ICMP_HEADER_LEN; i < this.tx.length; i++) this.tx[i] = i & 0xff;
    const wrap = this.sock.wrap;
    const onReply = (buf, bytes, source) => {
      const at = nowNs();
      // IPv4 raw sockets deliver the IP header too: skip IHL words.
      if (bytes < 20) return;
      const ihl = (buf[0] & 0x0f) * 4;
      if (bytes < ihl + ICMP_HEADER_LEN || buf[ihl] !== ECHO_REPLY) return;
      const h = this.handlers.get(buf.readUInt16BE(ihl + 4));
      if (h) h(buf.readUInt16BE(ihl + 6), at, source);
    };
    wrap.removeAllListeners('recvReady');
    wrap.on('recvReady', () => {
      for (let i = 0; i < 256; i++) {
        try {
          wrap.recv(this.rx, onReply);
        } catch {
          return; // EAGAIN: drained
        }
      }
    });
    this.sock.on('error', (e) => {
      process.stderr.write(`icmp-probe: ${e.message}\n`);
      process.exitCode = 1;
    });
    this.sent = () => {};
  }

  /** Send one request now; `sentAt[seq]` gets the time right before sendto. False when the kernel refused it. */
  send(ip, id, seq, sentAt) {
    const b = this.tx;
    b[0] = ECHO_REQUEST;
    b[1] = 0;
    b.writeUInt16BE(0, 2);
    b.writeUInt16BE(id, 4);
    b.writeUInt16BE(seq & 0xffff, 6);
    let sum = 0;
    for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
    if (b.length & 1) sum += b[b.length - 1] << 8;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, 2);
    sentAt[seq & 0xffff] = nowNs();
    try {
      this.sock.wrap.send(b, 0, b.length, ip, this.sent);
      return true;
    } catch {
      return false; // ENOBUFS, EHOSTUNREACH (no ARP answer yet): counted as no reply
    }
  }

  /** COUNT requests every INTERVAL ms; RTTs in ms of the replies that came within TIMEOUT of the last send. */
  rtt(ip, count = 3, intervalMs = 200, timeoutMs = 1000) {
    const id = freshId();
    const sentAt = new Float64Array(65536).fill(NaN);
    const rttsMs = [];
    let sent = 0;
    let dup = 0;
    return new Promise((resolve) => {
      const done = () => {
        this.handlers.delete(id);
        resolve({ ip, sent, received: rttsMs.length, duplicates: dup, rttsMs });
      };
      let endTimer;
      this.handlers.set(id, (seq, at, from) => {
        if (from !== ip) return;
        const t = sentAt[seq];
        if (Number.isNaN(t)) {
          dup++;
          return;
        }
        sentAt[seq] = NaN;
        rttsMs.push((at - t) / 1e6);
        if (rttsMs.length === count && sent === count) {
          clearTimeout(endTimer);
          done();
        }
      });
      const tick = () => {
        this.send(ip, id, sent, sentAt);
        sent++;
        if (sent < count) setTimeout(tick, intervalMs);
        else endTimer = setTimeout(done, timeoutMs);
      };
      tick();
    });
  }

  /**
   * A pipelined flood: WINDOW requests in flight, each reply sends the next. A request without a
   * reply after 200 ms is counted lost and replaced, so the window never drains.
   */
  flood(ip, seconds, window = 32) {
    const id = freshId();
    const sentAt = new Float64Array(65536).fill(NaN);
    let sent = 0;
    let received = 0;
    let lost = 0;
    let seq = 0;
    let stopping = false;
    return new Promise((resolve) => {
      const t0 = nowNs();
      const next = () => {
        if (stopping) return;
        // A sequence number still outstanding 65536 sends ago is long lost: reuse it.
        this.send(ip, id, seq, sentAt);
        seq = (seq + 1) & 0xffff;
        sent++;
      };
      this.handlers.set(id, (s, _at, from) => {
        if (from !== ip || Number.isNaN(sentAt[s])) return;
        sentAt[s] = NaN;
        received++;
        next();
      });
      const reaper = setInterval(() => {
        const old = nowNs() - 200e6;
        for (let s = 0; s < 65536; s++) {
          if (sentAt[s] < old) {
            sentAt[s] = NaN;
            lost++;
            next();
          }
        }
      }, 50);
      for (let i = 0; i < window; i++) next();
      setTimeout(() => {
        stopping = true;
        clearInterval(reaper);
        const secs = (nowNs() - t0) / 1e9;
        // Late replies to the last window are not counted: the rate is over the timed interval.
        this.handlers.delete(id);
        resolve({ ip, sent, received, lost, seconds: secs, rate: received / secs, window });
      }, seconds * 1000);
    });
  }

  /** Probe every millisecond until the first reply; its CLOCK_MONOTONIC time (process.hrtime) in ns. */
  first(ip, timeoutMs = 20_000) {
    const id = freshId();
    const sentAt = new Float64Array(65536).fill(NaN);
    let seq = 0;
    return new Promise((resolve) => {
      const t0 = nowNs();
      let timer;
      const finish = (r) => {
        clearInterval(timer);
        this.handlers.delete(id);
        resolve(r);
      };
      this.handlers.set(id, (s, at, from) => {
        if (from === ip && !Number.isNaN(sentAt[s])) finish({ ip, atNs: at, probes: seq });
      });
      timer = setInterval(() => {
        if (nowNs() - t0 > timeoutMs * 1e6) return finish({ ip, atNs: null, probes: seq });
        this.send(ip, id, seq, sentAt);
        seq = (seq + 1) & 0xffff;
      }, 1);
    });
  }

  close() {
    this.sock.close();
  }
}

async function runOp(p, cmd) {
  switch (cmd.op) {
    case 'rtt':
      return p.rtt(cmd.ip, cmd.count, cmd.intervalMs, cmd.timeoutMs);
    case 'flood':
      return p.flood(cmd.ip, cmd.seconds, cmd.window);
    case 'first':
      return p.first(cmd.ip, cmd.timeoutMs);
    case 'now':
      return { atNs: nowNs() };
    default:
      return { error: `unknown op ${JSON.stringify(cmd.op)}` };
  }
}

const num = (s, d) => (s === undefined ? d : Number(s));

async function main(argv) {
  const [mode, ip, a, b, c, d] = argv;
  const p = new Prober(mode === 'rtt' ? num(d, DEFAULT_PAYLOAD_LEN) : DEFAULT_PAYLOAD_LEN);
  const out = (r) => process.stdout.write(JSON.stringify(r) + '\n');
  try {
    if (mode === 'rtt') out(await p.rtt(ip, num(a, 3), num(b, 200), num(c, 1000)));
    else if (mode === 'flood') out(await p.flood(ip, num(a, 1), num(b, 32)));
    else if (mode === 'first') out(await p.first(ip, num(a, 20_000)));
    else if (mode === 'serve') {
      // One command at a time, in order; the answer carries the command's `tag` back.
      const lines = createInterface({ input: process.stdin });
      for await (const line of lines) {
        if (!line.trim()) continue;
        const cmd = JSON.parse(line);
        out({ tag: cmd.tag, ...(await runOp(p, cmd)) });
      }
    } else {
      process.stderr.write('usage: icmp-probe.mjs rtt|flood|first IP [...] | serve\n');
      process.exitCode = 2;
    }
  } finally {
    p.close();
  }
}

await main(process.argv.slice(2));
