// TCP (RFC 9293) as a pure state machine over an injected clock and an injected IP layer:
// passive and active open, MSS and window-scale options, sliding window with flow control
// (our receive buffer sets the window we advertise; the peer's window and our congestion window
// bound what we send), retransmission with the RTO of RFC 6298 (Karn's rule, exponential
// backoff), fast retransmit and NewReno-style recovery on three duplicate ACKs (RFC 5681/6582),
// RST and challenge ACKs (RFC 5961), FIN in both directions, TIME_WAIT, and bounds on
// everything an attacker can grow: connections, half-open connections per listener (the oldest
// is evicted: a SYN flood cannot lock out the port), TIME_WAIT entries, out-of-order segments.
// Every received segment ends handled or dropped with a named reason (TcpDropReason). Timers
// are deadlines that poll() runs and pollAt() reports; no Date, no setTimeout.

import { IPV4_HEADER_LEN, IpProtocol, TCP_HEADER_LEN, TcpFlag, TcpPacket, TcpRepr, isWireError, pseudoHeaderSum } from '../wire/index.js';
import type { IpAddr, Ipv4, Ipv4Packet, TcpOptions, WireError } from '../wire/index.js';
import { ByteRing } from './byte-ring.js';
import type { NetProtocol, RxMeta } from './dispatch.js';
import type { InterfaceInner } from './iface.js';
import { dispatchIpv4 } from './ipv4.js';
import { PacketBuffer } from './packet-buffer.js';
import { SocketKey } from './socket-set.js';
import type { ProtocolState } from './socket-set.js';

/** What sits below TCP: the clock and a way to send one segment to an address. */
export interface TcpIpLayer {
  /** Monotonic microseconds. */
  now(): number;
  /** Send a segment of `l4Len` bytes to `dst`; `emit` writes it given the pseudo-header sum. False: dropped (counted below). */
  send(dst: IpAddr, l4Len: number, emit: (l4: Uint8Array, pseudoSum: number) => void): boolean;
}

export interface TcpConfig {
  /** Largest segment payload we can receive (IP MTU - 40 for IPv4). */
  mss: number;
  /** Connections in any state but TIME_WAIT, default 256; beyond it a SYN is answered with RST. */
  maxConnections?: number;
  /** Half-open (SYN_RECEIVED) connections per listener by default, default 64; the oldest is evicted. */
  backlog?: number;
  /** TIME_WAIT entries kept, default 512; the oldest is dropped early. */
  timeWaitMax?: number;
  /** Receive buffer (and largest window) per connection, default 256 KiB. */
  rxBuffer?: number;
  /** Send buffer per connection, default 256 KiB. */
  txBuffer?: number;
  /** Maximum segment lifetime; TIME_WAIT lasts 2 MSL. Default 30 s. */
  mslUs?: number;
  /** RTO bounds (RFC 6298 2.4 asks for 1 s minimum; on a LAN we follow Linux's 200 ms). */
  rtoMinUs?: number;
  rtoMaxUs?: number;
  /** RTO before any RTT sample, default 1 s (RFC 6298 2.1). */
  rtoInitialUs?: number;
  /** Retransmissions of one segment before the connection is given up, default 8 (SYNs: 5). */
  maxRetries?: number;
  /** Delay of an ACK for a single segment, default 1 ms; every second full segment is ACKed at once. */
  delayedAckUs?: number;
  /** A FIN_WAIT_2 connection whose peer never closes is dropped after this, default 60 s. */
  finWait2Us?: number;
  /** Out-of-order segments kept per connection, default 32. */
  oooMax?: number;
  /** Source of initial sequence numbers (a u32 per call). Default: a PRNG seeded from the clock. */
  random?: () => number;
}

type Resolved = Required<TcpConfig>;

export type TcpState =
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSED';

/** Why a received segment was dropped. */
export const TCP_DROP_REASONS = [
  'port-zero', // source or destination port 0
  'not-unicast', // to a broadcast or multicast address (TCP is unicast only; never answered)
  'malformed', // header or options refused by wire/tcp (also in the stack's rxMalformed)
  'no-listener', // SYN to a port nobody listens on (answered with RST)
  'no-connection', // a non-SYN segment for no connection (answered with RST unless it was one)
  'bad-flags', // SYN with FIN or RST, or SYN-ACK to a listener
  'too-many-connections', // SYN while maxConnections are in use (answered with RST)
  'out-of-window', // sequence number not acceptable (answered with an ACK)
  'bad-ack', // ACK of something we never sent in SYN_SENT / SYN_RECEIVED (answered with RST)
  'ack-unsent', // ACK beyond SND.MAX in a synchronized state (answered with an ACK)
  'rst-challenged', // RST in the window but not exactly at RCV.NXT (challenge ACK, RFC 5961 3)
  'syn-challenged', // SYN on a synchronized connection (challenge ACK, RFC 5961 4)
  'no-ack', // segment without ACK in a synchronized state
  'ooo-full', // out-of-order segment with the reassembly queue full
] as const;
export type TcpDropReason = (typeof TCP_DROP_REASONS)[number];

export interface TcpCounters {
  rxSegments: number;
  txSegments: number;
  /** Segments the IP layer refused (no route, queue full); their data is sent again later. */
  txFailed: number;
  activeOpens: number;
  passiveOpens: number;
  /** Connections that reached ESTABLISHED. */
  established: number;
  resetsRx: number;
  resetsTx: number;
  retransmits: number;
  fastRetransmits: number;
  /** Connections given up after maxRetries retransmissions. */
  timeouts: number;
  /** Half-open connections evicted by a newer SYN (SYN flood defence). */
  synEvicted: number;
  /** TIME_WAIT entries dropped early to stay within timeWaitMax. */
  timeWaitEvicted: number;
  outOfOrder: number;
  /** Zero-window probes sent (persist timer). */
  windowProbes: number;
  drops: Record<TcpDropReason, number>;
}

function newCounters(): TcpCounters {
  const drops = {} as Record<TcpDropReason, number>;
  for (const r of TCP_DROP_REASONS) drops[r] = 0;
  return {
    rxSegments: 0,
    txSegments: 0,
    txFailed: 0,
    activeOpens: 0,
    passiveOpens: 0,
    established: 0,
    resetsRx: 0,
    resetsTx: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
    synEvicted: 0,
    timeWaitEvicted: 0,
    outOfOrder: 0,
    windowProbes: 0,
    drops,
  };
}

/** Why a connection ended: its FINs were exchanged, the peer reset it, it timed out, or we aborted it. */
export type TcpCloseReason = 'closed' | 'reset' | 'timeout' | 'aborted';

/** What the application hears from a connection. Data views are valid only during the call. */
export interface TcpHandler {
  /** Active open completed. */
  onConnect?(c: TcpConnection): void;
  /** In-order bytes from the peer (a view: copy to keep). Not called while paused. */
  onData?(c: TcpConnection, data: Uint8Array): void;
  /** The peer sent FIN: no more data will come (after every onData). */
  onEnd?(c: TcpConnection): void;
  /** Space in the send buffer again after send() took less than it was given. */
  onWritable?(c: TcpConnection): void;
  /** The connection is gone; called once. */
  onClose?(c: TcpConnection, reason: TcpCloseReason): void;
}

export interface TcpListenOptions {
  /** Half-open connections kept for this port (default: the layer's backlog). */
  backlog?: number;
  /** A connection reached ESTABLISHED: set its handler here. */
  onAccept(c: TcpConnection): void;
}

export interface TcpListener {
  readonly port: number;
  close(): void;
}

// Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4).
const add = (a: number, n: number): number => (a + n) >>> 0;
const diff = (a: number, b: number): number => (a - b) | 0; // a - b as a signed distance
const lt = (a: number, b: number): boolean => diff(a, b) < 0;
const le = (a: number, b: number): boolean => diff(a, b) <= 0;

const SECOND = 1_000_000;
const IPV4_DEFAULT_MSS = 536; // RFC 9293 3.7.1: without the option
const MAX_WINDOW_FIELD = 0xffff;
const DUPACK_THRESHOLD = 3;
const SYN_RETRIES = 5;
const TX_RETRY_US = 200; // after the IP layer refused a segment (its queue was full)
const INITIAL_CWND_SEGMENTS = 10; // RFC 6928

function resolve(c: TcpConfig): Resolved {
  let seed = 0x9e3779b9;
  const r: Resolved = {
    mss: c.mss,
    maxConnections: c.maxConnections ?? 256,
    backlog: c.backlog ?? 64,
    timeWaitMax: c.timeWaitMax ?? 512,
    rxBuffer: c.rxBuffer ?? 256 * 1024,
    txBuffer: c.txBuffer ?? 256 * 1024,
    mslUs: c.mslUs ?? 30 * SECOND,
    rtoMinUs: c.rtoMinUs ?? 200_000,
    rtoMaxUs: c.rtoMaxUs ?? 60 * SECOND,
    rtoInitialUs: c.rtoInitialUs ?? SECOND,
    maxRetries: c.maxRetries ?? 8,
    delayedAckUs: c.delayedAckUs ?? 1000,
    finWait2Us: c.finWait2Us ?? 60 * SECOND,
    oooMax: c.oooMax ?? 32,
    random:
      c.random ??
      (() => {
        // xorshift32; the caller should inject a better source (RFC 6528), this only avoids ISS 0.
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return seed >>> 0;
      }),
  };
  for (const k of ['mss', 'maxConnections', 'backlog', 'timeWaitMax', 'rxBuffer', 'txBuffer', 'maxRetries', 'oooMax'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new RangeError(`TcpConfig: ${k} must be an integer >= 1`);
  }
  if (r.mss < 64 || r.mss > 0xffff) throw new RangeError('TcpConfig: mss must be 64..65535');
  return r;
}

/** Smallest window-scale shift that lets `bytes` be advertised in 16 bits. */
function scaleFor(bytes: number): number {
  let s = 0;
  while (s < 14 && MAX_WINDOW_FIELD << s < bytes) s++;
  return s;
}

interface OooSegment {
  seq: number;
  data: Uint8Array;
  fin: boolean;
}

interface Listener {
  port: number;
  backlog: number;
  onAccept: (c: TcpConnection) => void;
  /** Half-open connections of this listener, oldest first. */
  halfOpen: Set<TcpConnection>;
}

/** All TCP connections and listeners of one stack. */
export class TcpLayer implements ProtocolState {
  readonly cfg: Resolved;
  readonly counters: TcpCounters = newCounters();
  private readonly conns = new Map<string, TcpConnection>();
  private readonly listeners = new Map<number, Listener>();
  /** TIME_WAIT connections in the order they entered it. */
  private readonly timeWait = new Set<TcpConnection>();
  private readonly dirty = new Set<TcpConnection>();
  /** Inside a receive batch (batch(true)): output waits for its end. */
  private batching = false;
  private active = 0;
  private nextEphemeral = 49152;

  constructor(
    readonly ip: TcpIpLayer,
    readonly localAddr: () => IpAddr,
    cfg: TcpConfig,
  ) {
    this.cfg = resolve(cfg);
    // The hash key: from `random` when the OS gives one; else mixed with the boot time (fractional
    // µs on the real clock), which differs per run but is no cryptographic secret.
    this.secret = (this.cfg.random() ^ Math.floor((ip.now() % 1) * 0x1_0000_0000) ^ Math.floor(ip.now())) >>> 0;
  }

  private readonly secret: number;

  /** Connections in any state but CLOSED (TIME_WAIT included). */
  get size(): number {
    return this.conns.size;
  }

  /** Connections counted against maxConnections (all but TIME_WAIT). */
  get activeCount(): number {
    return this.active;
  }

  /** One row per connection, for stats. */
  connections(): Array<{ state: TcpState; local: number; remote: string; remotePort: number }> {
    return [...this.conns.values()].map((c) => ({ state: c.state, local: c.localPort, remote: String(c.remoteAddr), remotePort: c.remotePort }));
  }

  /** Listen on `port` (1..65535). Throws if it is taken or out of range: a caller's bug. */
  listen(port: number, opts: TcpListenOptions): TcpListener {
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`tcp port ${port} out of range 1..65535`);
    if (this.listeners.has(port)) throw new Error(`tcp port ${port} in use`);
    const l: Listener = { port, backlog: opts.backlog ?? this.cfg.backlog, onAccept: opts.onAccept, halfOpen: new Set() };
    this.listeners.set(port, l);
    return {
      port,
      close: () => {
        if (this.listeners.get(port) === l) this.listeners.delete(port);
        for (const c of [...l.halfOpen]) c.abort();
      },
    };
  }

  /** Active open. Throws when maxConnections are in use or no ephemeral port is free. */
  connect(dst: IpAddr, dstPort: number, handler: TcpHandler, srcPort = 0): TcpConnection {
    if (!Number.isInteger(dstPort) || dstPort < 1 || dstPort > 0xffff) throw new RangeError(`tcp destination port ${dstPort} out of range 1..65535`);
    if (this.active >= this.cfg.maxConnections) throw new Error('tcp: too many connections');
    let port = srcPort;
    if (port === 0) {
      for (let i = 0; i < 16384 && port === 0; i++) {
        const cand = this.nextEphemeral;
        this.nextEphemeral = cand === 0xffff ? 49152 : cand + 1;
        if (!this.conns.has(key(dst, dstPort, cand)) && !this.listeners.has(cand)) port = cand;
      }
      if (port === 0) throw new Error('tcp: no free ephemeral port');
    } else if (this.conns.has(key(dst, dstPort, port))) {
      throw new Error(`tcp: connection to ${String(dst)}:${dstPort} from port ${port} exists`);
    }
    const c = new TcpConnection(this, dst, dstPort, port, 'SYN_SENT', this.iss(dst, dstPort, port));
    c.handler = handler;
    this.add(c);
    this.counters.activeOpens++;
    this.flush(c);
    return c;
  }

  /**
   * Ingress: one TCP segment (exactly the IP payload) from `src` to `dst`, with the unfolded
   * pseudo-header sum for it. The IP layer has checked the addresses are a unicast pair.
   * Returns undefined when handled, else the drop reason (or the WireError of a malformed segment).
   */
  process(src: IpAddr, dst: IpAddr, l4: Uint8Array, pseudoSum: number): TcpDropReason | WireError | undefined {
    void dst;
    const p = TcpPacket.checked(l4, pseudoSum);
    if (isWireError(p)) return this.dropMalformed(p);
    const seg = TcpRepr.parse(p);
    if (isWireError(seg)) return this.dropMalformed(seg);
    this.counters.rxSegments++;
    if (seg.srcPort === 0 || seg.dstPort === 0) return this.drop('port-zero');
    const c = this.conns.get(key(src, seg.srcPort, seg.dstPort));
    let verdict: TcpDropReason | undefined;
    if (c !== undefined) {
      verdict = c.process(seg);
      // A SYN that reopens a TIME_WAIT connection (RFC 9293 3.10.7.4, RFC 6191) starts afresh.
      if (verdict === undefined && c.state === 'CLOSED' && c.reopenWith !== undefined) verdict = this.processNew(src, seg);
    } else {
      verdict = this.processNew(src, seg);
    }
    if (!this.batching) this.flushAll();
    return verdict === undefined ? undefined : this.drop(verdict);
  }

  private processNew(src: IpAddr, seg: TcpRepr): TcpDropReason | undefined {
    const f = seg.flags;
    if (f & TcpFlag.Rst) return 'no-connection'; // never answer a RST
    const l = this.listeners.get(seg.dstPort);
    if (l === undefined || !(f & TcpFlag.Syn)) {
      this.sendResetFor(src, seg);
      return l === undefined && f & TcpFlag.Syn ? 'no-listener' : 'no-connection';
    }
    if (f & (TcpFlag.Ack | TcpFlag.Fin)) {
      if (f & TcpFlag.Ack) this.sendResetFor(src, seg);
      return 'bad-flags';
    }
    if (l.halfOpen.size >= l.backlog) {
      const oldest = l.halfOpen.values().next().value;
      if (oldest !== undefined) {
        this.counters.synEvicted++;
        oldest.abort();
      }
    }
    if (this.active >= this.cfg.maxConnections) {
      this.sendResetFor(src, seg);
      return 'too-many-connections';
    }
    const c = new TcpConnection(this, src, seg.srcPort, seg.dstPort, 'SYN_RECEIVED', this.iss(src, seg.srcPort, seg.dstPort));
    c.listener = l;
    c.acceptSyn(seg);
    l.halfOpen.add(c);
    this.add(c);
    this.counters.passiveOpens++;
    this.flush(c);
    return undefined;
  }

  /** RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock, F a keyed hash (FNV-1a here). */
  private iss(remote: IpAddr, remotePort: number, localPort: number): number {
    let h = this.secret;
    const text = `${String(remote)}|${remotePort}|${localPort}`;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (Math.floor(this.ip.now() / 4) + (h >>> 0)) >>> 0;
  }

  /**
   * A batch of received frames begins or ends (the socket set's batch()). Inside one, output
   * waits for the end: the batch's segments are acknowledged by one ACK per connection, as a
   * receiver behind GRO does, instead of one per second segment (RFC 9293 3.8.6.3 allows
   * the wait; the ACK still goes out as the batch ends, before the processor does anything else).
   */
  batch(open: boolean): void {
    this.batching = open;
    if (!open) this.flushAll();
  }

  /** Run due timers and send what is queued (the clock is the IP layer's; `_now` is the socket set's). */
  poll(_now?: number): void {
    const now = this.ip.now();
    for (const c of [...this.conns.values()]) c.onTimer(now);
    this.flushAll();
  }

  /** When poll() next has work, or undefined. */
  pollAt(): number | undefined {
    if (this.dirty.size > 0) return this.ip.now();
    if (this.conns.size === 0) return undefined;
    let at: number | undefined;
    for (const c of this.conns.values()) {
      const t = c.nextDeadline();
      if (t !== undefined && (at === undefined || t < at)) at = t;
    }
    return at;
  }

  /** <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (RFC 9293 3.10.7.1). */
  sendResetFor(dst: IpAddr, seg: TcpRepr): void {
    const len = seg.payload.length + (seg.flags & TcpFlag.Syn ? 1 : 0) + (seg.flags & TcpFlag.Fin ? 1 : 0);
    const r =
      seg.flags & TcpFlag.Ack
        ? new TcpRepr(seg.dstPort, seg.srcPort, seg.ackNum, 0, TcpFlag.Rst, 0)
        : new TcpRepr(seg.dstPort, seg.srcPort, 0, add(seg.seqNum, len), TcpFlag.Rst | TcpFlag.Ack, 0);
    this.counters.resetsTx++;
    this.emit(dst, r);
  }

  /** Hand one segment to the IP layer; `fill` may write the payload into the segment first. */
  emit(dst: IpAddr, r: TcpRepr, payloadLen = r.payload.length, fill?: (payload: Uint8Array) => void): boolean {
    const hl = r.headerLen();
    const ok = this.ip.send(dst, hl + payloadLen, (l4, sum) => {
      if (fill !== undefined) {
        r.payload = l4.subarray(hl);
        fill(r.payload);
      }
      r.emit(l4, sum);
    });
    if (ok) this.counters.txSegments++;
    else this.counters.txFailed++;
    return ok;
  }

  /** Send `c`'s pending output at the end of this ingress or poll. */
  markDirty(c: TcpConnection): void {
    this.dirty.add(c);
  }

  private flush(c: TcpConnection): void {
    this.dirty.delete(c);
    if (c.state !== 'CLOSED') c.output(this.ip.now());
  }

  private flushAll(): void {
    if (this.dirty.size === 0) return; // the usual case, with no array made for it
    for (const c of [...this.dirty]) this.flush(c);
  }

  private add(c: TcpConnection): void {
    this.conns.set(key(c.remoteAddr, c.remotePort, c.localPort), c);
    this.active++;
  }

  /** Called by a connection entering TIME_WAIT: it stops counting against maxConnections. */
  enteredTimeWait(c: TcpConnection): void {
    this.active--;
    this.timeWait.add(c);
    while (this.timeWait.size > this.cfg.timeWaitMax) {
      const oldest = this.timeWait.values().next().value!;
      this.counters.timeWaitEvicted++;
      oldest.destroy('closed');
    }
  }

  /** Called once by a connection that reached CLOSED. */
  removed(c: TcpConnection, wasTimeWait: boolean): void {
    const k = key(c.remoteAddr, c.remotePort, c.localPort);
    if (this.conns.get(k) === c) this.conns.delete(k);
    if (wasTimeWait) this.timeWait.delete(c);
    else this.active--;
    c.listener?.halfOpen.delete(c);
    this.dirty.delete(c);
  }

  /** Count a drop decided by the IP glue (e.g. 'not-unicast'). */
  drop(reason: TcpDropReason): TcpDropReason {
    this.counters.drops[reason]++;
    return reason;
  }

  private dropMalformed(e: WireError): WireError {
    this.counters.drops.malformed++;
    return e;
  }
}

function key(addr: IpAddr, port: number, localPort: number): string {
  return `${String(addr)}|${port}|${localPort}`;
}

/** One connection (RFC 9293's TCB). The application talks to it through send/close/pause/resume. */
export class TcpConnection {
  handler: TcpHandler = {};
  /** The listener that accepted it, while half-open. */
  listener: Listener | undefined;
  /** A SYN that arrived in TIME_WAIT and may open a new incarnation. */
  reopenWith: TcpRepr | undefined;

  // Send sequence space (RFC 9293 3.3.1).
  private readonly iss: number;
  private sndUna: number;
  private sndNxt: number;
  /** Highest sequence number sent + 1 (SND.NXT moves back on a retransmission timeout). */
  private sndMax: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private sndWscale = 0;
  private sndMss: number;
  private readonly txBuf: ByteRing;
  /** Sequence number of txBuf's first byte. */
  private txSeq: number;
  private closeRequested = false;

  // Receive sequence space.
  private rcvNxt = 0;
  private rcvWscale = 0;
  private readonly rxBuf: ByteRing;
  private ooo: OooSegment[] = [];
  private paused = false;
  /** Right edge of the window we last advertised. */
  private rcvAdvEdge = 0;
  private peerFinished = false;

  // Congestion control (RFC 5681) and recovery (RFC 6582).
  private cwnd: number;
  private ssthresh = 0x7fff_ffff;
  private dupAcks = 0;
  private recover: number | undefined;

  // RTO (RFC 6298).
  private srtt: number | undefined;
  private rttvar = 0;
  private rto: number;
  private retries = 0;
  private rttSeq: number | undefined;
  private rttStart = 0;

  // Timers (absolute µs, or undefined).
  private rtxAt: number | undefined;
  private ackAt: number | undefined;
  private stateAt: number | undefined;
  private retryAt: number | undefined;
  private ackNow = false;
  private segsUnacked = 0;
  private wantWritable = false;

  constructor(
    private readonly layer: TcpLayer,
    readonly remoteAddr: IpAddr,
    readonly remotePort: number,
    readonly localPort: number,
    public state: TcpState,
    iss: number,
  ) {
    const cfg = layer.cfg;
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.txSeq = add(iss, 1);
    this.txBuf = new ByteRing(cfg.txBuffer);
    this.rxBuf = new ByteRing(cfg.rxBuffer);
    this.sndMss = Math.min(IPV4_DEFAULT_MSS, cfg.mss);
    this.cwnd = INITIAL_CWND_SEGMENTS * cfg.mss;
    this.rto = cfg.rtoInitialUs;
    this.rcvWscale = scaleFor(cfg.rxBuffer);
  }

  /** Bytes send() would take now. */
  get sendSpace(): number {
    return this.canSend() ? this.txBuf.free : 0;
  }

  /** Bytes queued to send or sent and not yet acknowledged. */
  get queued(): number {
    return this.txBuf.length;
  }

  /** Queue bytes to send; returns how many were taken (fewer when the buffer is full: onWritable follows). */
  send(data: Uint8Array): number {
    if (!this.canSend()) return 0;
    const n = this.txBuf.write(data);
    if (n < data.length) this.wantWritable = true;
    if (n > 0) this.layer.markDirty(this);
    return n;
  }

  /** No more data from us: FIN after what is queued. The peer may still send until it closes. */
  close(): void {
    if (this.closeRequested || this.state === 'CLOSED') return;
    this.closeRequested = true;
    if (this.state === 'SYN_SENT') return this.destroy('closed');
    this.layer.markDirty(this);
  }

  /** Send RST and forget the connection. */
  abort(): void {
    if (this.state === 'CLOSED') return;
    if (this.state !== 'SYN_SENT' && this.state !== 'TIME_WAIT') {
      this.layer.counters.resetsTx++;
      this.layer.emit(this.remoteAddr, new TcpRepr(this.localPort, this.remotePort, this.sndNxt, 0, TcpFlag.Rst, 0));
    }
    this.destroy('aborted');
  }

  /** Stop onData: bytes collect in the receive buffer and the advertised window shrinks (flow control). */
  pause(): void {
    this.paused = true;
  }

  /** Deliver what collected while paused and reopen the window. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.drainRx();
    this.layer.markDirty(this);
  }

  // ---- ingress ----

  /** The first SYN of a passive open. */
  acceptSyn(seg: TcpRepr): void {
    this.rcvNxt = add(seg.seqNum, 1);
    this.rcvAdvEdge = this.rcvNxt;
    this.applySynOptions(seg.options);
    this.sndWnd = seg.window; // never scaled in a SYN
    this.sndWl1 = seg.seqNum;
  }

  private applySynOptions(o: TcpOptions): void {
    this.sndMss = Math.max(64, Math.min(o.mss ?? IPV4_DEFAULT_MSS, this.layer.cfg.mss));
    if (o.windowScale !== undefined) {
      this.sndWscale = o.windowScale;
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.cwnd = INITIAL_CWND_SEGMENTS * this.sndMss;
  }

  /** One segment for this connection; returns a drop reason or undefined when handled. */
  process(seg: TcpRepr): TcpDropReason | undefined {
    const now = this.layer.ip.now();
    const f = seg.flags;
    if (f & TcpFlag.Rst) this.layer.counters.resetsRx++;
    if (this.state === 'SYN_SENT') return this.processSynSent(seg);

    // SYN_RECEIVED: the peer's SYN again (our SYN-ACK was lost): answer it again.
    if (this.state === 'SYN_RECEIVED' && f & TcpFlag.Syn && !(f & TcpFlag.Ack) && add(seg.seqNum, 1) === this.rcvNxt) {
      this.sndNxt = this.iss;
      this.layer.markDirty(this);
      return undefined;
    }
    // TIME_WAIT: a new SYN beyond the old connection's sequence space opens a new one.
    if (this.state === 'TIME_WAIT' && f & TcpFlag.Syn && !(f & (TcpFlag.Ack | TcpFlag.Rst)) && lt(this.rcvNxt, seg.seqNum)) {
      this.reopenWith = seg;
      this.destroy('closed');
      return undefined;
    }

    const segLen = seg.payload.length + (f & TcpFlag.Syn ? 1 : 0) + (f & TcpFlag.Fin ? 1 : 0);
    if (!this.acceptable(seg.seqNum, segLen)) {
      if (!(f & TcpFlag.Rst)) this.ackNow = true;
      this.layer.markDirty(this);
      return 'out-of-window';
    }
    if (f & TcpFlag.Rst) {
      if (seg.seqNum !== this.rcvNxt) {
        this.ackNow = true; // challenge ACK: a blind RST must hit RCV.NXT exactly
        this.layer.markDirty(this);
        return 'rst-challenged';
      }
      this.destroy('reset'); // a half-open passive connection has no handler yet; an active one hears 'refused'
      return undefined;
    }
    if (f & TcpFlag.Syn) {
      this.ackNow = true;
      this.layer.markDirty(this);
      return 'syn-challenged';
    }
    if (!(f & TcpFlag.Ack)) return 'no-ack';

    if (this.state === 'SYN_RECEIVED') {
      if (!(lt(this.sndUna, seg.ackNum) && le(seg.ackNum, this.sndMax))) {
        this.layer.sendResetFor(this.remoteAddr, seg);
        return 'bad-ack';
      }
      this.setState('ESTABLISHED');
      this.layer.counters.established++;
      this.listener?.halfOpen.delete(this);
      const l = this.listener;
      this.listener = undefined;
      this.sndWl1 = seg.seqNum;
      this.sndWl2 = seg.ackNum;
      this.sndWnd = seg.window << this.sndWscale;
      l?.onAccept(this);
      if (this.isClosed()) return undefined;
    }
    const ackVerdict = this.processAck(seg, now);
    if (ackVerdict !== undefined) return ackVerdict;
    if (this.state === 'CLOSED') return undefined;
    if (this.state === 'TIME_WAIT') {
      if (f & TcpFlag.Fin) {
        this.ackNow = true; // their FIN again: our ACK was lost
        this.stateAt = now + 2 * this.layer.cfg.mslUs;
        this.layer.markDirty(this);
      }
      return undefined;
    }
    this.processText(seg, now);
    if (this.ackNow || this.retryAt !== undefined) this.layer.markDirty(this);
    return undefined;
  }

  private processSynSent(seg: TcpRepr): TcpDropReason | undefined {
    const f = seg.flags;
    if (f & TcpFlag.Ack && !(lt(this.iss, seg.ackNum) && le(seg.ackNum, this.sndMax))) {
      if (!(f & TcpFlag.Rst)) this.layer.sendResetFor(this.remoteAddr, seg);
      return 'bad-ack';
    }
    if (f & TcpFlag.Rst) {
      if (!(f & TcpFlag.Ack)) return 'no-ack';
      this.destroy('reset'); // connection refused
      return undefined;
    }
    if (!(f & TcpFlag.Syn)) return 'no-ack';
    this.rcvNxt = add(seg.seqNum, 1);
    this.rcvAdvEdge = this.rcvNxt;
    this.applySynOptions(seg.options);
    this.sndWl1 = seg.seqNum;
    if (f & TcpFlag.Ack) {
      this.sndWnd = seg.window; // never scaled in a SYN-ACK either (RFC 7323 2.2)
      this.sndWl2 = seg.ackNum;
      this.newAck(seg.ackNum, this.layer.ip.now());
      this.setState('ESTABLISHED');
      this.layer.counters.established++;
      this.ackNow = true;
      this.layer.markDirty(this);
      this.handler.onConnect?.(this);
    } else {
      // Simultaneous open (RFC 9293 3.5 figure 8): SYN-ACK from here.
      this.sndWnd = seg.window;
      this.setState('SYN_RECEIVED');
      this.sndNxt = this.iss;
      this.layer.markDirty(this);
    }
    return undefined;
  }

  /** RFC 9293 3.10.7.4 first check: is any of the segment inside our receive window? */
  private acceptable(seq: number, segLen: number): boolean {
    const wnd = this.rcvWindow();
    const end = add(this.rcvNxt, Math.max(wnd, diff(this.rcvAdvEdge, this.rcvNxt)));
    const inWnd = (s: number): boolean => le(this.rcvNxt, s) && lt(s, end);
    if (segLen === 0) return wnd === 0 && this.rcvAdvEdge === this.rcvNxt ? seq === this.rcvNxt : inWnd(seq);
    if (end === this.rcvNxt) return false;
    return inWnd(seq) || inWnd(add(seq, segLen - 1));
  }

  private processAck(seg: TcpRepr, now: number): TcpDropReason | undefined {
    const ack = seg.ackNum;
    if (lt(this.sndMax, ack)) {
      this.ackNow = true;
      this.layer.markDirty(this);
      return 'ack-unsent';
    }
    const wnd = seg.window << this.sndWscale;
    if (lt(this.sndUna, ack)) {
      this.newAck(ack, now);
    } else if (
      ack === this.sndUna &&
      this.sndUna !== this.sndMax &&
      seg.payload.length === 0 &&
      !(seg.flags & (TcpFlag.Syn | TcpFlag.Fin)) &&
      wnd === this.sndWnd
    ) {
      this.duplicateAck();
    }
    // Window update (RFC 9293 3.10.7.4, SND.WL1/SND.WL2 rule).
    if (lt(this.sndWl1, seg.seqNum) || (this.sndWl1 === seg.seqNum && le(this.sndWl2, ack))) {
      if (wnd > this.sndWnd) this.layer.markDirty(this);
      this.sndWnd = wnd;
      this.sndWl1 = seg.seqNum;
      this.sndWl2 = ack;
    }
    return undefined;
  }

  /** ACK of new data: free the send buffer, sample the RTT, grow cwnd, manage the RTO timer. */
  private newAck(ack: number, now: number): void {
    let acked = diff(ack, this.sndUna);
    if (this.sndUna === this.iss) acked--; // our SYN is acknowledged, it carried no buffer byte
    this.sndUna = ack;
    if (lt(this.sndNxt, ack)) this.sndNxt = ack;
    const dataAcked = Math.min(Math.max(0, diff(ack, this.txSeq)), this.txBuf.length);
    if (dataAcked > 0) {
      this.txBuf.consume(dataAcked);
      this.txSeq = add(this.txSeq, dataAcked);
    }
    if (this.rttSeq !== undefined && le(this.rttSeq, ack)) {
      this.sampleRtt(now - this.rttStart);
      this.rttSeq = undefined;
    }
    this.retries = 0;
    // Congestion control.
    if (this.recover !== undefined) {
      if (le(this.recover, ack)) {
        this.cwnd = this.ssthresh; // full ACK: leave fast recovery
        this.recover = undefined;
      } else {
        this.retransmitFirst(now); // partial ACK (RFC 6582): the next hole, at once
        this.cwnd = Math.max(this.sndMss, this.cwnd - Math.max(0, acked) + this.sndMss);
      }
    } else if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(Math.max(0, acked), this.sndMss);
    } else {
      this.cwnd += Math.max(1, Math.floor((this.sndMss * this.sndMss) / this.cwnd));
    }
    this.dupAcks = 0;
    this.rtxAt = this.sndUna === this.sndMax ? undefined : now + this.rto;
    // Our FIN acknowledged?
    if (this.finSent() && ack === add(this.finSeq(), 1)) {
      if (this.state === 'FIN_WAIT_1') {
        this.setState('FIN_WAIT_2');
        this.stateAt = now + this.layer.cfg.finWait2Us;
      } else if (this.state === 'CLOSING') {
        this.enterTimeWait(now);
      } else if (this.state === 'LAST_ACK') {
        this.destroy('closed');
        return;
      }
    }
    if (this.wantWritable && this.txBuf.free > 0 && this.canSend()) {
      this.wantWritable = false;
      this.handler.onWritable?.(this);
    }
    if (this.txBuf.length > 0 || this.closeRequested) this.layer.markDirty(this);
  }

  private duplicateAck(): void {
    this.dupAcks++;
    const now = this.layer.ip.now();
    if (this.dupAcks === DUPACK_THRESHOLD && this.recover === undefined) {
      // Fast retransmit (RFC 5681 3.2).
      const flight = diff(this.sndMax, this.sndUna);
      this.ssthresh = Math.max(flight >> 1, 2 * this.sndMss);
      this.cwnd = this.ssthresh + DUPACK_THRESHOLD * this.sndMss;
      this.recover = this.sndMax;
      this.layer.counters.fastRetransmits++;
      this.retransmitFirst(now);
    } else if (this.dupAcks > DUPACK_THRESHOLD) {
      this.cwnd += this.sndMss; // each further dup ACK: a segment has left the network
      this.layer.markDirty(this);
    }
  }

  /** Resend the first unacknowledged segment now, without moving SND.NXT. */
  private retransmitFirst(now: number): void {
    this.layer.counters.retransmits++;
    this.rttSeq = undefined; // Karn: no sample from a retransmitted range
    const end = this.sndNxt;
    this.sendRange(this.sndUna, Math.min(this.sndMss, diff(end, this.sndUna)), now);
    this.rtxAt = now + this.rto;
  }

  private processText(seg: TcpRepr, now: number): void {
    const f = seg.flags;
    const receiving = this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2';
    if (!receiving) return; // data after the peer's FIN: ignored (RFC 9293 3.10.7.4, seventh)
    let seq = seg.seqNum;
    let data = seg.payload;
    let fin = (f & TcpFlag.Fin) !== 0;
    const skip = diff(this.rcvNxt, seq);
    if (skip > 0) {
      // Overlaps what we have: keep the new part.
      if (skip >= data.length) {
        if (!(fin && skip === data.length)) {
          this.ackNow = true; // a pure duplicate: tell them where we are
          return;
        }
        data = data.subarray(data.length);
      } else {
        data = data.subarray(skip);
      }
      seq = this.rcvNxt;
    }
    const room = this.rcvWindowAt(seq);
    if (data.length > room) {
      data = data.subarray(0, Math.max(0, room));
      fin = false;
    }
    if (seq !== this.rcvNxt) {
      this.queueOutOfOrder(seq, data, fin);
      this.ackNow = true; // a duplicate ACK tells the sender about the hole at once
      return;
    }
    if (data.length > 0) {
      this.deliver(data);
      this.segsUnacked++;
    }
    if (fin) this.receiveFin(now);
    this.pullOutOfOrder(now);
    if (this.ooo.length > 0 || this.segsUnacked >= 2 || fin || (data.length > 0 && data.length < this.layer.cfg.mss && this.paused)) {
      this.ackNow = true;
    } else if (data.length > 0 && this.ackAt === undefined) {
      this.ackAt = now + this.layer.cfg.delayedAckUs;
    }
  }

  private queueOutOfOrder(seq: number, data: Uint8Array, fin: boolean): void {
    if (data.length === 0 && !fin) return;
    this.layer.counters.outOfOrder++;
    if (this.ooo.some((s) => s.seq === seq && s.data.length >= data.length)) return;
    if (this.ooo.length >= this.layer.cfg.oooMax) {
      this.layer.counters.drops['ooo-full']++;
      return;
    }
    this.ooo.push({ seq, data: data.slice(), fin });
    this.ooo.sort((a, b) => diff(a.seq, b.seq));
  }

  private pullOutOfOrder(now: number): void {
    while (this.ooo.length > 0) {
      const s = this.ooo[0]!;
      const skip = diff(this.rcvNxt, s.seq);
      if (skip < 0) return; // still a hole before it
      this.ooo.shift();
      if (skip < s.data.length) {
        const data = s.data.subarray(skip, Math.min(s.data.length, skip + this.rcvWindow()));
        this.deliver(data);
        if (s.fin && skip + data.length === s.data.length) this.receiveFin(now);
      } else if (s.fin && skip === s.data.length && !this.peerFinished) {
        this.receiveFin(now);
      }
    }
  }

  private deliver(data: Uint8Array): void {
    this.rcvNxt = add(this.rcvNxt, data.length);
    if (this.paused || this.rxBuf.length > 0 || this.handler.onData === undefined) {
      this.rxBuf.write(data);
      if (!this.paused) this.drainRx();
    } else {
      this.handler.onData(this, data);
    }
  }

  private drainRx(): void {
    while (!this.paused && this.rxBuf.length > 0 && this.handler.onData !== undefined && this.state !== 'CLOSED') {
      const chunk = this.rxBuf.peekContiguous(this.rxBuf.length);
      const n = chunk.length;
      this.handler.onData(this, chunk);
      this.rxBuf.consume(n);
    }
    if (!this.paused && this.rxBuf.length === 0 && this.peerFinished && this.pendingEnd) {
      this.pendingEnd = false;
      this.handler.onEnd?.(this);
    }
  }

  private pendingEnd = false;

  private receiveFin(now: number): void {
    if (this.peerFinished) return;
    this.peerFinished = true;
    this.rcvNxt = add(this.rcvNxt, 1);
    this.ackNow = true;
    if (this.state === 'ESTABLISHED') this.setState('CLOSE_WAIT');
    else if (this.state === 'FIN_WAIT_1') this.setState('CLOSING');
    this.pendingEnd = true;
    this.drainRx(); // onEnd before onClose
    if (this.state === 'FIN_WAIT_2') this.enterTimeWait(now);
  }

  // ---- egress ----

  private canSend(): boolean {
    return !this.closeRequested && (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED' || this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT');
  }

  private finSeq(): number {
    return add(this.txSeq, this.txBuf.length);
  }

  private finSent(): boolean {
    return this.closeRequested && lt(this.finSeq(), this.sndMax);
  }

  /** Free receive window from RCV.NXT. */
  private rcvWindow(): number {
    return this.rxBuf.free;
  }

  /** Room for data starting at `seq` (>= RCV.NXT). */
  private rcvWindowAt(seq: number): number {
    return this.rcvWindow() - diff(seq, this.rcvNxt);
  }

  /** Send whatever is due: SYN, data within the windows, FIN, or an ACK. */
  output(now: number): void {
    if (this.state === 'CLOSED' || this.state === 'TIME_WAIT') {
      if (this.state === 'TIME_WAIT' && this.ackNow) this.sendAck();
      return;
    }
    if (this.retryAt !== undefined && this.retryAt > now) return;
    this.retryAt = undefined;
    if (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED') {
      if (this.sndNxt === this.iss) {
        const synAck = this.state === 'SYN_RECEIVED';
        const opts: TcpOptions = { mss: this.layer.cfg.mss };
        if (!synAck || this.sndWscale > 0 || this.rcvWscale > 0) opts.windowScale = this.rcvWscale;
        if (synAck && opts.windowScale === undefined) this.rcvWscale = 0;
        const r = new TcpRepr(this.localPort, this.remotePort, this.iss, synAck ? this.rcvNxt : 0, TcpFlag.Syn | (synAck ? TcpFlag.Ack : 0), Math.min(this.rcvWindow(), MAX_WINDOW_FIELD), opts);
        if (!this.transmit(r, now)) return;
        this.sndNxt = add(this.iss, 1);
        if (lt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
        this.rtxAt ??= now + this.rto;
      }
      if (this.state === 'SYN_RECEIVED' && this.ackNow) this.sendAck();
      return;
    }
    let sent = false;
    for (;;) {
      const dataEnd = this.finSeq();
      const wndEdge = add(this.sndUna, Math.max(0, Math.min(this.sndWnd, this.cwnd)));
      if (lt(this.sndNxt, dataEnd)) {
        const unsent = diff(dataEnd, this.sndNxt);
        const room = diff(wndEdge, this.sndNxt);
        let len = Math.min(this.sndMss, unsent, room);
        if (len <= 0) {
          if (this.sndWnd === 0) this.rtxAt ??= now + this.rto; // persist
          break;
        }
        // Sender-side silly window avoidance (RFC 9293 3.8.6.2.1): no runt while data is in flight.
        if (len < this.sndMss && len < unsent && this.sndUna !== this.sndMax) break;
        len = Math.max(0, len);
        if (!this.sendRange(this.sndNxt, len, now)) return;
        sent = true;
        continue;
      }
      if (this.closeRequested && this.sndNxt === dataEnd) {
        if (!this.sendRange(this.sndNxt, 0, now)) return;
        sent = true;
      }
      break;
    }
    if (this.closeRequested && (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT') && this.finSent()) {
      this.setState(this.state === 'ESTABLISHED' ? 'FIN_WAIT_1' : 'LAST_ACK');
    }
    // Window update: tell the peer when the window we can offer has grown by a segment or more.
    if (!sent && diff(add(this.rcvNxt, this.rcvWindow()), this.rcvAdvEdge) >= Math.min(this.layer.cfg.mss * 2, this.layer.cfg.rxBuffer / 2)) {
      this.ackNow = true;
    }
    if (!sent && this.ackNow) this.sendAck();
  }

  /** Send [seq, seq+len) from the buffer, with FIN if it ends at the FIN. */
  private sendRange(seq: number, want: number, now: number): boolean {
    const offset = diff(seq, this.txSeq);
    const len = Math.max(0, Math.min(want, this.txBuf.length - offset));
    const end = add(seq, len);
    const fin = this.closeRequested && end === this.finSeq();
    const r = new TcpRepr(this.localPort, this.remotePort, seq, this.rcvNxt, TcpFlag.Ack | (fin ? TcpFlag.Fin : 0), 0);
    if (len > 0 && end === this.finSeq()) r.flags |= TcpFlag.Psh;
    const fill = len > 0 ? (payload: Uint8Array): void => this.txBuf.copyOut(offset, len, payload, 0) : undefined;
    if (!this.transmit(r, now, len, fill)) return false;
    const next = add(end, fin ? 1 : 0);
    const fresh = le(this.sndMax, seq);
    if (lt(this.sndNxt, next)) this.sndNxt = next;
    if (lt(this.sndMax, next)) {
      if (this.rttSeq === undefined && fresh) {
        this.rttSeq = next;
        this.rttStart = now;
      }
      this.sndMax = next;
    }
    this.rtxAt ??= now + this.rto;
    return true;
  }

  private sendAck(): void {
    const r = new TcpRepr(this.localPort, this.remotePort, this.sndNxt, this.rcvNxt, TcpFlag.Ack, 0);
    this.transmit(r, this.layer.ip.now());
  }

  /** Fill in the ACK-side fields (window, ACK number) and send; on refusal retry soon. */
  private transmit(r: TcpRepr, now: number, payloadLen = 0, fill?: (payload: Uint8Array) => void): boolean {
    const syn = (r.flags & TcpFlag.Syn) !== 0;
    const wnd = this.rcvWindow();
    r.window = syn ? Math.min(wnd, MAX_WINDOW_FIELD) : Math.min(wnd >>> this.rcvWscale, MAX_WINDOW_FIELD);
    if (r.flags & TcpFlag.Ack) r.ackNum = this.rcvNxt;
    if (!this.layer.emit(this.remoteAddr, r, payloadLen, fill)) {
      this.retryAt = now + TX_RETRY_US;
      return false;
    }
    const advertised = syn ? r.window : r.window << this.rcvWscale;
    const edge = add(this.rcvNxt, advertised);
    if (lt(this.rcvAdvEdge, edge)) this.rcvAdvEdge = edge;
    if (r.flags & TcpFlag.Ack) {
      this.ackNow = false;
      this.ackAt = undefined;
      this.segsUnacked = 0;
    }
    return true;
  }

  // ---- timers ----

  nextDeadline(): number | undefined {
    let at: number | undefined;
    for (const t of [this.rtxAt, this.ackAt, this.stateAt, this.retryAt]) if (t !== undefined && (at === undefined || t < at)) at = t;
    return at;
  }

  onTimer(now: number): void {
    if (this.stateAt !== undefined && this.stateAt <= now) {
      this.stateAt = undefined;
      if (this.state === 'TIME_WAIT') return this.destroy('closed');
      if (this.state === 'FIN_WAIT_2') return this.destroy('timeout');
    }
    if (this.retryAt !== undefined && this.retryAt <= now) this.layer.markDirty(this);
    if (this.ackAt !== undefined && this.ackAt <= now) {
      this.ackAt = undefined;
      this.ackNow = true;
      this.layer.markDirty(this);
    }
    if (this.rtxAt !== undefined && this.rtxAt <= now) {
      this.rtxAt = undefined;
      this.retransmitTimeout(now);
    }
  }

  private retransmitTimeout(now: number): void {
    const synState = this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED';
    if (!synState && this.sndWnd === 0 && lt(this.sndUna, this.finSeq())) {
      // The persist timer (RFC 9293 3.8.6.1): probe a zero window with one byte, backing off, never giving up.
      this.layer.counters.windowProbes++;
      this.sendRange(this.sndUna, 1, now);
      this.rto = Math.min(this.rto * 2, this.layer.cfg.rtoMaxUs);
      this.rtxAt = now + this.rto;
      return;
    }
    if (this.sndUna === this.sndMax && !synState) return;
    this.retries++;
    if (this.retries > (synState ? SYN_RETRIES : this.layer.cfg.maxRetries)) {
      this.layer.counters.timeouts++;
      if (!synState) {
        this.layer.counters.resetsTx++;
        this.layer.emit(this.remoteAddr, new TcpRepr(this.localPort, this.remotePort, this.sndNxt, 0, TcpFlag.Rst, 0));
      }
      return this.destroy('timeout');
    }
    // RFC 6298 5.4-5.6: back off, resend from SND.UNA; RFC 5681 3.1: restart from one segment.
    this.layer.counters.retransmits++;
    this.rto = Math.min(this.rto * 2, this.layer.cfg.rtoMaxUs);
    this.rttSeq = undefined;
    const flight = diff(this.sndMax, this.sndUna);
    this.ssthresh = Math.max(flight >> 1, 2 * this.sndMss);
    this.cwnd = this.sndMss;
    this.recover = undefined;
    this.dupAcks = 0;
    this.sndNxt = this.sndUna;
    this.layer.markDirty(this);
  }

  private sampleRtt(r: number): void {
    const cfg = this.layer.cfg;
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(cfg.rtoMaxUs, Math.max(cfg.rtoMinUs, this.srtt + Math.max(1000, 4 * this.rttvar)));
  }

  /** Smoothed RTT and current RTO, µs (for stats and tests). */
  get timing(): { srtt: number | undefined; rto: number; cwnd: number; ssthresh: number; sndWnd: number } {
    return { srtt: this.srtt, rto: this.rto, cwnd: this.cwnd, ssthresh: this.ssthresh, sndWnd: this.sndWnd };
  }

  private enterTimeWait(now: number): void {
    this.setState('TIME_WAIT');
    // For the application the connection is over now; only the 4-tuple stays reserved.
    const h = this.handler;
    this.handler = {};
    h.onClose?.(this, 'closed');
    this.rtxAt = undefined;
    this.ackAt = undefined;
    this.retryAt = undefined;
    this.stateAt = now + 2 * this.layer.cfg.mslUs;
    this.layer.enteredTimeWait(this);
  }

  private isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  private setState(s: TcpState): void {
    this.state = s;
  }

  /** Forget the connection (CLOSED) and tell the application once. */
  destroy(reason: TcpCloseReason): void {
    if (this.state === 'CLOSED') return;
    const wasTimeWait = this.state === 'TIME_WAIT';
    this.state = 'CLOSED';
    this.rtxAt = this.ackAt = this.stateAt = this.retryAt = undefined;
    this.layer.removed(this, wasTimeWait);
    // Every connection with a handler hears its end, a simultaneous open's SYN_RECEIVED included.
    this.handler.onClose?.(this, reason);
  }
}


// ---- the interface's TCP module (net/index.ts "Adding a protocol") ----

/** TCP's state in the socket set: the TcpLayer of this interface. */
export const TCP_SOCKETS = new SocketKey<TcpLayer>('tcp');

/** TCP over IPv4 on this interface: `net.install(tcpProtocol(cfg))` (the gpos does; the rtos does not). */
export function tcpProtocol(cfg: Partial<TcpConfig> = {}): NetProtocol {
  return {
    name: 'tcp',
    install(inner: InterfaceInner): void {
      const ip: TcpIpLayer = {
        now: inner.now,
        send: (dst, l4Len, emit) => {
          const pb = PacketBuffer.alloc(l4Len);
          const seg = pb.view();
          const to = dst as Ipv4;
          emit(seg, pseudoHeaderSum(inner.addr, to, IpProtocol.Tcp, l4Len));
          return dispatchIpv4(inner, to, IpProtocol.Tcp, pb);
        },
      };
      const layer = new TcpLayer(ip, () => inner.addr, { mss: inner.cfg.mtu - IPV4_HEADER_LEN - TCP_HEADER_LEN, ...cfg });
      inner.sockets.add(TCP_SOCKETS, layer);
      inner.ipv4Protocols.register(IpProtocol.Tcp, processTcp);
    },
  };
}

/** Ingress: one TCP segment in an IPv4 packet processIpv4 accepted. */
export function processTcp(inner: InterfaceInner, ip: Ipv4Packet, rx: RxMeta): void {
  const layer = inner.sockets.require(TCP_SOCKETS);
  const src = ip.srcAddr();
  const dst = ip.dstAddr();
  if (rx.l2Group || dst !== inner.addr) {
    layer.drop('not-unicast');
    return inner.dropRx('tcp');
  }
  const l4 = ip.payload();
  const v = layer.process(src, dst, l4, pseudoHeaderSum(src, dst, IpProtocol.Tcp, l4.length));
  if (v === undefined) return inner.handled();
  if (isWireError(v)) return inner.malformed(v);
  inner.dropRx('tcp');
}
